"""The head every generated block class shares: its `class` line, docstring and `__init__`
signature (parameters, nested blocks by keyword, `downsample`, `residual`) down to
`super().__init__()`. Both block emitters write it through here, so the two kinds of class
take their arguments alike.
"""

from __future__ import annotations

from resdsl.backends.python_lines import Writer


def class_head(gen, kind, rename, attrs: dict, w: Writer) -> list:
    """Write the head of `kind`'s class to `w`; return the parameters whose defaults read others
    (the body fills them in)."""
    sig, late = gen._signature(kind, rename)
    sig = ["self", "in_channels: int"] + sig
    children = kind.definition.block_uses()  # a block in a `for` loop arrives as one nn.ModuleList
    if children:
        sig.append("*")  # nested blocks arrive built, by keyword: they may follow defaults
    sig += [f"{attrs[child.names[0]]}: nn.Module" for child in children]
    if kind.downsample_arg:
        sig.append("downsample: nn.Module | None = None")
    if kind.residual_arg:
        sig.append("residual: bool = True")
    w.line(f"class {kind.cls}(nn.Module):")
    gen._docstring(kind, w, 1, "block")
    w.line()
    head = f"def __init__({', '.join(sig)}) -> None:"
    if len(head) + 4 <= Writer.WIDTH:
        w.line(head, 1)
    else:
        w.line("def __init__(", 1)
        for part in sig:
            w.line(f"{part},", 2)
        w.line(") -> None:", 1)
    w.line("super().__init__()", 2)
    return late
