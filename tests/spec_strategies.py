"""A Hypothesis strategy that writes small, mostly valid `.res` specs with every Language 2 construct.

`specs()` draws a `Drawn(text, tags)`: the spec's text and the set of constructs it used
(statement kinds, guards, definitions, nesting, expression forms), for the coverage table of
tests/test_interpret.py. The generator tracks each value's channels and whether it was
strided or pooled, so most specs pass `check`; the rest still exercise the diagnostics.

Specs stay tiny (inputs 3×8×8 to 3×16×16, 4 to 8 channels) so each builds and runs in a few
milliseconds.

Constructs (tags): guards (`when`) on layers of every kind, on `mul`, `add v`, `linear`, block
uses and stage statements (the last two are errors by design: E0114); guards written
`(stride == 2) == true`; `block`, `sequential` and `shortcut` definitions; a block using a
block, a sequential ending in a block use, a shortcut definition ending in a block use; `let`
with integer and float arithmetic, `/`, functions (`log2`, `round`, `min`, ...), conditional expressions `(4 if c else 2.0)` and lines
over 100 characters; `flatten; linear c` and `batchnorm, relu on` after `linear` inside a
block; floats (dropout p, drop_path); the stage's `index` (also through `pick`), `net_index`, `net_blocks`; named
values (`from`, `mul v`, `add v`, `add from pre`); shortcut policies A, B, C, identity, none,
prelude and user definitions; weight-standardised convs (`ws`) and `pad 1` before an unpadded 3x3; Language 3: `split`, `parts[i]`, a `for` loop with an indexed label
and a re-bound value `let`, `concat` of the loop's values, `sum`; a block used in a loop (`pa[i]: inner(w)`); split attention (`softmax` over paths, `weighted_sum`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hypothesis import strategies as st


@dataclass
class Drawn:
    text: str
    tags: set = field(default_factory=set)

    def __repr__(self) -> str:  # Hypothesis prints the falsifying spec as it would be written
        return f"Drawn(tags={sorted(self.tags)})\n{self.text}"


@dataclass
class _Value:
    """What the generator knows about a value of a block body."""

    channels: str  # "in" (the block's input channels) or "w" (its width)
    strided: bool  # after a stride-carrying conv
    gate: bool = False  # C×1×1 (globally pooled)


class _Body:
    """Writes one block body statement by statement, keeping shapes mostly consistent."""

    def __init__(self, draw, tags: set, inner: str | None, guards: list[str]):
        self.draw, self.tags, self.inner, self.guards = draw, tags, inner, guards
        self.lines: list[str] = []
        self.values = {"input": _Value("in", False)}
        self.cur = _Value("in", False)
        self.labels = 0
        self.strided = False  # the stride has been used (once per body)

    def guard(self, kind: str, p: float = 0.3) -> str:
        if not self.draw(st.booleans()) or self.draw(st.floats(0, 1)) > p * 2:
            return ""
        cond = self.draw(st.sampled_from(self.guards))
        self.tags.add(f"guard:{kind}")
        if "==" in cond and ") == " in cond:
            self.tags.add("guard:chained")
        return f" when {cond}"

    def label(self, stmt: str, value: _Value, name: str | None = None, p: float = 0.3) -> str:
        if name is None and not self.draw(st.floats(0, 1)) < p:
            self.cur = value
            return stmt
        name = name or f"v{self.labels}"
        self.labels += 1
        self.values[name] = value
        self.cur = value
        self.tags.add("label")
        return f"{name}: {stmt}"

    def pick(self, want) -> str | None:
        names = [n for n, v in self.values.items() if want(v)]
        return self.draw(st.sampled_from(names)) if names else None

    def conv(self) -> None:
        size = self.draw(st.sampled_from(["1x1", "3x3"]))
        chans = self.draw(st.sampled_from(["w", "mid", "w * 2 // 2", "(w if flag else w)"]))
        opts = []
        stride = not self.strided and not self.cur.gate and self.draw(st.booleans())
        if stride:
            opts.append("stride stride")
            self.strided = True
        if self.draw(st.booleans()):
            opts.append(self.draw(st.sampled_from(["bn off", "relu off", "bias on", "bn off, relu off", "VALUE", "groups 2", "dilation 2"])))
            if opts[-1] == "VALUE":  # norm and activation values: written in place, or parameters
                opts[-1] = self.draw(st.sampled_from(["norm groupnorm(2), act gelu", "norm groupnorm_size(2)", "norm nm, act ac", "norm batchnorm", "norm evonorm_s0(2), relu off", "norm frn", "act mish", "act hardswish", f"act {_spread(ACTS, ''.join(self.lines) + size + chans)}"]))
                self.tags.add("conv:value")
            self.tags.add("conv:option")
        guard = "" if stride else self.guard("conv")
        if not guard and self.draw(st.booleans()):  # weight standardisation; a 3x3 after `pad 1`, unpadded
            opts.append("ws 0.00001")
            if size == "3x3" and not self.cur.gate and "dilation 2" not in opts:
                self.lines.append("pad 1")
                opts.append("padding 0")
                self.tags.add("stmt:pad")
            self.tags.add("conv:ws")
        stmt = f"conv {size}, {chans}" + "".join(f", {o}" for o in opts) + guard
        value = _Value("w", self.cur.strided or stride, self.cur.gate)
        if guard and self.cur.channels != "w":
            value = _Value("w", self.cur.strided, self.cur.gate)  # guard off: channels may differ (errors are fine)
        self.lines.append(self.label(stmt, value))
        self.tags.add("stmt:conv")

    def simple(self) -> None:
        stmt = self.draw(st.sampled_from(SIMPLE))
        self.tags.add(f"stmt:{stmt.split(',')[0].split(' ')[0]}")
        if stmt.startswith("batchnorm, relu"):
            self.tags.add("stmt:bn_relu")
        self.lines.append(self.label(stmt + self.guard(stmt.split(" ")[0]), self.cur))

    def pre(self) -> None:
        if "pre" in self.values:
            return
        self.lines.append(self.label("batchnorm, relu on" + self.guard("pre"), self.cur, name="pre"))
        self.tags.add("stmt:pre")

    def gate(self) -> None:
        """squeeze and excitation, the gate multiplying a labelled value (or `input`)."""
        if self.cur.gate:
            return
        target = self.pick(lambda v: v.channels == self.cur.channels and v.strided == self.cur.strided and not v.gate)
        chans = "w" if self.cur.channels == "w" else "c_in"
        if chans == "c_in" or target is None:
            return
        self.lines.append("avgpool")
        if self.draw(st.booleans()):  # squeeze and excitation's 1x1 conv, or ECA's conv across the channels
            self.lines.append(f"conv 1x1, {chans}, bias on, bn off, relu off" + self.guard("gate_conv"))
        else:
            self.lines.insert(len(self.lines) - 1, "blur_pool, stride 1")  # before the pool: the map's size is kept
            self.lines.append(f"channel_conv {self.draw(st.sampled_from([1, 3, 5]))}" + self.guard("gate_conv"))
            self.tags |= {"stmt:channel_conv", "stmt:blur_pool"}
        self.lines.append("sigmoid")
        self.cur = _Value(self.cur.channels, self.cur.strided, True)
        stmt = f"mul {target}" + self.guard("mul", p=0.5)
        self.lines.append(self.label(stmt, _Value(self.cur.channels, self.cur.strided, False)))
        self.tags.add("stmt:mul")

    def add_value(self) -> None:
        target = self.pick(lambda v: v == self.cur and v is not self.cur)
        if target is None:
            return
        self.lines.append(self.label(f"add {target}" + self.guard("add_value", p=0.5), self.cur))
        self.tags.add("stmt:add_value")

    def read_from(self) -> None:
        source = self.pick(lambda v: not v.gate)
        if source is None:
            return
        self.lines.append(self.label(f"identity, from {source}", self.values[source]))
        self.tags.add("stmt:from")

    def branches(self) -> None:
        """Language 3: a split into halves, then a Res2Net-style loop joined by `concat`, or a `sum`."""
        if self.cur.channels != "w" or self.cur.gate:
            return
        n = self.labels
        self.labels += 1
        self.lines.append(f"s{n}: split 2")
        if self.draw(st.booleans()):
            self.lines += [
                "for i in 0 .. 2 {",
                f"    let u{n} = s{n}[i] if i == 0 else t{n} + s{n}[i]",
                f"    br{n}[i]: conv 3x3, w // 2, from u{n}" + self.draw(st.sampled_from(["", ", relu off", ", bn off"])),
                f"    let t{n} = br{n}[i]",
                "}",
                f"concat br{n}",
            ]
            self.tags.update({"stmt:for", "stmt:concat", "stmt:let_value"})
        elif self.inner is not None and self.draw(st.booleans()):
            self.selective_kernel(n)
        elif self.draw(st.booleans()):
            self.lines += [f"sum s{n}[0], s{n}[1]", "conv 1x1, w"]
            self.tags.add("stmt:sum")
        else:  # split attention: the paths' sum pooled, a softmax over the paths, their weighted sum
            groups = self.draw(st.sampled_from([1, 2]))
            self.lines[-1:] = [
                f"s{n}x: relu", f"s{n}: split 2", f"sum s{n}", "avgpool", f"conv 1x1, w, groups {groups}, bias on, bn off",
                f"softmax 2, groups {groups}", f"weighted_sum s{n}x, 2", "conv 1x1, w",
            ]
            self.tags.update({"stmt:relu", "stmt:sum", "stmt:softmax", "stmt:weighted_sum"})
        self.cur = _Value("w", self.cur.strided)
        self.tags.update({"stmt:split", "stmt:index"})

    def selective_kernel(self, n: int) -> None:
        """A block in a loop (`pa[i]: inner(w)`, a ModuleList entry per round) on each half or on
        the whole value; the entries concatenated, summed, and weighed by a softmax over them."""
        source = self.draw(st.sampled_from([f"s{n}[i]", f"s{n}x"]))
        self.lines[-1:] = [
            f"s{n}x: identity", f"s{n}: split 2",
            "for i in 0 .. 2 {", f"    pa{n}[i]: {self.inner}(w), from {source}", "}",
            f"st{n}: concat pa{n}", f"sum pa{n}", "avgpool", "conv 1x1, w * 2, bias on, bn off, relu off", "softmax 2", f"weighted_sum st{n}, 2",
        ]
        self.tags.update({"stmt:for_block", "stmt:concat", "stmt:sum", "stmt:softmax", "stmt:weighted_sum"})

    def use_inner(self) -> None:
        if self.inner is None or self.cur.gate:
            return
        self.lines.append(self.label(f"{self.inner}(w)", _Value("w", self.cur.strided)))
        self.tags.add("nest:block_in_block")

    def let_lines(self) -> None:
        self.lines.append("let mid = w * 2 / 2")
        form = self.draw(st.integers(0, 4))
        if form == 1:
            self.lines.append("let a = (2 if flag else 2.0)")
            self.lines.append("let mid2 = w / a")
            self.tags.add("let:ifexp_float")
        elif form == 2:
            long = " + ".join(["w - w"] * 12)
            self.lines.append(f"let zero = ({long})")
            self.lines.append("let mid3 = (w + zero if flag else w * 1)")
            self.tags.add("let:long")
        elif form == 3:
            self.lines.append("let q = w * 0.5")
            self.lines.append("let mid4 = w / 2")
            self.tags.add("let:float")
        elif form == 4:  # functions: ECA's kernel rule, a rounded width that is w again
            self.lines.append("let k = int(abs(log2(w) + 1) / 2)")
            self.lines.append("let mid5 = max(w, min(round(w / 3.0) * 2, floor(w / 2.0), ceil(w / 4.0)))")
            self.lines.append(self.label("conv (k if k % 2 == 1 else k + 1) x 1, mid5", _Value("w", self.cur.strided, self.cur.gate)))
            self.tags.add("let:functions")

    def body(self, residual: bool) -> list[str]:
        self.let_lines()
        if self.draw(st.booleans()):
            self.pre()
        self.conv()
        for _ in range(self.draw(st.integers(0, 4))):
            kind = self.draw(st.sampled_from(["conv", "simple", "simple", "gate", "add_value", "from", "inner"]))
            {"conv": self.conv, "simple": self.simple, "gate": self.gate, "add_value": self.add_value, "from": self.read_from, "inner": self.use_inner}[kind]()
        if self.draw(st.integers(0, 3)) == 0:  # Language 3, in one body of four
            self.branches()
        if self.cur.channels != "w":
            self.conv()
        if residual:
            if "pre" in self.values and self.draw(st.booleans()):
                self.lines.append("add from pre")
                self.tags.add("stmt:add_from_pre")
            else:
                self.lines.append("add")
                self.tags.add("stmt:add")
            if self.draw(st.sampled_from(range(20))) == 7:  # rare: boundaries are what Hypothesis draws most
                self.lines[-1] += " when flag"  # an error by design (E0114)
                self.tags.add("guard:residual_add")
            if self.draw(st.booleans()):
                self.lines.append("relu")
        return self.lines


# The one-layer statements `simple` draws (tests/test_interpret.py also runs each once, explicitly).
SIMPLE = [
    "relu", "sigmoid", "identity", "batchnorm", "batchnorm, relu on", "dropout p", "dropout 0.25",
    "drop_path p", "drop_path 0.1", "maxpool 3x3, stride 1", "maxpool 3x3, stride 1, ceil on", "avgpool 3x3, stride 1, padding 1",
    "avgpool 3x3, stride 1, padding 1, ceil on, count_pad off", "norm nm", "act ac",
]
ACTS = ["relu", "relu6", "leaky_relu", "silu", "gelu", "hardswish", "hardsigmoid", "mish", "tanh", "sigmoid"]
def _spread(choices: list[str], text: str) -> str:
    """A choice that follows from what was drawn already: Hypothesis draws early list items far
    more often, and every activation must be generated within one run."""
    return choices[sum(map(ord, text)) % len(choices)]


GUARDS = ["flag", "not flag", "stride == 2", "(stride == 2) == true", "stride > 1", "w > 4", "p > 0.0", "(w == 4) == false"]


@st.composite
def specs(draw) -> Drawn:
    tags: set = set()
    defs: list[str] = []
    width = draw(st.sampled_from([4, 6, 8]))
    size = draw(st.sampled_from([8, 12, 16]))

    inner = None
    if draw(st.booleans()):  # a small block for others to use
        inner = "inner"
        kind = draw(st.sampled_from(["block", "sequential"]))
        if kind == "block":
            body = _Body(draw, tags, None, GUARDS).body(residual=draw(st.booleans()))
            defs.append("block inner(w, stride = 1, flag = true, p = 0.0, nm = groupnorm(2), ac = silu) {\n" + "".join(f"    {b}\n" for b in body) + "}")
        else:
            defs.append("sequential inner(w, stride = 1, flag = true) {\n    conv 3x3, w\n    conv 1x1, w, bn off when flag\n}")
        tags.add(f"def:{kind}")

    if draw(st.booleans()):  # a sequential: a stem, maybe ending in (or continuing after) a block use
        use = inner if inner and draw(st.booleans()) else None
        lines = ["conv 3x3, w, stride stride", "relu when flag"]
        if use:
            lines.append(f"{use}(w)")
            tags.add("nest:sequential_ends_in_block")
            if draw(st.booleans()):
                lines.append("relu")
                tags.add("nest:sequential_block_then_layer")
        defs.append("sequential stem(w, stride = 1, flag = true) {\n" + "".join(f"    {x}\n" for x in lines) + "}")
        tags.add("def:sequential")
        stem = f"stem: stem({width}, stride {draw(st.sampled_from([1, 2]))})".replace(", stride ", ", stride = ")
    else:
        stem = f"conv 3x3, {width}" + draw(st.sampled_from(["", ", stride 2"]))
        # a value in the network class; non-negative, as ReLU's: a guarded `relu` in a block acts
        # in place on an `identity` of the block input (a known aliasing limit, see the notes)
        stem += f", act {_spread(['relu6', 'hardsigmoid'], ''.join(defs) + stem)}" if draw(st.booleans()) else ""

    policy = draw(st.sampled_from(["A", "B", "C", "identity", "none", "avg_down", "conv_projection", "mine"]))
    tags.add(f"policy:{policy}")
    if policy == "mine":
        lines = ["avgpool 2x2, stride stride, ceil on, count_pad off when stride > 1", "conv 1x1, channels, relu off"]
        if inner and draw(st.booleans()):
            lines.append(f"{inner}(channels)")
            tags.add("nest:shortcut_ends_in_block")
        defs.append("shortcut mine(channels, stride = 1) {\n" + "".join(f"    {x}\n" for x in lines) + "}")
        tags.add("def:shortcut")

    body = _Body(draw, tags, inner, GUARDS).body(residual=True)
    act = _spread(ACTS, "".join(defs) + "".join(body))  # the block's activation parameter: every activation in time
    defs.append(f"block blk(w, stride = 1, flag = true, p = 0.0, nm = groupnorm(2), ac = {act}) {{\n" + "".join(f"    {b}\n" for b in body) + "}")
    tags.add("def:block")

    net = [f"input 3x{size}x{size}", f"shortcut {'mine' if policy == 'mine' else policy}"]
    if draw(st.booleans()):
        net.append("let half = (4 if classes > 3 else 2.0)")
        net.append("let cls = classes * 2 / 2")
        tags.add("let:network")
    net.append(stem)
    if draw(st.booleans()):
        net.append("maxpool 3x3, stride 1" + draw(st.sampled_from(["", " when classes > 3", " when classes > 100"])))
    stages = draw(st.integers(1, 2))
    for i in range(stages):
        args = [str(width * (i + 1))]
        extra = draw(st.sampled_from(["", "flag = (index > 0)", "p = 0.1 * net_index / net_blocks", "flag = (index == 0)", "flag = (pick(index, 1, 0) == 1)"]))
        if extra:
            args.append(extra)
            tags.add("stage:" + ("net_index" if "net_index" in extra else "pick" if "pick" in extra else "index"))
        reps = draw(st.integers(1, 2))
        stride = draw(st.sampled_from(["", ", stride 2"])) if i else ""
        over = draw(st.sampled_from(["", "", ", shortcut B", ", shortcut A"]))
        guard = " when classes > 3" if draw(st.sampled_from(range(12))) == 5 else ""
        if guard:
            tags.add("guard:stage")
        if reps == 1 and not stride and draw(st.booleans()):
            net.append(f"b{i}: blk({', '.join(args)}){guard}")
            tags.add("stmt:block_use")
        else:
            net.append(f"layer{i + 1}: blk({', '.join(args)}) x {reps}{stride}{over}{guard}")
            tags.add("stmt:stage")
    head = draw(st.sampled_from(["avgpool; fc: linear classes", "avgpool; flatten; fc: linear classes", "head: headblk(classes)"]))
    if head.startswith("head"):
        guard = " when classes > 3" if draw(st.booleans()) else ""
        flat = draw(st.sampled_from(["flatten; linear c", "avgpool; linear c", "avgpool; flatten; linear c"]))
        guard = guard.replace("classes", "c")
        after = draw(st.sampled_from(["", "\n    batchnorm, relu on", "\n    batchnorm", "\n    linear c" + guard]))
        defs.append(f"block headblk(c) {{\n    {flat}{after}\n}}")
        tags.add("nest:head_block")
        if guard and "linear c" in after:
            tags.add("guard:linear")
        if "batchnorm" in after:
            tags.add("stmt:bn_after_linear")
    elif draw(st.booleans()):
        head += "; batchnorm, relu on"
        tags.add("stmt:bn_after_linear")
    net.append(head)
    text = "\n".join(defs) + "\nnetwork net(classes = 5) {\n" + "".join(f"    {x}\n" for x in net) + "}\n"
    return Drawn(text, tags)
