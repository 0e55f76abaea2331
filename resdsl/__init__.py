"""resdsl: a language and compiler for residual convolutional networks.

    import resdsl
    model = resdsl.build("resnet50")                 # a bundled spec, as an nn.Module
    net = resdsl.load("my.res", classes=10)          # the checked IR, no torch needed
    print(resdsl.generate_source(net))               # standalone PyTorch source
    fast = resdsl.build("resnet50", compile="regional")  # each distinct block compiled once
    resdsl.export(model, "resnet50.onnx")            # its weights, for deployment (also .pt2)

Every mistake in a spec raises `resdsl.ResdslError`, whose text is the rendered diagnostics.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from resdsl.compiler import Network, compile_text, load
    from resdsl.diagnostics import Diagnostic, Limits, ResdslError

from resdsl._version import __version__

# `import resdsl` imports nothing: these load on first use. The `resdsl` command guards
# Ctrl-C from its own first module on (resdsl.cli.guard), which runs right after this one.
_LAZY = {
    "Network": "compiler", "compile_text": "compiler", "load": "compiler",
    "Diagnostic": "diagnostics", "Limits": "diagnostics", "ResdslError": "diagnostics",
    "build": "api", "export": "api", "generate_source": "api", "EXPORT_FORMATS": "api",
    "load_ipython_extension": "tools.notebook",  # `%load_ext resdsl`: the %%resdsl magic
    "attach_display": "tools.notebook",
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(f"resdsl.{_LAZY[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'resdsl' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


def _attach_to_a_running_kernel() -> None:
    """In a Jupyter kernel, `resdsl.load(...)` on a cell's last line shows the network."""
    import sys

    ipython = sys.modules.get("IPython")  # a kernel imports IPython before any user code
    shell = ipython.get_ipython() if ipython is not None else None
    if shell is not None and getattr(shell, "display_formatter", None) is not None:
        from resdsl.tools.notebook import attach_display

        attach_display(shell)


_attach_to_a_running_kernel()

__all__ = ["build", "export", "load", "compile_text", "generate_source", "Network", "ResdslError", "Diagnostic", "Limits"]
