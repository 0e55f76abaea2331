"""The package's folders follow the pipeline, and imports only go down it.

    diagnostics, output  ->  ir  ->  frontend  ->  passes  ->  compiler  ->  analysis
        ->  backends  ->  api  ->  tools  ->  cli  ->  resdsl (the package's lazy front door)

A module may import from its own layer or any layer to its left, never to its right: the
driver never imports a tool, a pass never imports a back end. Imports inside functions count
too (a lazy import is still a dependency). The test reads the source, so it needs no torch.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import networkx as nx

from resdsl.ir.ops import OPS

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


def _syntax_tree_readers() -> list[str]:
    """Back-end modules that import the front end or read the syntax tree the graph keeps."""
    out = [f"{a} imports {b}" for a, b in _graph().edges if a.startswith("resdsl.backends") and b.startswith("resdsl.frontend")]
    for path in sorted((PACKAGE / "backends").rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        out += [f"{_module_name(path)} reads graph[{key}]" for key in ('"definitions"', '"network"') if f"[{key}]" in text]
    return out


def test_the_back_ends_lower_from_the_ir_alone():
    """A back end reads the graph and the lowered definitions (`resdsl.ir.definitions`), never the
    syntax tree: what a statement means is decided once, by the front end, and checked."""
    assert _syntax_tree_readers() == []


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


# --- op names: the registry answers every question about an op ---------------------------------

REGISTRY = {PACKAGE / "ir" / name for name in ("ops.py", "ops_values.py", "norm_act_ops.py", "pool_gate_ops.py", "ops_attention.py")}  # one OPS, five files
_OP_ISH = re.compile(r"\bop\b|[\"']op[\"']")  # `op`, `unit.op`, `data["op"]`, `d.get("op")`
_COMPARE = (ast.Eq, ast.NotEq, ast.In, ast.NotIn)


def _op_names_in(node: ast.expr) -> list[str]:
    if isinstance(node, ast.Constant) and node.value in OPS:
        return [node.value]
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return [e.value for e in node.elts if isinstance(e, ast.Constant) and e.value in OPS]
    return []


def _op_name_comparisons(source: str) -> list[tuple[int, str]]:
    """(line, op names) of each comparison of an op with quoted op names (==, !=, in, match)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Compare):
            sides = [node.left, *node.comparators]
            for (a, b), how in zip(zip(sides, sides[1:]), node.ops):
                for named, other in ((a, b), (b, a)):
                    if isinstance(how, _COMPARE) and _op_names_in(named) and _OP_ISH.search(ast.unparse(other)):
                        found.append((node.lineno, ", ".join(_op_names_in(named))))
        elif isinstance(node, ast.Match) and _OP_ISH.search(ast.unparse(node.subject)):
            for case in node.cases:
                names = [n for p in ast.walk(case.pattern) if isinstance(p, ast.MatchValue) for n in _op_names_in(p.value)]
                if names:
                    found.append((case.pattern.lineno, ", ".join(names)))
    return sorted(found)


def test_no_op_name_is_compared_outside_the_registry():
    """A consumer asks the op's `OpDef` (a flag such as `weighted` or `joins`), never its name."""
    found = [
        f"{path.relative_to(PACKAGE.parent)}:{line}: {names}"
        for path in sorted(PACKAGE.rglob("*.py"))
        if path not in REGISTRY
        for line, names in _op_name_comparisons(path.read_text(encoding="utf-8"))
    ]
    assert found == []


def test_the_op_name_probe_sees_each_form():
    source = (
        'if data["op"] == "conv": pass\n'
        'n = sum(1 for d in ds if d.get("op") in ("linear", "block"))\n'
        'if "add" != unit.op: pass\n'
        "match op:\n"
        '    case "bn" | "relu": pass\n'
        'if ref == "input" or kind.name == "add" or unit.op == "block": pass\n'  # not op comparisons
    )
    assert _op_name_comparisons(source) == [(1, "conv"), (2, "linear"), (3, "add"), (5, "bn, relu")]


# --- sizes: modules under 500 lines, functions under 60 -----------------------------------------

MAX_MODULE_LINES = 500
MAX_FUNCTION_LINES = 60

# Known exceptions and their size today: a ratchet. A listed one may shrink (lower its number
# here) but not grow, and no new one may appear. Empty since torch_source.py and elaborate.py
# were split (torch_body.py, block_uses.py); keep it so.
OVERSIZE: dict[str, int] = {}


def _sizes(package: Path) -> dict[str, int]:
    """Each module over MAX_MODULE_LINES and each function over MAX_FUNCTION_LINES (`path:name`,
    its lines from `def` to its last line), with its size."""
    found = {}
    for path in sorted(package.rglob("*.py")):
        if "_data" in path.parts:
            continue
        text, name = path.read_text(encoding="utf-8"), str(path.relative_to(package.parent))
        if len(text.splitlines()) > MAX_MODULE_LINES:
            found[name] = len(text.splitlines())
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES:
                found[f"{name}:{node.name}"] = node.end_lineno - node.lineno + 1
    return found


def _oversize_problems(found: dict[str, int], oversize: dict[str, int] = OVERSIZE) -> list[str]:
    grown = [f"{k}: {n} lines, was {oversize[k]}" for k, n in found.items() if k in oversize and n > oversize[k]]
    new = [f"{k}: {n} lines (split it)" for k, n in found.items() if k not in oversize]
    return grown + new


def test_no_module_or_function_grows_past_its_size():
    assert _oversize_problems(_sizes(PACKAGE)) == []


def test_the_size_ratchet_sees_a_new_long_function_and_a_grown_module(tmp_path):
    fake = tmp_path / "resdsl"
    (fake / "frontend").mkdir(parents=True)
    (fake / "frontend" / "elaborate.py").write_text("x = 1\n" * 602)
    (fake / "listed.py").write_text("x = 1\n" * 550)
    (fake / "long.py").write_text("def f():\n" + "    x = 1\n" * 60)
    (fake / "short.py").write_text("def g():\n" + "    x = 1\n" * 59)
    listed = {"resdsl/frontend/elaborate.py": 601, "resdsl/listed.py": 550}
    assert _oversize_problems(_sizes(fake), listed) == [
        "resdsl/frontend/elaborate.py: 602 lines, was 601",
        "resdsl/long.py:f: 61 lines (split it)",
    ]
