"""The plan of a definition's body: each statement bound, expanded into units, and named.

Computed once per definition (not per instance), so a stage of 10,000 blocks binds its block's
statements once. The elaborator reads plans, and so does the lowering of definitions for the
back ends (`resdsl.frontend.lower`), which is what keeps generated attribute names equal to IR
node ids. Plans are immutable (tuples and frozen
dataclasses), so the cache can hand the same plan to every caller.

Naming rules (per body):
- a label names the statement's main node; a labelled conv `convK` gets its batch norm `bnK`,
  any other label `L` gets `L_bn`; a label also names the statement's value (its last node)
  for `from`, `mul` and `add`;
- unlabelled convs are `conv1`, `conv2`, ... by position among the body's convs (torchvision's
  names), their batch norms `bn1`, `bn2`, ...; an unlabelled standalone `batchnorm` takes the
  lowest `bnK` no conv uses;
- ReLUs are `relu` when the body has one, else `relu1`, `relu2`, ...; likewise `maxpool`,
  `avgpool`, `fc`, `add`, `sigmoid`, `mul`, `dropout`, `drop_path`, `identity`;
- unlabelled block uses are `layer1`, `layer2`, ... by position among the body's block uses;
- in a `sequential` or `shortcut` definition every unlabelled layer is numbered by its position
  from 0, as nn.Sequential numbers its children (`conv 3x3` with its batch norm and ReLU is
  three: `0`, `1`, `2`); a label names its layer instead (`conv: conv 1x1, c, bn off` is
  `downsample.conv`, as timm's DownsampleConv), its batch norm `L_bn` and ReLU `L_relu`.
"""

from __future__ import annotations

import functools
from collections import Counter
from dataclasses import dataclass

from resdsl.frontend import binding, layers
from resdsl.diagnostics import Diagnostic, Note
from resdsl.frontend.syntax import ast
from resdsl.ir.definitions import SEQUENTIAL_KINDS
from resdsl.ir.norm_act_ops import UNIT_OPS



@dataclass(frozen=True)
class Planned:
    """One statement: its layer kind and bound arguments (layers only), units and their names."""

    stmt: ast.Statement
    kind: layers.LayerKind | None = None
    args: tuple[tuple[str, object], ...] = ()
    units: tuple[layers.Unit, ...] = ()
    names: tuple[str, ...] = ()
    problems: tuple[Diagnostic, ...] = ()

    @property
    def arg(self) -> dict:
        return dict(self.args)

    @property
    def value_name(self) -> str | None:
        """The name the statement's value is read by: its label (the value is its last unit)."""
        return getattr(self.stmt, "label", None)


@dataclass(frozen=True)
class BodyPlan:
    items: tuple[Planned, ...]
    problems: tuple[Diagnostic, ...]
    sequential: bool = False


@functools.lru_cache(maxsize=1024)
def plan(definition: ast.Definition) -> BodyPlan:
    sequential = definition.kind in SEQUENTIAL_KINDS
    drafts: list[dict] = []
    for stmt in definition.body:
        draft = {"stmt": stmt, "kind": None, "args": {}, "units": [], "problems": []}
        if isinstance(stmt, ast.Layer):
            draft["kind"] = layers.lookup(stmt.op)
            if draft["kind"] is not None:
                draft["args"], draft["problems"] = binding.bind(draft["kind"], stmt)
                if not draft["problems"]:
                    draft["units"] = draft["kind"].expand(draft["args"])
        if sequential:
            draft["problems"] += _sequential_problems(definition, draft)
        drafts.append(draft)
    names = _sequence_names(drafts) if sequential else _names(drafts)
    items = tuple(
        Planned(d["stmt"], d["kind"], tuple(d["args"].items()), tuple(d["units"]), tuple(n), tuple(d["problems"]))
        for d, n in zip(drafts, names)
    )
    problems = tuple(p for item in items for p in item.problems) + tuple(_duplicates(items))
    return BodyPlan(items, problems, sequential)


def loop_body(stmt: ast.For, definition: ast.Definition) -> ast.Definition:
    """A `for` loop's body as a definition of its own, so that `plan` names and binds its statements."""
    return ast.Definition("block", f"{definition.name}.for", stmt.var_span, (), stmt.body, stmt.span)


