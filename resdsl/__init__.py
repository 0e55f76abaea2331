"""resdsl: a language and compiler for residual convolutional networks.

    import resdsl
    model = resdsl.build("resnet50")                 # a bundled spec, as an nn.Module
    net = resdsl.load("my.res", classes=10)          # the checked IR, no torch needed
    print(resdsl.generate_source(net))               # standalone PyTorch source

Every mistake in a spec raises `resdsl.ResdslError`, whose text is the rendered diagnostics.
"""

from __future__ import annotations

from resdsl.compiler import Network, compile_text, load
from resdsl.diagnostics import Diagnostic, Limits, ResdslError

__version__ = "0.1.0"


def generate_source(spec, **params) -> str:
    """Standalone PyTorch source for a spec (path, bundled name, or a loaded `Network`)."""
    from resdsl.backends.torch_source import generate_source as _generate

    net = spec if isinstance(spec, Network) else load(spec, **params)
    return _generate(net)


def build(spec, *, zero_init_residual: bool = False, limits: Limits | None = None, **params):
    """An `nn.Module` built from a spec: `build("resnet50")`, `build("cifar_resnet", n=18)`.

    `zero_init_residual` zeroes the last batch norm of each residual branch.
    """
    from resdsl.backends.torch_build import instantiate

    net = spec if isinstance(spec, Network) else load(spec, limits=limits, **params)
    return instantiate(net, zero_init_residual=zero_init_residual)


__all__ = ["build", "load", "compile_text", "generate_source", "Network", "ResdslError", "Diagnostic", "Limits"]
