"""The package's folders follow the pipeline, and imports only go down it.

    diagnostics, output  ->  ir  ->  frontend  ->  passes  ->  compiler  ->  analysis
        ->  backends  ->  api  ->  tools  ->  cli  ->  resdsl (the package's lazy front door)

A module may import from its own layer or any layer to its left, never to its right: the
driver never imports a tool, a pass never imports a back end. Imports inside functions count
too (a lazy import is still a dependency). The test reads the source, so it needs no torch.
"""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx

PACKAGE = Path(__file__).resolve().parent.parent / "resdsl"

LAYERS = [
    {"diagnostics", "output", "_version"},
    {"ir"},
    {"frontend"},
    {"passes"},
    {"compiler"},
    {"analysis"},
    {"backends"},
    {"api"},
    {"tools"},
    {"cli"},
    {"__init__", "__main__"},
]


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _layer(module: str) -> int:
    parts = module.split(".")
    head = parts[1].removesuffix(".py") if len(parts) > 1 else "__init__"
    for index, names in enumerate(LAYERS):
        if head in names:
            return index
    raise AssertionError(f"{module} belongs to no layer: add its folder to LAYERS")


def _imports(path: Path) -> set[str]:
    """Every `resdsl...` module `path` imports, `from resdsl import x` meaning `resdsl.x` where x
    is a module (else the package itself)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "resdsl"}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module and node.module.split(".")[0] == "resdsl":
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                is_module = (PACKAGE.parent / sub.replace(".", "/")).with_suffix(".py").exists() or (
                    PACKAGE.parent / sub.replace(".", "/")
                ).is_dir()
                found.add(sub if is_module else node.module)
    return found


def _graph() -> nx.DiGraph:
    g = nx.DiGraph()
    for path in sorted(PACKAGE.rglob("*.py")):
        if "_data" in path.parts:
            continue
        name = _module_name(path)
        g.add_node(name)
        for target in _imports(path):
            if target != name:
                g.add_edge(name, target)
    return g


def test_every_module_belongs_to_a_layer():
    for module in _graph():
        _layer(module)


def test_no_import_goes_back_up_the_pipeline():
    back = sorted(
        f"{a} (layer {_layer(a)}) imports {b} (layer {_layer(b)})"
        for a, b in _graph().edges
        if _layer(b) > _layer(a)
    )
    assert back == []


def test_no_import_cycle_between_modules():
    g = _graph()
    # a package importing its own submodules (a folder's __init__) is not a cycle of meaning
    g.remove_edges_from([(a, b) for a, b in list(g.edges) if b.startswith(a + ".") or a.startswith(b + ".")])
    assert list(nx.simple_cycles(g)) == []


def test_the_layering_test_sees_a_back_arrow(tmp_path, monkeypatch):
    """The probe can fail: a driver importing a tool is reported."""
    fake = tmp_path / "resdsl"
    (fake / "tools").mkdir(parents=True)
    (fake / "__init__.py").write_text("")
    (fake / "tools" / "__init__.py").write_text("")
    (fake / "tools" / "notebook.py").write_text("")
    (fake / "compiler.py").write_text("from resdsl.tools.notebook import network_html\n")
    monkeypatch.setattr(__import__(__name__), "PACKAGE", fake)
    edges = [(a, b) for a, b in _graph().edges if _layer(b) > _layer(a)]
    assert edges == [("resdsl.compiler", "resdsl.tools.notebook")]
