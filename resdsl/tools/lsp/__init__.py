"""resdsl in editors: a Language Server Protocol server (`resdsl lsp`).

`analysis` answers the questions an editor asks (diagnostics, hover, definitions, completion,
symbols) about one document in resdsl's own terms (`Span`s, 1-based character columns) and
imports no LSP library; `server` is the pygls glue that speaks the protocol over stdio. Only the
server needs the optional extra: `pip install "resdsl[lsp]"`.
"""
