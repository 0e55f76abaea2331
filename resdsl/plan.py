"""The plan of a definition's body: each statement bound, expanded into units, and named.

Computed once per definition (not per instance), so a stage of 10,000 blocks binds its block's
statements once. The elaborator and the PyTorch code generator both read plans, which is what
keeps generated attribute names equal to IR node ids.

Naming rules (per body):
- a label names the statement's main node; a labelled conv `convK` gets its batch norm `bnK`,
  any other label `L` gets `L_bn`;
- unlabelled convs are `conv1`, `conv2`, ... by position among the body's convs (torchvision's
  names), their batch norms `bn1`, `bn2`, ...; an unlabelled standalone `batchnorm` takes the
  lowest `bnK` no conv uses;
- ReLUs are `relu` when the body has one, else `relu1`, `relu2`, ...; likewise `maxpool`,
  `avgpool`, `fc`, `add`;
- unlabelled block uses are `layer1`, `layer2`, ... by position among the body's block uses.
"""

from __future__ import annotations

import functools
from collections import Counter
from dataclasses import dataclass, field

from resdsl import layers
from resdsl.diagnostics import Diagnostic, Note
from resdsl.syntax import ast


@dataclass
class Planned:
    stmt: ast.Statement
    kind: layers.LayerKind | None = None
    args: dict = field(default_factory=dict)
    units: list = field(default_factory=list)
    names: list = field(default_factory=list)
    problems: list = field(default_factory=list)


@dataclass
class BodyPlan:
    items: list
    problems: list


def _bn_name(main: str) -> str:
    return "bn" + main[4:] if main.startswith("conv") else f"{main}_bn"


@functools.lru_cache(maxsize=None)
def plan(definition: ast.Definition) -> BodyPlan:
    items: list[Planned] = []
    for stmt in definition.body:
        item = Planned(stmt)
        if isinstance(stmt, ast.Layer):
            item.kind = layers.lookup(stmt.op)
            if item.kind is not None:
                item.args, item.problems = layers.bind(item.kind, stmt)
                if not item.problems:
                    item.units = item.kind.expand(item.args)
        items.append(item)
    _name(items)
    problems = [p for item in items for p in item.problems]
    problems += _duplicates(items)
    return BodyPlan(items, problems)


def _name(items: list[Planned]) -> None:
    counts: Counter = Counter()
    for item in items:
        for unit in item.units:
            counts[_base(item, unit)] += 1
        if isinstance(item.stmt, ast.BlockUse):
            counts["layer"] += 1
    seen: Counter = Counter()
    deferred: list[tuple[Planned, int]] = []  # unlabelled standalone batch norms
    for item in items:
        if isinstance(item.stmt, ast.BlockUse):
            seen["layer"] += 1
            item.names = [item.stmt.label or f"layer{seen['layer']}"]
            continue
        main = None
        for unit in item.units:
            base = _base(item, unit)
            seen[base] += 1
            numbered = counts[base] > 1 or (unit.role != "relu" and item.kind.numbered)
            auto = f"{base}{seen[base]}" if numbered else base
            if unit.role == "main" and unit.op == "bn" and not item.stmt.label:
                deferred.append((item, len(item.names)))
                item.names.append("")
            elif unit.role == "main":
                main = item.stmt.label or auto
                item.names.append(main)
            elif unit.role == "bn":
                item.names.append(_bn_name(main))
            else:
                item.names.append(auto)
    taken = {name for item in items for name in item.names}
    k = 0
    for item, index in deferred:  # bnK after the convs' bnK names are known
        k += 1
        while f"bn{k}" in taken:
            k += 1
        item.names[index] = f"bn{k}"


def _base(item: Planned, unit: layers.Unit) -> str:
    if unit.role == "relu" or unit.op == "relu":
        return "relu"
    if unit.role == "bn":
        return "bn"
    return item.kind.base_name


def _duplicates(items: list[Planned]) -> list[Diagnostic]:
    first: dict[str, ast.Statement] = {}
    problems = []
    for item in items:
        for name in item.names:
            if name in first:
                stmt = item.stmt
                problems.append(
                    Diagnostic(
                        "E0105",
                        f"duplicate name `{name}`",
                        stmt.label_span or stmt.span,
                        notes=(Note(f"`{name}` is first used here", first[name].label_span or first[name].span),),
                        help="give each layer a different label",
                    )
                )
                break  # one report per statement: `a: conv` twice also repeats `a_bn`
            else:
                first[name] = item.stmt
    return problems
