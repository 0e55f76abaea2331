"""resdsl in Jupyter: checked networks display as their diagram and summary; `%%resdsl` cells.

    import resdsl
    resdsl.load("resnet18")           # the last line of a cell: diagram + stage-level summary

    %load_ext resdsl
    %%resdsl --build model --set classes=10
    network tiny(classes = 100) { ... }

`resdsl.attach_display` registers `network_html` and `network_svg` with IPython's formatters. The cell magic compiles the cell's spec
and shows the diagram, the summary and any diagnostics (rendered exactly as the CLI prints
them); a spec with errors shows its diagnostics instead of raising, so "run all" carries on.
`--build NAME` stores the built `nn.Module` in the notebook's namespace, `--net NAME` the
checked `Network`, `--set NAME=VALUE` sets a network parameter (repeatable).

Nothing here imports IPython or torch until it is used: `import resdsl` stays light.
"""

from __future__ import annotations

import argparse
import html
import logging
import shlex

from resdsl.compiler import network_arguments, network_line, shown_diagnostics

log = logging.getLogger("resdsl.tools.notebook")

CELL_SOURCE = "<cell>"  # the source name diagnostics of a %%resdsl cell show
_SVG_CACHE = "_resdsl_svg"  # attribute caching a network's default diagram (HTML and SVG reprs share it)

# Every rule is scoped to the `.resdsl` wrapper, and the properties a host notebook's own
# stylesheet sets on every `pre` and `td` are `!important`: JupyterLab gives output `pre`s its
# UI font and `pre-wrap`, and right-aligns every `td` with `white-space: normal`, which would
# move the carets of a diagnostic off its mistake, hide the summary's indentation and wrap its
# Op column. tests/test_notebook_browser.py checks this in Chromium with JupyterLab's rules.
MONOSPACE = 'var(--jp-code-font-family,ui-monospace,SFMono-Regular,Menlo,Consolas,"DejaVu Sans Mono","Liberation Mono",monospace)'
_STYLE = (
    "<style>"
    ".resdsl .resdsl-network{display:flex;flex-wrap:wrap;gap:1.5em;align-items:flex-start}"
    ".resdsl .resdsl-diagram{max-height:720px;overflow:auto;flex:0 0 auto}"
    ".resdsl .resdsl-summary{flex:1 1 440px;overflow-x:auto}"
    ".resdsl .resdsl-summary table{border-collapse:collapse;font-size:0.9em;table-layout:auto!important;margin:0!important}"
    ".resdsl .resdsl-summary td,.resdsl .resdsl-summary th{padding:2px 8px!important;text-align:left!important;white-space:nowrap!important}"
    ".resdsl .resdsl-summary td.n,.resdsl .resdsl-summary th.n{text-align:right!important;font-variant-numeric:tabular-nums}"
    f".resdsl pre.resdsl-diagnostics{{font-family:{MONOSPACE}!important;white-space:pre!important;"
    "word-break:normal!important;overflow-wrap:normal!important;text-align:left!important;overflow-x:auto}"
    "</style>"
)


def _wrapped(body: str) -> str:
    """Output HTML inside the one element the stylesheet is scoped to."""
    return f'{_STYLE}<div class="resdsl">{body}</div>'


# --- a checked network ----------------------------------------------------------------------------


def network_svg(net, detail: str = "block", fold: bool = True) -> str | None:
    """The network's diagram as inline SVG text, or None when no renderer could draw it."""
    default = (detail, fold) == ("block", True)
    if default and getattr(net, _SVG_CACHE, None) is not None:
        return getattr(net, _SVG_CACHE)
    from resdsl.backends.draw import draw

    try:
        svg = draw(net, detail=detail, fold=fold).pipe(format="svg", encoding="utf-8")
    except Exception:  # noqa: BLE001 - no Graphviz renderer: the summary still shows
        log.warning("could not render the diagram of %s", net.name, exc_info=True)
        return None
    start = svg.find("<svg")
    svg = svg[start:] if start >= 0 else svg  # drop the XML prolog and DOCTYPE: it is inlined
    if default:
        try:
            setattr(net, _SVG_CACHE, svg)
        except AttributeError:
            pass
    return svg


