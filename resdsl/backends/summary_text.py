"""Rendering the summary: plain-text, Markdown and CSV tables, and the JSON document.

`Report` gathers what one network's summary shows (rows at a depth, Table 1, totals, the
counting convention); `render_summary` and `render_compare` lay reports out in a format.
The counting convention is printed with every total. Output is deterministic (no timestamps,
no paths beyond the spec name given). Imports no torch.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass

from resdsl.analysis.summary_tree import Row, summarize, visible_rows
from resdsl.analysis.table1 import Table1Row, pre_activation, table1
from resdsl.compiler import Network
from resdsl.ir.ops import fmt_shape
from resdsl.passes.check_expectations import weighted_layers
from resdsl.passes.count_costs import CONVENTIONS, DEFAULT_CONVENTION

FORMATS = ("table", "markdown", "csv", "json")


@dataclass
class Report:
    """One network's summary, in one counting convention; `flops` shows 2 x MACs instead."""

    net: Network
    root: Row
    rows: list[tuple[int, Row]]
    table1: list[Table1Row]
    convention: str
    flops: bool
    label: str

    @classmethod
    def of(cls, net: Network, depth: str = "block", convention: str = DEFAULT_CONVENTION, flops: bool = False, label: str = "") -> "Report":
        if convention not in CONVENTIONS:
            raise ValueError(f"unknown counting convention {convention!r}; expected one of {', '.join(CONVENTIONS)}")
        root = summarize(net)
        return cls(net, root, visible_rows(root, depth), table1(net, root), convention, flops, label or net.name)

    def ops(self, row: Row) -> int:
        """A row's MACs in the convention, or its FLOPs (2 per multiply-add) with `flops`."""
        macs = row.cost.macs_in(self.convention)
        return 2 * macs if self.flops else macs

    @property
    def unit(self) -> str:
        return "FLOPs" if self.flops else "MACs"

    @property
    def counting(self) -> str:
        text = f"({self.convention}) {CONVENTIONS[self.convention]}; batch 1, input {fmt_shape(self.net.input_shape)}"
        return text + ("; FLOPs = 2 × MACs" if self.flops else "")

    @property
    def arguments(self) -> str:
        args = self.net.graph.graph["params"]
        return ", ".join(f"{k}={str(v).lower() if isinstance(v, bool) else v}" for k, v in args.items())


def _share(part: int, whole: int) -> str:
    return f"{100 * part / whole:.2f}%" if whole else "-"


def _sci(value: int) -> str:
    """`3,857,973,248 (3.86×10^9)`: digits, then engineering notation as the paper's 11.3×10^9."""
    if value < 1000:
        return f"{value:,}"
    exp = (len(str(value)) - 1) // 3 * 3
    return f"{value:,} ({value / 10 ** exp:.3g}×10^{exp})"


# --- generic table layouts ----------------------------------------------------------------------


def text_table(headers: list[str], rows: list[list[str]], right: set[int]) -> str:
    widths = [max(len(r[i]) for r in [headers] + rows) for i in range(len(headers))]

    def line(cells):
        out = [c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths))]
        return "  ".join(out).rstrip()

    return "\n".join([line(headers), "  ".join("-" * w for w in widths)] + [line(r) for r in rows]) + "\n"


def markdown_table(headers: list[str], rows: list[list[str]], right: set[int]) -> str:
    def line(cells):
        return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"

    rule = "|" + "|".join("---:" if i in right else "---" for i in range(len(headers))) + "|"
    return "\n".join([line(headers), rule] + [line(r) for r in rows]) + "\n"


