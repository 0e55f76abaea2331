"""Checked expectations: `expect params == N`, `expect macs ~ X within P%`, `expect shape L == CxHxW`.

Verified at compile time against the counted costs and inferred shapes; a violated
expectation is an error located at its `expect` line.
"""

from __future__ import annotations

import networkx as nx

from resdsl.diagnostics import Diagnostic, Reporter, did_you_mean
from resdsl.expressions import EvalError, evaluate
from resdsl.ops import fmt_shape
from resdsl.syntax import ast

METRICS = {
    "params": lambda g: g.graph["total_params"],
    "macs": lambda g: g.graph["total_macs"],
    "flops": lambda g: 2 * g.graph["total_macs"],
}


def _shape_of(g: nx.DiGraph, path: str):
    if path in g.graph["blocks"]:
        return g.nodes[g.graph["blocks"][path].output]["shape"]
    for stage in g.graph["stages"]:
        if stage.name == path and stage.blocks:
            return g.nodes[g.graph["blocks"][stage.blocks[-1]].output]["shape"]
    if path in g:
        return g.nodes[path]["shape"]
    return None


def _known_paths(g: nx.DiGraph) -> list[str]:
    return [n for n in g] + list(g.graph["blocks"]) + [s.name for s in g.graph["stages"]]


def _check_metric(g, stmt: ast.ExpectMetric, reporter: Reporter) -> None:
    if stmt.metric not in METRICS:
        reporter.error("E0104", f"unknown metric `{stmt.metric}`", stmt.metric_span, help=did_you_mean(stmt.metric, METRICS) or "metrics are params, macs and flops")
        return
    try:
        expected = evaluate(stmt.value, g.graph["params"])
    except EvalError as err:
        reporter.error(err.code, err.message, err.span, help=err.help)
        return
    actual = METRICS[stmt.metric](g)
    if stmt.op == "~":
        tol = stmt.tolerance_percent if stmt.tolerance_percent is not None else 1.0
        ok = abs(actual - expected) <= abs(expected) * tol / 100
        wanted = f"{expected:,} within {tol:g}%" if isinstance(expected, int) else f"{expected:g} within {tol:g}%"
        off = f" (off by {100 * (actual - expected) / expected:+.2f}%)" if expected else ""
    else:
        ok = {"==": actual == expected, "!=": actual != expected, "<": actual < expected, "<=": actual <= expected, ">": actual > expected, ">=": actual >= expected}[stmt.op]
        wanted, off = f"{stmt.op} {expected:,}" if isinstance(expected, int) else f"{stmt.op} {expected:g}", ""
    if not ok:
        reporter.error("E0401", f"expected {stmt.metric} {wanted}, counted {actual:,}{off}", stmt.span)


def _check_shape(g, stmt: ast.ExpectShape, reporter: Reporter) -> None:
    if stmt.path not in g and stmt.path not in g.graph["blocks"] and not any(s.name == stmt.path for s in g.graph["stages"]):
        reporter.error("E0104", f"unknown label `{stmt.path}`", stmt.path_span, help=did_you_mean(stmt.path, _known_paths(g)))
        return
    try:
        expected = tuple(evaluate(e, g.graph["params"]) for e in stmt.dims.items)
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
        if isinstance(stmt, ast.ExpectMetric):
            _check_metric(g, stmt, reporter)
        else:
            _check_shape(g, stmt, reporter)