def summary_html(net, depth: str = "stage") -> str:
    """The summary table (`resdsl summary --depth stage`) as HTML, with its totals."""
    from resdsl.backends.summary_text import Report
    from resdsl.ir.ops import fmt_shape
    from resdsl.passes.count_costs import CONVENTIONS

    report = Report.of(net, depth)
    total_p, total_m = report.root.cost.params, report.ops(report.root)

    def share(part: int, whole: int) -> str:
        return f"{100 * part / whole:.2f}%" if whole else "-"

    head = "".join(f'<th class="{c}">{h}</th>' for h, c in [("Name", ""), ("Op", ""), ("Output", ""), ("Params", "n"), ("Params %", "n"), ("MACs", "n"), ("MACs %", "n")])
    rows = []
    for level, row in report.rows:
        p, m = row.cost.params, report.ops(row)
        name = "&nbsp;" * 4 * level + html.escape(row.name)
        cells = [name, html.escape(row.op), fmt_shape(row.shape)]
        numbers = [f"{p:,}", share(p, total_p), f"{m:,}", share(m, total_m)]
        rows.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "".join(f'<td class="n">{c}</td>' for c in numbers) + "</tr>")
    heading = f"{html.escape(net.name + network_arguments(net))}: input {fmt_shape(net.input_shape)} → output {fmt_shape(net.output_shape)}"
    totals = (
        f"Total params: {total_p:,} · Total MACs: {total_m:,} "
        f'<span title="{html.escape(CONVENTIONS[report.convention])}">(conv+fc, batch 1)</span>'
    )
    return f"<div><b>{heading}</b></div><table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table><div>{totals}</div>"


def diagnostics_html(text: str) -> str:
    """Rendered diagnostics, as the CLI prints them (its caret lines need a monospace font)."""
    return f'<pre class="resdsl-diagnostics">{html.escape(text)}</pre>'


def network_html(net, *, detail: str = "block", fold: bool = True, diagram: bool = True, summary: bool = True) -> str:
    """The diagram beside the stage-level summary; a network with errors shows them instead of
    the summary. Warnings show under both, as `resdsl check` prints them."""
    from resdsl.diagnostics import render_all

    diagnostics = shown_diagnostics(net)
    errors = [d for d in diagnostics if d.severity == "error"]
    parts = []
    if diagram:
        svg = network_svg(net, detail, fold)
        parts.append(f'<div class="resdsl-diagram">{svg}</div>' if svg else "<div><i>(no diagram: Graphviz could not be run)</i></div>")
    if summary and not errors:
        try:
            parts.append(f'<div class="resdsl-summary">{summary_html(net)}</div>')
        except Exception:  # noqa: BLE001 - a display must not fail; say why instead
            log.warning("no summary for %s", net.name, exc_info=True)
    body = f'<div class="resdsl-network">{"".join(parts)}</div>' if parts else ""
    if diagnostics:
        body += diagnostics_html(render_all(diagnostics, net.sources))
    return _wrapped(body)


# --- the %%resdsl cell magic ------------------------------------------------------------------------