def csv_table(headers: list[str], rows: list[list]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(headers)
    writer.writerows(rows)
    return buf.getvalue()


def _layout(fmt: str, headers, rows, right) -> str:
    return markdown_table(headers, rows, right) if fmt == "markdown" else text_table(headers, rows, right)


# --- one network ----------------------------------------------------------------------------------


def _cost_rows(report: Report, indent: str) -> tuple[list[str], list[list[str]]]:
    total_p, total_m = report.root.cost.params, report.ops(report.root)
    headers = ["Name", "Op", "Output", "Params", "Params %", report.unit, f"{report.unit} %"]
    rows = []
    for level, row in report.rows:
        p, m = row.cost.params, report.ops(row)
        rows.append([indent * level + row.name, row.op, fmt_shape(row.shape), f"{p:,}", _share(p, total_p), f"{m:,}", _share(m, total_m)])
    return headers, rows


def _table1_rows(reports: list[Report]) -> tuple[list[str], list[list[str]]]:
    """Table 1 side by side: rows aligned by layer name, each spec's rows kept in its order."""
    order: list[str] = []
    cells: dict[str, dict[int, Table1Row]] = {}
    for i, report in enumerate(reports):
        at = -1  # a row new to the table goes right after this report's previous row
        for row in report.table1:
            if row.layer not in cells:
                order.insert(at + 1, row.layer)
                cells[row.layer] = {}
            at = order.index(row.layer)
            cells[row.layer][i] = row
    rows = []
    for layer in order:
        size = next(iter(cells[layer].values())).output_size
        line = [layer, size]
        for i in range(len(reports)):
            row = cells[layer].get(i)
            line.append("" if row is None else row.cell + ("" if row.output_size == size else f" ({row.output_size})"))
        rows.append(line)
    first = reports[0]
    rows.append(["layers", ""] + [str(weighted_layers(r.net.graph)) for r in reports])
    rows.append(["params", ""] + [_sci(r.root.cost.params) for r in reports])
    label = f"{first.unit} ({first.convention})"
    rows.append([label, ""] + [_sci(r.ops(r.root)) for r in reports])
    return ["layer name", "output size"] + [r.label for r in reports], rows


def table1_note(reports: list[Report]) -> str:
    """Table 1's footnote; where BN and ReLU are depends on the networks (pre-activation or not)."""
    where = (
        "BN and ReLU (before the convs in pre-activation blocks) are not listed."
        if any(pre_activation(r.net) for r in reports)
        else "BN and ReLU follow each conv and are not listed."
    )
    return (
        "Table 1 notation: [k×k, channels; ...] ×blocks per stage; strides and projection shortcuts are not "
        f"written in brackets (output size shows the downsampling); {where}"
    )


def _totals(report: Report) -> list[str]:
    net = report.net
    acts = report.root.cost.activations
    return [
        f"Total params: {report.root.cost.params:,}",
        f"Total {report.unit}: {_sci(report.ops(report.root))}",
        f"Counting {report.counting}; params are trainable weights and biases (BN running statistics excluded)",
        f"Activations: {acts:,} elements ({acts * 4 / 2**20:.1f} MiB at float32), the outputs of every layer",
        f"Layers: {weighted_layers(net.graph)} (convs and fc written in the spec)",
    ]


def _heading(report: Report) -> str:
    net = report.net
    args = f"({report.arguments})" if report.arguments else ""
    return f"{net.name}{args} from {net.source}: input {fmt_shape(net.input_shape)} -> output {fmt_shape(net.output_shape)}"


def render_summary(report: Report, fmt: str) -> str:
    if fmt == "json":
        return json.dumps(summary_json(report), indent=2, ensure_ascii=False) + "\n"
    if fmt == "csv":
        return _summary_csv(report)
    headers, rows = _cost_rows(report, "  " if fmt == "table" else "")  # Markdown: dotted names show nesting
    t_headers, t_rows = _table1_rows([report])
    if fmt == "markdown":
        totals = "\n".join(f"- {line}" for line in _totals(report))
        return (
            f"### {_heading(report)}\n\n{markdown_table(headers, rows, {3, 4, 5, 6})}\n{totals}\n\n"
            f"#### Table 1\n\n{markdown_table(t_headers, t_rows, set())}\n{table1_note([report])}\n"
        )
    totals = "\n".join(_totals(report))
    return (
        f"{_heading(report)}\n\n{text_table(headers, rows, {3, 4, 5, 6})}\n{totals}\n\n"
        f"Table 1\n\n{text_table(t_headers, t_rows, set())}\n{table1_note([report])}\n"
    )


def _summary_csv(report: Report) -> str:
    unit = report.unit.lower()
    headers = ["name", "kind", "level", "op", "output", "count", "params", unit, "activations", "counting"]
    rows = [
        [row.name, row.kind, level, row.op, fmt_shape(row.shape), row.count, row.cost.params, report.ops(row), row.cost.activations, report.convention]
        for level, row in report.rows
    ]
    return csv_table(headers, rows)


def _row_json(level: int, row: Row, report: Report) -> dict:
    return {
        "name": row.name,
        "kind": row.kind,
        "level": level,
        "op": row.op,
        "output": list(row.shape) if row.shape is not None else None,
        "count": row.count,
        "params": row.cost.params,
        "macs": row.cost.macs_in(report.convention),
        "activations": row.cost.activations,
    }


def summary_json(report: Report) -> dict:
    """The JSON document: top-level `params` and `macs` integers, and what they count."""
    net, cost = report.net, report.root.cost
    macs = cost.macs_in(report.convention)
    return {
        "network": net.name,
        "source": net.source,
        "arguments": dict(net.graph.graph["params"]),
        "input": list(net.input_shape),
        "output": list(net.output_shape),
        "params": cost.params,
        "macs": macs,
        "flops": 2 * macs,
        "convention": report.convention,
        "counting": CONVENTIONS[report.convention] + "; batch 1; flops = 2 × macs",
        "activations": cost.activations,
        "layers": weighted_layers(net.graph),
        "rows": [_row_json(level, row, report) for level, row in report.rows],
        "table1": [{"layer": r.layer, "output_size": r.output_size, "cell": r.cell} for r in report.table1],
    }


# --- several networks side by side ----------------------------------------------------------------


def _compare_values(reports: list[Report]) -> list[list]:
    """spec, input, output, layers, params, MACs (or FLOPs), ratio to the first, activations."""
    base = reports[0].ops(reports[0].root)
    return [
        [r.label, fmt_shape(r.net.input_shape), fmt_shape(r.net.output_shape), weighted_layers(r.net.graph),
         r.root.cost.params, r.ops(r.root), r.ops(r.root) / base if base else None, r.root.cost.activations]
        for r in reports
    ]


def _compare_headers(reports: list[Report]) -> list[str]:
    unit = reports[0].unit
    return ["spec", "input", "output", "layers", "params", unit, f"{unit} vs {reports[0].label}", "activations"]


def _shown(row: list) -> list[str]:
    label, inp, out, layers, params, ops, ratio, acts = row
    return [label, inp, out, str(layers), f"{params:,}", f"{ops:,}", "-" if ratio is None else f"{ratio:.3f}×", f"{acts:,}"]


def render_compare(reports: list[Report], fmt: str) -> str:
    """Several networks: Table 1 side by side, then their totals (one convention for all)."""
    first = reports[0]
    if fmt == "json":
        doc = {
            "convention": first.convention,
            "counting": CONVENTIONS[first.convention] + "; batch 1; flops = 2 × macs",
            "networks": [{**summary_json(r), "label": r.label} for r in reports],
        }
        return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
    values = _compare_values(reports)
    headers = _compare_headers(reports)
    if fmt == "csv":
        rows = [row[:6] + ["" if row[6] is None else f"{row[6]:.6f}", row[7], first.convention] for row in values]
        return csv_table([h.lower() for h in headers] + ["counting"], rows)
    t_headers, t_rows = _table1_rows(reports)
    counting = f"Counting ({first.convention}) {CONVENTIONS[first.convention]}; batch 1, each network at its own input size"
    counting += "; FLOPs = 2 × MACs" if first.flops else ""
    table = _layout(fmt, headers, [_shown(v) for v in values], {3, 4, 5, 6, 7})
    return f"{_layout(fmt, t_headers, t_rows, set())}\n{table}\n{counting}\n\n{table1_note(reports)}\n"