def _sequential_problems(definition: ast.Definition, draft: dict) -> list[Diagnostic]:
    """A sequential body is one path of layers: no named values read, no residual add; a
    shortcut's body holds layers only."""
    stmt, where = draft["stmt"], f"a `{definition.kind}` definition"
    kind, args = draft["kind"], draft["args"]
    if isinstance(stmt, ast.BlockUse) and definition.kind == "shortcut":  # insert_shortcuts instantiates layers only
        return [Diagnostic("E0114", f"{where} holds layers; it cannot use a block", stmt.span, help="write the block's layers here")]
    if kind is not None and kind.name == "add":
        return [Diagnostic("E0114", f"{where} has no residual add", stmt.span, help="a residual add belongs in a `block`")]
    reads = [args.get(name) for name in kind.reads + ("from",)] if kind is not None else []
    reads += [o for o in getattr(stmt, "options", ()) if isinstance(stmt, ast.BlockUse) and o.name == "from"]
    if any(r is not None for r in reads):
        return [Diagnostic("E0114", f"{where} is one path; it cannot read named values", stmt.span, help="write it as a `block`")]
    return []


def _sequence_names(drafts: list[dict]) -> list[list[str]]:
    k, out = 0, []
    for draft in drafts:
        label = getattr(draft["stmt"], "label", None)
        units = [None] if isinstance(draft["stmt"], ast.BlockUse) else draft["units"]
        if label:
            out.append([label if u is None or u.role == "main" else _bn_name(label) if u.role == "bn" else f"{label}_relu" for u in units])
        else:
            out.append([str(i) for i in range(k, k + len(units))])
        k += len(units)
    return out


def _bn_name(main: str) -> str:
    return "bn" + main[4:] if main.startswith("conv") else f"{main}_bn"


def _names(drafts: list[dict]) -> list[list[str]]:
    counts: Counter = Counter()
    for d in drafts:
        for unit in d["units"]:
            counts[_base(d, unit)] += 1
        if isinstance(d["stmt"], ast.BlockUse):
            counts["layer"] += 1
    seen: Counter = Counter()
    out: list[list[str]] = []
    deferred: list[tuple[list[str], int]] = []  # unlabelled standalone batch norms
    for d in drafts:
        stmt, names = d["stmt"], []
        out.append(names)
        if isinstance(stmt, ast.BlockUse):
            seen["layer"] += 1
            names.append(stmt.label or f"layer{seen['layer']}")
            continue
        main = None
        for unit in d["units"]:
            base = _base(d, unit)
            seen[base] += 1
            numbered = counts[base] > 1 or (unit.role != "relu" and d["kind"].numbered)
            auto = f"{base}{seen[base]}" if numbered else base
            if unit.role == "main" and base == "bn" and not stmt.label:
                deferred.append((names, len(names)))
                names.append("")
            elif unit.role == "main":
                main = stmt.label or auto
                names.append(main)
            elif unit.role == "bn":
                names.append(_bn_name(main))
            else:
                names.append(auto)
    taken = {name for names in out for name in names}
    k = 0
    for names, index in deferred:  # bnK after the convs' bnK names are known
        k += 1
        while f"bn{k}" in taken:
            k += 1
        names[index] = f"bn{k}"
    return out


def _base(draft: dict, unit: layers.Unit) -> str:
    op = UNIT_OPS[unit.op]
    if op.base:  # an activation value: act1, act2 (timm's names)
        return op.base
    if unit.role == "relu":
        return "relu"
    if op.shared:  # one module per class: named after its op (torchvision's `relu`)
        return unit.op
    if unit.role == "bn":
        return "bn"
    return draft["kind"].base_name


def _duplicates(items: tuple[Planned, ...]) -> list[Diagnostic]:
    first: dict[str, ast.Statement] = {"input": None}
    problems = []
    for item in items:
        for name in item.names:
            if name in first:
                stmt = item.stmt
                earlier = first[name]
                notes = (Note(f"`{name}` is first used here", earlier.label_span or earlier.span),) if earlier else ()
                problems.append(
                    Diagnostic(
                        "E0105",
                        f"duplicate name `{name}`" if earlier else "`input` names the block's input; it cannot label a layer",
                        stmt.label_span or stmt.span,
                        notes=notes,
                        help="give each layer a different label",
                    )
                )
                break  # one report per statement: `a: conv` twice also repeats `a_bn`
            else:
                first[name] = item.stmt
    return problems


def is_residual_add(item: Planned) -> bool:
    """A planned statement that is the block's residual `add` (an `add` without `other`)."""
    return item.kind is not None and item.kind.name == "add" and item.arg.get("other") is None
