"""Tools around the compiler: the language server (`lsp`), the formatter (`format`), the
syntax highlighters (`highlight`) and the notebook display (`notebook`). They may import any
stage of the pipeline; nothing in the pipeline imports them (tests/test_imports.py)."""
