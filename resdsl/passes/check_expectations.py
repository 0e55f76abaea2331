"""Checked expectations, verified at compile time against counted costs and inferred shapes.

    expect params == 25_557_032
    expect macs ~ 3.8e9 within 2%          # `~` alone allows 1%
    expect layers == 6 * n + 2             # expressions see the network's parameters
    expect shape layer3 == 64x8x8
    expect params == 269_722 when n == 3   # checked only where the condition holds

Metrics (`METRICS`): params, macs and flops (= 2 x macs) in the default "conv+fc" counting
convention of `passes.count_costs`, and layers (convs and fc layers the spec wrote, not the
projections shortcuts insert: the paper's "34-layer"). A violated expectation is an E0401 error
located at its `expect` statement; a malformed one (unknown metric or label, a `when` that is
not a condition, `within` without `~`) is an error of its own.
"""

from __future__ import annotations

from fractions import Fraction

import networkx as nx

from resdsl.diagnostics import Reporter, did_you_mean
from resdsl.ir.expressions import COMPARE, EvalError, evaluate, kind_of
from resdsl.ir.graph import value_node
from resdsl.ir.ops import OPS, fmt_shape
from resdsl.frontend.syntax import ast


def weighted_layers(g: nx.DiGraph) -> int:
    """Convs and fc layers written in the spec (inserted projection shortcuts excluded)."""
    return sum(1 for _, d in g.nodes(data=True) if OPS[d["op"]].weighted and not d["origin"])


METRICS = {
    "params": lambda g: g.graph["total_params"],
    "macs": lambda g: g.graph["total_macs"],
    "flops": lambda g: 2 * g.graph["total_macs"],
    "layers": weighted_layers,
}



def _fmt(value) -> str:
    """`3.8e9` reads as 3,800,000,000: the same digit grouping as the counted value."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        value = int(value)
    return f"{value:,}" if isinstance(value, int) else f"{value:g}"


def _evaluate(g, expr, reporter: Reporter):
    """The value of `expr` in the network's parameters, or None after reporting why not."""
    try:
        return evaluate(expr, g.graph["names"])
    except EvalError as err:
        reporter.error(err.code, err.message, err.span, help=err.help)
        return None


def _applies(g, stmt, reporter: Reporter) -> bool:
    """Whether the statement's `when` condition holds (True without one)."""
    if stmt.when is None:
        return True
    value = _evaluate(g, stmt.when, reporter)
    if value is None:
        return False
    if not isinstance(value, bool):
        reporter.error("E0115", f"`when` needs a condition (true or false), got the {kind_of(value)} {value}", stmt.when.span, help="compare a parameter, e.g. `when n == 3`")
        return False
    return value


def _expected_number(g, stmt: ast.ExpectMetric, reporter: Reporter):
    value = _evaluate(g, stmt.value, reporter)
    if isinstance(value, bool):
        reporter.error("E0115", f"`expect {stmt.metric}` needs a number, got the bool `{str(value).lower()}`", stmt.value.span)
        return None
    return value


def _check_metric(g, stmt: ast.ExpectMetric, reporter: Reporter) -> None:
    if stmt.metric not in METRICS:
        reporter.error("E0104", f"unknown metric `{stmt.metric}`", stmt.metric_span, help=did_you_mean(stmt.metric, METRICS) or f"metrics are {', '.join(METRICS)}")
        return
    if stmt.tolerance_percent is not None and stmt.op != "~":
        reporter.error("E0402", f"`within {stmt.tolerance_percent:g}%` goes with `~`, not `{stmt.op}`", stmt.span, help=f"write `expect {stmt.metric} ~ VALUE within {stmt.tolerance_percent:g}%`")
        return
    expected = _expected_number(g, stmt, reporter)
    if expected is None:
        return
    actual = METRICS[stmt.metric](g)
    off = f" ({actual - expected:+,})" if isinstance(expected, int) else ""
    if stmt.op == "~":
        tol = stmt.tolerance_percent if stmt.tolerance_percent is not None else 1.0
        # exact rationals: V·(1 + P/100) in floats overflows (1e308) or rounds into a false pass
        ok = abs(actual - Fraction(expected)) * 100 <= abs(Fraction(expected)) * Fraction(tol)
        wanted = f"~ {_fmt(expected)} within {tol:g}%"
        off = f" (off by {float(100 * (actual - Fraction(expected)) / Fraction(expected)):+.2f}%)" if expected else ""
    else:
        ok = COMPARE[stmt.op](actual, expected)
        wanted = f"{stmt.op} {_fmt(expected)}"
    if not ok:
        reporter.error("E0401", f"expected {stmt.metric} {wanted}, counted {actual:,}{off}", stmt.span)


def _shape_of(g: nx.DiGraph, path: str):
    node = value_node(g, path)
    return None if node is None else g.nodes[node]["shape"]


def _known_paths(g: nx.DiGraph) -> list[str]:
    return [n for n in g] + list(g.graph["blocks"]) + list(g.graph["stage_index"])


def _check_shape(g, stmt: ast.ExpectShape, reporter: Reporter) -> None:
    if stmt.path not in _known_paths(g):
        reporter.error("E0104", f"unknown label `{stmt.path}`", stmt.path_span, help=did_you_mean(stmt.path, _known_paths(g)))
        return
    try:
        expected = tuple(evaluate(e, g.graph["names"]) for e in stmt.dims.items)
    except EvalError as err:
        reporter.error(err.code, err.message, err.span, help=err.help)
        return
    actual = _shape_of(g, stmt.path)
    if actual is not None and actual != expected:
        reporter.error("E0401", f"expected `{stmt.path}` to be {fmt_shape(expected)}, inferred {fmt_shape(actual)}", stmt.span)


def check_expectations(g: nx.DiGraph, reporter: Reporter) -> None:
    if reporter.error_count:
        return  # counts and shapes are incomplete after an error
    for stmt in g.graph["expects"]:
        if not _applies(g, stmt, reporter):
            continue
        if isinstance(stmt, ast.ExpectMetric):
            _check_metric(g, stmt, reporter)
        else:
            _check_shape(g, stmt, reporter)
