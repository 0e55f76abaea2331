"""The registry of diagnostic codes: the one list users, docs and tests read.

Invariants:
- every code the compiler reports (`"Exxxx"` anywhere in `resdsl/`) is a key of `CODES`;
  a test greps the source to hold this, and checks the table in `docs/diagnostics.md`
  against `markdown_table()`;
- a code, once published, keeps its meaning: retire a code rather than reuse it.

Ranges: E00xx syntax and input text, E01xx names and structure, E02xx values and shapes,
E03xx size limits, E04xx expectations, E05xx finding the spec, E06xx drawing, E07xx export;
W00xx warnings (the spec compiles; the command exits 0 unless `--werror`).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Code:
    """One diagnostic code: a short `title`, its `meaning`, and an `example` that triggers it."""

    code: str
    title: str
    meaning: str
    example: str
    in_spec: bool = True  # a spec file can cause it (the diagnostics corpus shows each such code)


_TABLE = [
    # --- syntax and input text -----------------------------------------------------------------
    Code("E0001", "unexpected token", "the parser met a token where the grammar allows others; the help line names what it expected", "conv 3x3,, 16"),
    Code("E0002", "unclosed bracket", "a `(` or `{` is still open at the end of the line or file, or a different closer was found", "conv 3x3, (16 + 2"),
    Code("E0003", "unexpected end of file", "the file ends in the middle of a definition", "network resnet"),
    Code("E0004", "not a text file", "the input is binary (contains a NUL byte) or is not valid UTF-8", "a .pt file passed as a spec"),
    Code("E0005", "unexpected character", "a character that can start no token (names are ASCII letters, digits and `_`)", "conv 3x3, 16 @ 2"),
    Code("E0006", "nested too deeply", "an expression or a chain of operators deeper than the parser's limit", "-(-(-(... 500 levels ...)))"),
    # --- names and structure -------------------------------------------------------------------
    Code("E0101", "unknown block", "a block use names no block of the prelude or the file", "layer1: basci(64) x 2"),
    Code("E0102", "unknown layer kind", "a layer statement names no built-in layer kind", "conv2d 3x3, 64"),
    Code("E0103", "unknown parameter", "a keyword argument, `--set` or stage `stride` names a parameter the definition lacks", "basic(64, widht = 2)"),
    Code("E0104", "unknown label or metric", "an `expect` names a layer, block or metric that does not exist", "expect shape layer5 == 512x7x7"),
    Code("E0105", "duplicate", "a name, parameter, option, definition, `input` or `shortcut` given twice", "a: conv 3x3, 16; a: relu"),
    Code("E0106", "recursive block", "a block uses itself, directly or through other blocks", "block b(w) { b(w) }"),
    Code("E0107", "unknown name", "an expression uses a name that is no parameter or `let` in scope", "conv 3x3, widht"),
    Code("E0108", "not exactly one network", "a spec file must define exactly one `network`", "a file with only block definitions"),
    Code("E0109", "missing argument", "a layer or block needs an argument that was not given", "conv 3x3"),
    Code("E0110", "too many arguments", "more positional arguments than the layer or block takes", "conv 3x3, 16, 32"),
    Code("E0111", "unknown option", "a layer or block use has no option of that name", "conv 3x3, 16, strid 2"),
    Code("E0112", "unknown shortcut kind", "a shortcut policy other than A, B, C, identity or none", "shortcut D"),
    Code("E0113", "missing input", "a network has no `input` statement", "network n { conv 3x3, 16 }"),
    Code("E0114", "misplaced statement", "`input`, `shortcut`, `expect` outside a network, or `add` outside a block, or twice", "add (in a network body)"),
    Code("E0115", "wrong kind of value", "a bool where a number is needed, a number where `on`/`off` is, a float where an integer is, wrong dimensions", "conv 3x3, 16.5"),
    # --- values and shapes ---------------------------------------------------------------------
    Code("E0201", "value out of range", "a filter count, kernel, stride, repeat count, ... that is zero, negative or too large", "conv 3x3, 0"),
    Code("E0202", "non-integer division", "`/` of two integers that does not divide exactly (use `//` to round down)", "conv 3x3, width / 3"),
    Code("E0203", "residual add mismatch", "a block's branch and shortcut have shapes the chosen shortcut cannot reconcile", "shortcut identity with basic(128) x 2, stride 2"),
    Code("E0204", "spatial size too small", "a convolution or pooling leaves a height or width of zero or less", "conv 7x7, 8, padding 0 on a 3×3 input"),
    Code("E0205", "groups do not divide", "a conv's `groups` does not divide its input or output channel count", "conv 3x3, 16, groups 3"),
    Code("E0206", "option A reduces channels", "shortcut A only zero-pads, so it cannot take a block to fewer channels", "shortcut A with bottleneck(8) after 64 channels"),
    Code("E0207", "rounding mismatch", "on an odd size the branch and the shortcut round the stride differently (e.g. 7 → 3 vs 7 → 4)", "conv 2x2, w, stride 2, padding 0 on a 7×7 input"),
    Code("E0208", "needs C×H×W", "a convolution or pooling after `linear`, whose output is a flat vector", "fc: linear 10 then conv 3x3, 16"),
    Code("E0209", "division by zero", "`/`, `//` or `%` by zero", "conv 3x3, 16 / 0"),
    Code("E0210", "split does not divide", "`split n` of a channel count that is not a multiple of n", "split 3 of 64 channels"),
    Code("E0211", "joined values differ", "`concat` of values with different H×W, or `sum` of values with different shapes", "concat parts[0], pooled (56×56 and 28×28)"),
    Code("E0212", "index out of range", "`parts[i]` with i outside the tuple's 0 .. n - 1, or an index of a single value", "parts[4] after parts: split 4"),
    Code("E0213", "several values where one is read", "a tuple (a split, a loop's indexed label) where one value is needed", "conv 3x3, 16, from parts"),
    Code("E0214", "loop rounds differ", "a loop's layer reads other channels in a later round than in the first, so one ModuleList cannot hold the rounds", "for i in 0 .. 2 { c[i]: conv 3x3, 8 } after 32 channels"),
    Code("E0215", "instances flatten different sizes", "one class implements every instance of a block, so a `flatten` in it must see the same H×W in each", "block b(s) { conv 3x3, 4, stride s; flatten; linear 4 } used with s = 1 and 2"),
    Code("E0216", "softmax groups do not divide", "`softmax n, groups g` of a channel count that is not a multiple of n·g", "softmax 2, groups 3 of 64 channels"),
    Code("E0217", "weighted sum of mismatched shapes", "`weighted_sum x, n` whose weights are not x's channels ×1×1, or whose x does not split into n paths", "weights 128×1×1 for paths 64×56×56"),
    # --- size limits ---------------------------------------------------------------------------
    Code("E0301", "size limit", "the spec passes a size limit: statements, tokens, layers, parameters, activations, or blocks nested too deeply; raise with --max-statements/--max-tokens/--max-nodes/--max-params/--max-activations", "layer1: basic(64) x 10000000"),
    # --- expectations --------------------------------------------------------------------------
    Code("E0401", "expectation failed", "an `expect` does not hold for the compiled network", "expect params == 1000"),
    Code("E0402", "misused tolerance", "`within N%` goes with `~`, not with another comparison", "expect params == 100 within 1%"),
    # --- finding the spec ----------------------------------------------------------------------
    Code("E0501", "spec not found", "no such file, an unreadable file, or no bundled spec of that name", "resdsl check resnet5", in_spec=False),
    # --- drawing -------------------------------------------------------------------------------
    Code("E0601", "no renderer", "neither Graphviz's `dot` nor `graphviz-pure` is installed to draw SVG or PNG", "resdsl draw resnet18 -o r.svg", in_spec=False),
    Code("E0602", "unknown drawing format", "a drawing format other than dot, svg or png, or a file name that names none", "resdsl draw resnet18 -o r.gif", in_spec=False),
    Code("E0603", "renderer failed", "the Graphviz renderer could not run or reported an error", "a broken dot program on the PATH", in_spec=False),
    # --- export --------------------------------------------------------------------------------
    Code("E0701", "export extra missing", "ONNX export needs the packages of the `onnx` extra (onnx, onnxscript): pip install \"resdsl[onnx]\"", "resdsl build resnet18 --format onnx -o r.onnx without onnx", in_spec=False),
    Code("E0702", "unknown export format", "an export format other than pt2 or onnx", "resdsl.export(model, 'r.tflite', format='tflite')", in_spec=False),
    Code("E0703", "export failed", "torch's exporter could not capture or translate the module (an operator with no ONNX translation, data-dependent control flow)", "a module calling a custom operator", in_spec=False),
    Code("E0704", "no input shape", "a module that resdsl did not build was exported without `input_shape=(C, H, W)`", "resdsl.export(nn.Linear(4, 2), 'l.pt2')", in_spec=False),
    # --- warnings: the spec builds, but probably not as meant (`--werror` makes them errors) ----
    Code("W0001", "shortcut stride differs", "a shortcut must subsample by a stride other than the block's declared `stride`", "basic(64) on a branch that halves the size by a pool"),
    Code("W0002", "branch collapses", "a residual branch pools the spatial size down to 1×1 before an add its input does not share", "an SE branch that lost its sigmoid gate"),
    Code("W0003", "value never read", "a labelled value that no later statement reads (a dead branch)", "side: conv 3x3, 16, from input (and nothing reads side)"),
]

CODES: dict[str, Code] = {c.code: c for c in _TABLE}


def _cell(text: str) -> str:
    return text.replace("|", "\\|")  # a pipe would end the table cell


def markdown_table() -> str:
    """The codes table of `docs/diagnostics.md` (a test keeps the two equal)."""
    lines = ["| Code | Meaning | Example |", "|------|---------|---------|"]
    for c in _TABLE:
        lines.append(f"| `{c.code}` | **{c.title}**: {c.meaning} | `{_cell(c.example)}` |")
    return "\n".join(lines) + "\n"


def compact_table() -> str:
    """The README's short version: two codes per row, title and example only."""
    rows = ["| Code | Meaning | Example | Code | Meaning | Example |", "|---|---|---|---|---|---|"]
    cells = [f"`{c.code}` | {c.title} | `{_cell(c.example)}`" for c in _TABLE]
    cells += [" | | "] * (len(cells) % 2)
    for left, right in zip(cells[::2], cells[1::2]):
        rows.append(f"| {left} | {right} |")
    return "\n".join(rows) + "\n"
