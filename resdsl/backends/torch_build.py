"""PyTorch backend: instantiate the generated source as an `nn.Module`.

`resdsl.build` runs exactly the code `resdsl build -o model.py` writes, so the module a user
gets in Python and the file they ship are the same program. The source is registered with
`linecache`, so tracebacks, `inspect` and torch.compile see real lines.
"""

from __future__ import annotations

import itertools
import linecache
import sys
import types

from resdsl.backends.torch_source import TorchSourceGenerator
from resdsl.compiler import Network

_LOADS = itertools.count()  # each load gets its own module name: builds never shadow each other


def load_module(net: Network) -> types.ModuleType:
    """The generated source executed as a fresh Python module named after the network."""
    generator = TorchSourceGenerator(net)
    source = generator.generate()
    filename = f"<resdsl:{net.name}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    module = types.ModuleType(f"resdsl_generated_{net.name}_{next(_LOADS)}")
    module.__file__ = filename
    # Registered so that code which imports a function's module by name finds it: torch.compile
    # does, when it inlines the generated forward from an outer frame (a wrapping module).
    sys.modules[module.__name__] = module
    exec(compile(source, filename, "exec"), module.__dict__)
    module.FACTORY = generator.factory
    return module


def instantiate(net: Network, zero_init_residual: bool = False):
    module = load_module(net)
    factory = getattr(module, module.FACTORY)
    model = factory(zero_init_residual=zero_init_residual) if "zero_init_residual" in factory.__code__.co_varnames else factory()
    model.resdsl_input_shape = tuple(net.input_shape)  # a plain attribute, not state: resdsl.export reads it
    return model
