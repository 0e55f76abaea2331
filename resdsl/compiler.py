"""The front end's pipeline: spec text -> parse -> elaborate -> passes -> checked IR.

`load` is the one entry point every backend and command uses. It imports no torch, so
`resdsl check`, `draw` and `summary` start fast.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import networkx as nx

from resdsl.frontend import resources
from resdsl.frontend import zoo
from resdsl.diagnostics import Diagnostic, Limits, Reporter, ResdslError, SourceMap, Span, did_you_mean, in_source_order, suggestion_budget
from resdsl.frontend.elaborate import Elaborator
from resdsl.ir.expressions import Value
from resdsl.ir.verify import verify
from resdsl.passes import PASSES
from resdsl.frontend.syntax import ast
from resdsl.frontend.syntax.parser import no_cycle_collection, parse
from resdsl.frontend.syntax.reader import decode, statement_limit

PRELUDE = "prelude.res"


@dataclass
class Network:
    """A checked network: the IR graph and what it was made from."""

    graph: nx.DiGraph
    sources: SourceMap
    source: str
    diagnostics: tuple = ()  # errors kept by `keep_going=True`; empty for a checked network
    warnings: tuple = ()  # warnings (W codes): the network is built all the same

    @property
    def name(self) -> str:
        return self.graph.graph["name"]

    @property
    def input_shape(self) -> tuple[int, ...]:
        return self.graph.graph["input_shape"]

    @property
    def output_shape(self) -> tuple[int, ...]:
        return self.graph.nodes[self.graph.graph["output"]]["shape"]

    @property
    def params(self) -> int:
        return self.graph.graph["total_params"]

    @property
    def macs(self) -> int:
        return self.graph.graph["total_macs"]

    def __repr__(self) -> str:
        """One line for a terminal: `<resdsl.Network resnet18(): input 3×224×224 → output 1000, 11,689,512 parameters>`."""
        return f"<resdsl.Network {network_line(self)}>"


@functools.lru_cache(maxsize=1)
def _prelude() -> tuple[ast.Module, str]:
    text = resources.prelude_path().read_text(encoding="utf-8")
    return parse(text, PRELUDE), text


def resolve_spec(spec: str | Path) -> tuple[Path, str]:
    """A `.res` file path, or the name of a bundled spec -> (path, name shown in diagnostics).

    Anything that exists and is not a folder is a file to read: /dev/null, /dev/stdin, a FIFO.
    """
    text = str(spec)
    if not text:
        raise ResdslError([Diagnostic("E0501", "empty spec name", help="name a .res file, or a bundled spec (`resdsl list` names them)")])
    path = Path(spec)
    try:
        exists, unreadable = path.exists(), ""
    except OSError as err:  # a name too long for a path, a folder we may not search
        exists, unreadable = False, err.strerror or str(err)
    if isinstance(spec, Path) or path.suffix == ".res" or exists or "/" in text:
        if exists and path.is_dir():
            raise ResdslError([Diagnostic("E0501", f"{spec} is a directory, not a spec file")])
        if not exists:
            raise ResdslError([Diagnostic("E0501", f"cannot read {spec}: {unreadable}" if unreadable else f"no such spec file: {spec}")])
        return path, text
    bundled = resources.bundled_specs()
    if text in bundled:
        return bundled[text], f"{spec}.res"
    entry = zoo.lookup(text)
    if entry is not None:  # a library's model name: its family spec (see `zoo_params`)
        return bundled[entry.spec], f"{entry.spec}.res"
    raise ResdslError(
        [Diagnostic("E0501", f"no bundled spec named `{spec}`", help=did_you_mean(text, [*bundled, *zoo.ZOO]) or "`resdsl list` names them")]
    )


def zoo_params(spec: str | Path) -> tuple[str, dict]:
    """A library model name that is not a bundled spec (`resnet101d`) -> (that name, the family
    spec's parameters that make it); anything else -> ("", {})."""
    text = str(spec)
    if isinstance(spec, Path) or text in resources.bundled_specs():
        return "", {}
    entry = zoo.lookup(text)
    return (text, dict(entry.params)) if entry is not None else ("", {})


def load(
    spec: str | Path, *, limits: Limits | None = None, keep_going: bool = False, resolved: tuple[Path, str] | None = None, **params: Value
) -> Network:
    """Compile a spec file, bundled spec name or zoo model name (`resdsl.frontend.zoo`) into a checked
    `Network`. A zoo name's family parameters come first; `params` override them.

    `resolved` is what `resolve_spec(spec)` returned, when a caller needed the path first (the
    CLI notes it as an input no output may replace): the spec is resolved once, not twice.
    With `keep_going`, errors found after elaboration (shapes, shortcuts, costs) are kept in
    `Network.diagnostics` instead of raised, so a drawing can show a spec that does not build.
    """
    path, name = resolved if resolved is not None else resolve_spec(spec)
    try:
        data = path.read_bytes()
    except OSError as err:
        raise ResdslError([Diagnostic("E0501", f"cannot read {path}: {err.strerror}")]) from None
    model, family = zoo_params(spec)
    net = compile_text(decode(data, name), name, limits=limits, keep_going=keep_going, **{**family, **params})
    if model:  # the network, its generated class and factory carry the library's name
        net.graph.graph["name"] = model
    return net


def compile_text(
    text: str,
    source: str = "<spec>",
    *,
    limits: Limits | None = None,
    verify_ir: bool = True,
    keep_going: bool = False,
    **params: Value,
) -> Network:
    """Compile spec text (named `source` in diagnostics) into a checked `Network` (see `load`).

    Raises only `ResdslError` for a bad spec. The parser bounds expression depth and the
    elaborator block depth; a RecursionError past those guards still becomes a diagnostic.
    """
    try:
        with suggestion_budget(), no_cycle_collection():  # bounded did-you-mean work; no GC passes over the AST
            return _compile(text, source, limits or Limits(), verify_ir, keep_going, params)
    except RecursionError:
        raise ResdslError(
            [Diagnostic("E0301", "this spec nests too deeply to compile", Span(source, 1, 1, 1, 2), help="flatten nested blocks and expressions")]
        ) from None


def _compile(text: str, source: str, limits: Limits, verify_ir: bool, keep_going: bool, params: dict) -> Network:
    sources = SourceMap()
    prelude, prelude_text = _prelude()
    sources.add(PRELUDE, prelude_text)
    too_many = statement_limit(text, source, limits.max_statements)
    if too_many is not None:  # parsing is the slowest step: count before it
        sources.add(source, text)
        raise ResdslError([too_many], sources)
    module = parse(text, source, sources, limits.max_tokens)
    reporter = Reporter(sources, limit=10**9 if keep_going else 20)
    definitions = _definitions(prelude, module, reporter)
    elaborator = Elaborator(definitions, reporter, source, limits)
    g = elaborator.network(_the_network(module, text, reporter), dict(params))
    g.graph.update(main_source=source, sources=sources, limits=limits, definitions=definitions)
    reporter.check()
    if verify_ir:
        verify(g)
    facts: set[str] = set()
    for step in PASSES:
        step.run(g, reporter)
        facts.update(step.establishes)
        if verify_ir:
            verify(g, facts=() if reporter.error_count else tuple(facts))
        if step.stops_on_error and not keep_going:
            reporter.check()
    warnings = tuple(in_source_order(d for d in reporter.diagnostics if d.severity == "warning"))
    if keep_going:
        return Network(g, sources, source, tuple(reporter.diagnostics), warnings)
    reporter.check()
    return Network(g, sources, source, warnings=warnings)


def _the_network(module: ast.Module, text: str, reporter: Reporter) -> ast.Definition:
    """The file's one network; E0108 (reported and raised) for none or several."""
    networks = module.networks()
    if len(networks) == 1:
        return networks[0]
    source = module.source
    if len(networks) > 1:
        message, span = f"this file defines {len(networks)} networks; a spec has one", networks[1].name_span
    else:
        span = Span(source, 1, 1, 1, 2)
        blank = all(not line.strip() or line.lstrip().startswith("#") for line in text.split("\n"))
        message = "this file is empty" if not text.strip() else "this file has only comments" if blank else "this file defines no network"
    reporter.error("E0108", message, span, help="a spec defines one `network name(...) { input CxHxW ... }`")
    reporter.check()
    raise AssertionError("unreachable")  # check() raised


def _definitions(prelude: ast.Module, module: ast.Module, reporter: Reporter) -> dict[str, ast.Definition]:
    """Block definitions by name: the prelude's, shadowed by the user's own."""
    from resdsl.diagnostics import Note

    table = {d.name: d for d in prelude.blocks()}
    seen: dict[str, ast.Definition] = {}
    for d in module.definitions:
        if d.name in seen:
            reporter.error("E0105", f"`{d.name}` is defined twice", d.name_span, notes=(Note("first defined here", seen[d.name].name_span),))
            continue
        seen[d.name] = d
        if d.kind != "network":
            table[d.name] = d
    return table


def shown_diagnostics(net) -> list:
    """What a display shows of a network's diagnostics: its errors and its warnings, in source
    order, each once (`keep_going` keeps warnings in both `diagnostics` and `warnings`)."""
    from resdsl.diagnostics import in_source_order

    seen = dict.fromkeys([*getattr(net, "diagnostics", ()), *getattr(net, "warnings", ())])
    return list(in_source_order(seen))


def network_line(net) -> str:
    """One line for a terminal: `resnet18(): input 3×224×224 → output 1000, 11,689,512 parameters`."""
    from resdsl.ir.ops import fmt_shape

    diagnostics = shown_diagnostics(net)
    errors = sum(d.severity == "error" for d in diagnostics)
    warnings = len(diagnostics) - errors
    g = net.graph.graph
    parts = [f"{net.name}{network_arguments(net) or '()'}"]
    if errors:
        parts.append(f"{errors} error{'s' if errors != 1 else ''}")
    else:
        parts.append(f"input {fmt_shape(net.input_shape)} → output {fmt_shape(net.output_shape)}, {g.get('total_params', 0):,} parameters")
    if warnings:
        parts.append(f"{warnings} warning{'s' if warnings != 1 else ''}")
    return ": ".join(parts[:2]) + "".join(f", {p}" for p in parts[2:])


def network_arguments(net) -> str:
    """`(name=value, ...)` of the network parameters a network was compiled with (one line)."""
    args = net.graph.graph.get("params", {})
    shown = ", ".join(f"{k}={str(v).lower() if isinstance(v, bool) else v}" for k, v in args.items())
    return f"({shown})" if shown else ""