class MagicUsageError(ValueError):
    """A bad `%%resdsl` argument line (shown as a usage error, not a spec diagnostic)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # argparse would exit the kernel's process
        raise MagicUsageError(f"%%resdsl: {message}\n{self.format_usage()}")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="%%resdsl", add_help=False, description="Compile the spec in this cell; show its diagram, summary and diagnostics.")
    parser.add_argument("--build", metavar="NAME", help="build the nn.Module and store it as NAME")
    parser.add_argument("--net", metavar="NAME", help="store the checked Network as NAME")
    parser.add_argument("--set", dest="sets", action="append", default=[], metavar="NAME=VALUE", help="set a network parameter (repeatable)")
    parser.add_argument("--detail", choices=("layer", "unit", "block", "stage"), default="block", help="the diagram's level of detail")
    parser.add_argument("--no-fold", action="store_true", help="draw every block, not each run of identical blocks once")
    parser.add_argument("--no-diagram", action="store_true", help="show no diagram")
    parser.add_argument("--no-summary", action="store_true", help="show no summary table")
    return parser


def _sets(items: list[str]) -> dict:
    from resdsl.frontend.syntax.parser import parse_literal

    out = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip().isidentifier():
            raise MagicUsageError(f"%%resdsl: --set expects NAME=VALUE, got {item!r}")
        parsed = parse_literal(value.strip())
        if parsed is None:
            raise MagicUsageError(f"%%resdsl: --set {item}: {value.strip()!r} is not an integer, a number, true or false")
        out[name.strip()] = parsed
    return out


class CellResult:
    """What a `%%resdsl` cell shows: the network (or nothing), diagnostics, what it stored."""

    def __init__(self, net=None, diagnostics: str = "", stored: list[str] | None = None, options=None):
        self.net = net
        self.diagnostics = diagnostics
        self.stored = stored or []
        self.options = options

    @property
    def ok(self) -> bool:
        return self.net is not None and not any(d.severity == "error" for d in self.net.diagnostics)

    def _repr_html_(self) -> str:
        parts = []
        if self.net is not None:
            o = self.options
            parts.append(
                network_html(
                    self.net,
                    detail=o.detail if o else "block",
                    fold=not (o and o.no_fold),
                    diagram=not (o and o.no_diagram),
                    summary=not (o and o.no_summary),
                )
            )
        if self.diagnostics:  # the spec did not compile, or the build refused it
            parts.append(_wrapped(diagnostics_html(self.diagnostics)))
        parts += [f"<div>{html.escape(line)}</div>" for line in self.stored]
        return "".join(parts)

    def __repr__(self) -> str:
        from resdsl.diagnostics import render_all

        lines = []
        if self.net is not None and self.ok:
            lines.append(network_line(self.net))
        if self.net is not None and shown_diagnostics(self.net):
            lines.append(render_all(shown_diagnostics(self.net), self.net.sources))
        if self.diagnostics:
            lines.append(self.diagnostics)
        return "\n".join(lines + self.stored)


def run_cell(line: str, cell: str, namespace: dict) -> CellResult:
    """Compile a `%%resdsl` cell; store what `--net` / `--build` name in `namespace`.

    Spec errors come back as rendered diagnostics, never as an exception; a bad argument
    line raises `MagicUsageError`.
    """
    from resdsl.compiler import compile_text
    from resdsl.diagnostics import ResdslError

    try:
        options = _parser().parse_args(shlex.split(line))
    except ValueError as err:  # shlex: an unclosed quote
        if isinstance(err, MagicUsageError):
            raise
        raise MagicUsageError(f"%%resdsl: {err}") from None
    params = _sets(options.sets)
    try:
        net = compile_text(cell, CELL_SOURCE, keep_going=True, **params)
    except ResdslError as err:
        return CellResult(diagnostics=err.render(), options=options)
    result = CellResult(net, options=options)
    if options.net:
        namespace[options.net] = net
        result.stored.append(f"stored the checked network as `{options.net}`")
    if options.build and result.ok:
        from resdsl.api import build

        try:
            model = build(net)
        except ResdslError as err:
            result.diagnostics = err.render()
            return result
        namespace[options.build] = model
        count = sum(p.numel() for p in model.parameters())
        result.stored.append(f"built `{options.build}`: {type(model).__name__}, {count:,} parameters")
    elif options.build:
        result.stored.append(f"`{options.build}` was not built: the spec has errors")
    return result


def load_ipython_extension(ipython) -> None:
    """`%load_ext resdsl`: registers the `%%resdsl` cell magic (and the display of networks)."""
    from IPython.core.error import UsageError

    attach_display(ipython)
    from IPython.display import display

    def resdsl(line: str, cell: str):
        try:
            result = run_cell(line, cell, ipython.user_ns)
        except MagicUsageError as err:
            raise UsageError(str(err)) from None
        display(result)

    resdsl.__doc__ = _parser().format_help()
    ipython.register_magic_function(resdsl, magic_kind="cell", magic_name="resdsl")


def attach_display(shell) -> None:
    """Show a `Network` in IPython as its diagram beside its stage-level summary.

    Registered with IPython's formatters by type name: the driver (`resdsl.compiler`) knows
    nothing of notebooks, since the pipeline never imports a tool (tests/test_architecture.py).
    `resdsl/__init__.py` calls this in a running kernel, and `%load_ext resdsl` does too."""
    formatters = shell.display_formatter.formatters
    formatters["text/html"].for_type_by_name("resdsl.compiler", "Network", network_html)
    formatters["image/svg+xml"].for_type_by_name("resdsl.compiler", "Network", network_svg)
