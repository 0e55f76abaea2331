"""The front end: text -> AST (`syntax`) -> IR (`elaborate`), with the registry of layer kinds
users write (`layers`), the expression language (`expressions`), each definition's bound and
named statements (`plan`) and where the grammar, prelude and bundled specs live (`resources`).

It imports from `resdsl.diagnostics` and `resdsl.ir` only (tests/test_imports.py)."""
