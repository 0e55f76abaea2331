"""PyTorch backend: instantiate the generated source as an `nn.Module`.

`resdsl.build` runs exactly the code `resdsl build -o model.py` writes, so the module a user
gets in Python and the file they ship are the same program. The source is registered with
`linecache`, so tracebacks, `inspect` and torch.compile see real lines, and the module in
`sys.modules` (torch.compile imports a function's module by name); both registrations last as
long as the model built from them and are removed when it is collected.
"""

from __future__ import annotations

import itertools
import linecache
import sys
import types
import weakref

from resdsl.backends.torch_source import TorchSourceGenerator
from resdsl.compiler import Network

_LOADS = itertools.count()  # each load gets its own module name: builds never shadow each other


def load_module(net: Network) -> tuple[types.ModuleType, TorchSourceGenerator]:
    """The generated source executed as a fresh Python module named after the network."""
    generator = TorchSourceGenerator(net)
    source = generator.generate()
    name = f"resdsl_generated_{net.name}_{next(_LOADS)}"
    filename = f"<resdsl:{name}>"  # unique: two builds of one spec may differ in their parameters
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    module = types.ModuleType(name)
    module.__file__ = filename
    # Registered so that code which imports a function's module by name finds it: torch.compile
    # does, when it inlines the generated forward from an outer frame (a wrapping module).
    sys.modules[name] = module
    exec(compile(source, filename, "exec"), module.__dict__)
    return module, generator


def _forget(name: str, filename: str) -> None:
    sys.modules.pop(name, None)
    linecache.cache.pop(filename, None)


def instantiate(net: Network, zero_init_residual: bool = False):
    module, generator = load_module(net)
    factory = getattr(module, generator.factory)
    model = factory(zero_init_residual=zero_init_residual) if generator.zero_init else factory()
    model.resdsl_input_shape = tuple(net.input_shape)  # a plain attribute, not state: resdsl.export reads it
    weakref.finalize(model, _forget, module.__name__, module.__file__)
    return model


def weights_from_module(net, model) -> dict:
    """`<node id>.<tensor>` -> tensor, read from a built module's state_dict via `module_path`."""
    from resdsl.backends.torch_source import module_path
    from resdsl.ir.interpret import TENSORS

    state = model.state_dict()
    out = {}
    for node in net.graph.nodes:
        path = module_path(net, node)
        for name in TENSORS:
            key = f"{path}.{name}"
            if key in state:
                out[f"{node}.{name}"] = state[key]
    return out
