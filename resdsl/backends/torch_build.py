"""PyTorch backend: instantiate the generated source as an `nn.Module`.

`resdsl.build` runs exactly the code `resdsl build -o model.py` writes, so the module a user
gets in Python and the file they ship are the same program. The source is registered with
`linecache`, so tracebacks, `inspect` and torch.compile see real lines.
"""

from __future__ import annotations

import linecache
import types

from resdsl.backends.torch_source import TorchSourceGenerator
from resdsl.compiler import Network


def load_module(net: Network) -> types.ModuleType:
    """The generated source executed as a fresh Python module named after the network."""
    generator = TorchSourceGenerator(net)
    source = generator.generate()
    filename = f"<resdsl:{net.name}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    module = types.ModuleType(f"resdsl_generated_{net.name}")
    module.__file__ = filename
    exec(compile(source, filename, "exec"), module.__dict__)
    module.FACTORY = generator.factory
    return module


def instantiate(net: Network, zero_init_residual: bool = False):
    module = load_module(net)
    factory = getattr(module, module.FACTORY)
    return factory(zero_init_residual=zero_init_residual) if "zero_init_residual" in factory.__code__.co_varnames else factory()
