"""GPU: resdsl's ResNet-50 against torchvision's, same weights; inference, training, depth.

    python benchmarks/bench_gpu.py               # one run, at most 8 minutes on an H100/H200
    python benchmarks/bench_gpu.py --smoke       # CPU plumbing check: resnet18, tiny sizes, 1 round

One run prints everything docs/benchmarks.md section 4 needs, as markdown tables ready to paste,
each headed by the machine, the torch version and the date. Both models carry the same weights:
torchvision's `resnet50()` state_dict (its seeded initialization) loaded into
`resdsl.build("resnet50")` with strict=True. Without torchvision the script says so and runs
the resdsl rows alone, on resdsl's own initialization.

Groups, each in its own process (caches disabled: `TORCHINDUCTOR_FORCE_DISABLE_CACHES=1` and an
empty cache directory; one throwaway compile first pays inductor's start-up), in this order:
  1. reduce-overhead: resdsl whole, `mode="reduce-overhead"`, inference, alone in its process
     (it failed before with an AssertionError raised right after another failure): measured, or
     the error text torch gave;
  2. inference (bf16 autocast, channels_last, eval, no_grad): eager resdsl and torchvision;
     compiled with the default mode: resdsl whole, resdsl regional, torchvision; the best
     setting (inductor freezing + CUDA graphs through reduce-overhead, or max-autotune when
     reduce-overhead failed in group 1) for resdsl whole and torchvision;
  3. training step (forward, backward, SGD with momentum; bf16 autocast, channels_last):
     eager resdsl and torchvision; compiled (default mode): resdsl whole, regional, torchvision;
  4. deep: resnet152 training step, regional vs whole: cold compile and throughput;
  5. max-autotune-no-cudagraphs, inference: resdsl whole vs torchvision (last: autotuning is the
     slowest compile, and the budget may cut it).
Within a group the rows are timed interleaved, round by round, and medians are reported;
torchvision is always compiled after resdsl's rows, so in-process reuse favours torchvision.
`cudnn.benchmark` is on for every row. torchvision is compiled as resdsl whole is
(`fullgraph=True`, the same mode), inside the same bf16/channels_last wrapper.

Per row: images/s; the ratio to torchvision's matching row; cold compile s (first call minus a
steady call); peak GPU memory (the most allocated during the row's steady calls, minus what was
allocated before the row was built: its weights, optimizer state, CUDA graph pool and
activations); for inference, max |output - fp32 eager output| / max |fp32 eager output|, the
reference computed by resdsl eager in fp32 with TF32 off.

Budget: a global deadline (`--budget`, 450 s) from the start. A group that cannot start before
it prints "skipped: time budget" for each of its rows; a started group skips its remaining
compiles when its share runs out, and the process is stopped at the deadline (rows whose
compile finished still print their compile time). Output is flushed as it goes. The script
never exits non-zero: failures become table cells.
"""

from __future__ import annotations

import argparse
import copy
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

ROW = "ROW "  # a child's result lines: ROW {json}
SKIPPED = "skipped: time budget"

# group -> rows: (row name, contender, what, matching torchvision row or None)
GROUPS = {
    "reduce-overhead": [("reduce-overhead", "resdsl whole", "mode reduce-overhead", None)],
    "inference": [
        ("eager", "resdsl", "eager", "eager tv"),
        ("eager tv", "torchvision", "eager", None),
        ("default whole", "resdsl whole", "compiled, default mode", "default tv"),
        ("default regional", "resdsl regional", "compiled, default mode", "default tv"),
        ("default tv", "torchvision", "compiled, default mode", None),
        ("best whole", "resdsl whole", "best", "best tv"),
        ("best tv", "torchvision", "best", None),
    ],
    "training": [
        ("eager", "resdsl", "eager", "eager tv"),
        ("eager tv", "torchvision", "eager", None),
        ("default whole", "resdsl whole", "compiled, default mode", "default tv"),
        ("default regional", "resdsl regional", "compiled, default mode", "default tv"),
        ("default tv", "torchvision", "compiled, default mode", None),
    ],
    "deep": [
        ("deep regional", "resdsl regional", "compiled, default mode", None),
        ("deep whole", "resdsl whole", "compiled, default mode", None),
    ],
    "autotune": [
        ("autotune whole", "resdsl whole", "max-autotune-no-cudagraphs", "autotune tv"),
        ("autotune tv", "torchvision", "max-autotune-no-cudagraphs", None),
    ],
}
# seconds: the most each group may take on the GPU (the deadline may give it less), and the least
# worth starting a group with. --smoke has no caps, only its own budget.
CAPS = {"reduce-overhead": 60, "inference": 150, "training": 150, "deep": 180, "autotune": 450}
MIN_START = 25


def settings(args) -> dict:
    if args.smoke:
        return dict(device="cpu", spec="resnet18", deep="resnet18", batch=2, deep_batch=2, image=32, rounds=1, seconds=0.02, backend="aot_eager", reserve=5)
    return dict(device="cuda", spec=args.spec, deep=args.deep, batch=args.batch, deep_batch=args.deep_batch, image=224, rounds=args.rounds, seconds=args.seconds, backend="inductor", reserve=20)


def say(*parts) -> None:
    print(*parts, flush=True)


# --- the child: one group in one process ---------------------------------------------------------


class Child:
    def __init__(self, group: str, cfg: dict, until: float, best_mode: str) -> None:
        import torch

        self.torch, self.group, self.cfg, self.until, self.best_mode = torch, group, cfg, until, best_mode
        self.device = cfg["device"]
        self.cuda = self.device == "cuda"
        self.sync = torch.cuda.synchronize if self.cuda else (lambda: None)
        self.made: dict[str, object] = {}
        self.models: dict[str, object] = {}
        self.first: dict[str, float] = {}
        self.peak: dict[str, float | None] = {}
        torch.backends.cudnn.benchmark = True
        try:
            import torchvision
        except ImportError:
            self.tv = None
        else:
            self.tv = torchvision.models

    def emit(self, row: str, **fields) -> None:
        say(ROW + json.dumps({"group": self.group, "row": row, **fields}))

    # models --------------------------------------------------------------------------------

    def weights(self, spec: str):
        """torchvision's initialization of `spec` (seeded), or None without torchvision."""
        if self.tv is None:
            return None
        self.torch.manual_seed(0)
        return getattr(self.tv, spec)()

    def resdsl_model(self, spec: str, base):
        import resdsl

        self.torch.manual_seed(0)
        model = resdsl.build(spec)
        if base is not None:
            model.load_state_dict(base.state_dict(), strict=True)
        return model, resdsl.load(spec)

    def inference_wrap(self, model, net=None):
        from resdsl.backends.inference_recipe import InferenceModel, InferenceRecipe, apply_recipe

        recipe = InferenceRecipe(bf16=True, channels_last=True)
        if net is not None:
            return apply_recipe(model, net, recipe, self.device)
        model = model.eval().to(self.device, memory_format=self.torch.channels_last)
        return InferenceModel(model, True, True).eval()

    def compile(self, model, net, strategy: str, mode: str | None):
        from resdsl.backends.torch_compile import compile_model

        if net is not None:
            return compile_model(model, net, strategy, mode=mode, backend=self.cfg["backend"])
        options = {"fullgraph": True, "backend": self.cfg["backend"]}
        if mode not in (None, "default"):
            options["mode"] = mode
        model.compile(**options)  # as resdsl whole: in place, one graph
        return model

    def contender(self, row: str, spec: str, training: bool):
        """The callable one row times (an inference call or a training step), and its model."""
        torch = self.torch
        _, who, what, _ = next(r for r in GROUPS[self.group] if r[0] == row)
        strategy = who.split()[1] if who.startswith("resdsl ") else None
        mode = {"mode reduce-overhead": "reduce-overhead", "best": self.best_mode, "max-autotune-no-cudagraphs": "max-autotune-no-cudagraphs"}.get(what)
        base = self.weights(spec)
        if who == "torchvision":
            model, net = base, None
        else:
            model, net = self.resdsl_model(spec, base)
        batch = self.cfg["deep_batch"] if self.group == "deep" else self.batch
        x = torch.randn(batch, 3, self.cfg["image"], self.cfg["image"], device=self.device)
        graphs = mode in ("reduce-overhead", "max-autotune") and self.cfg["backend"] == "inductor"
        if not training:
            model = self.inference_wrap(model, net)
            if what != "eager":
                model = self.compile(model, net, strategy or "whole", mode)
            x = x.contiguous(memory_format=torch.channels_last)

            def call():
                if graphs:
                    torch.compiler.cudagraph_mark_step_begin()
                with torch.no_grad():
                    return model(x)

            return call, model
        model = model.train().to(self.device, memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
        y = torch.randint(0, 1000, (batch,), device=self.device)
        if what != "eager":
            model = self.compile(model, net, strategy or "whole", mode)
        opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

        def step():
            with torch.autocast(self.device, dtype=torch.bfloat16):
                loss = torch.nn.functional.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            opt.zero_grad(set_to_none=True)

        return step, model

    # rows ----------------------------------------------------------------------------------

    def reserve(self) -> float:
        """Seconds kept for timing the rows made so far (and the next)."""
        return self.cfg["reserve"] + 1.5 * self.cfg["rounds"] * self.cfg["seconds"] * (len(self.made) + 1)

    def make(self, row: str, spec: str, training: bool) -> None:
        torch = self.torch
        if time.time() > self.until - self.reserve():
            self.emit(row, skipped=SKIPPED)
            return
        say(f"[{self.group}] {row} ...")
        try:
            self.sync()
            base = torch.cuda.memory_allocated() if self.cuda else 0
            fn, model = self.contender(row, spec, training)
            start = time.perf_counter()
            if self.best_mode and "best" in row and self.cfg["backend"] == "inductor":
                with torch._inductor.config.patch(freezing=True):
                    fn()
            else:
                fn()
            self.sync()
            first = time.perf_counter() - start
            fn()  # a second warm call: CUDA graphs record on their second run
            self.sync()
            if self.cuda:
                torch.cuda.reset_peak_memory_stats()
            start = time.perf_counter()
            fn()
            fn()
            self.sync()
            alone = 2 / (time.perf_counter() - start)  # calls per second, before any interleaving
            peak = (torch.cuda.max_memory_allocated() - base) / 2**30 if self.cuda else None
        except Exception as err:  # noqa: BLE001 - one failed row must not lose the others
            text = f"{type(err).__name__}: {err}"
            say(f"[{self.group}] {row} failed: {text[:300]}")
            self.emit(row, failed=text[:4000], trace=traceback.format_exc()[-3000:])
            return
        self.made[row], self.models[row], self.first[row], self.peak[row] = fn, model, first, peak
        batch = self.cfg["deep_batch"] if self.group == "deep" else self.batch
        self.emit(row, first_s=first, peak_gib=peak, alone_images_s=alone * batch, alone_compile_s=max(first - 1 / alone, 0.0), batch=batch)

    def run(self) -> None:
        torch = self.torch
        cfg = self.cfg
        self.batch = cfg["batch"]
        torch.compile(lambda t: torch.relu(t) + 1, backend=cfg["backend"])(torch.ones(8, device=self.device))  # start-up
        training = self.group in ("training", "deep")
        spec = cfg["deep"] if self.group == "deep" else cfg["spec"]
        if self.group == "training":
            self.batch = self.fit_batch(spec)
        reference = None
        if not training:
            base = self.weights(spec)
            plain, _ = self.resdsl_model(spec, base)
            plain = plain.eval().to(self.device)
            torch.manual_seed(1)
            self.x_ref = torch.randn(self.batch, 3, cfg["image"], cfg["image"], device=self.device)
            tf32 = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
            torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False  # a true fp32 reference
            with torch.no_grad():
                reference = plain(self.x_ref)
            torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = tf32
            del plain, base
        for row, who, _, _ in GROUPS[self.group]:
            if who == "torchvision" and self.tv is None:
                self.emit(row, skipped="not measured: torchvision is not installed")
                continue
            self.make(row, spec, training)
        if not self.made:
            return
        from _common import interleaved

        times = interleaved(self.made, cfg["rounds"], cfg["seconds"], self.sync)
        batch = cfg["deep_batch"] if self.group == "deep" else self.batch
        for row, seconds in times.items():
            fields = {"images_s": batch / seconds, "compile_s": max(self.first[row] - seconds, 0.0), "peak_gib": self.peak[row], "batch": batch}
            if reference is not None:
                fields["error"] = self.output_error(row, reference)
            self.emit(row, **fields)

    def output_error(self, row: str, reference) -> float:
        """The row's error against fp32 eager on the reference input (each row times its own input)."""
        torch = self.torch
        x = self.x_ref.contiguous(memory_format=torch.channels_last)
        with torch.no_grad():
            torch.compiler.cudagraph_mark_step_begin()  # CUDA graph rows: a new step, not an overwrite
            out = self.models[row](x).float()
        return ((out - reference).abs().max() / reference.abs().max()).item()

    def fit_batch(self, spec: str) -> int:
        """The asked batch, halved until an eager training step fits in memory."""
        torch = self.torch
        batch = self.batch
        while self.cuda and batch > 8:
            try:
                model, _ = self.resdsl_model(spec, None)
                model = model.train().to(self.device, memory_format=torch.channels_last)
                x = torch.randn(batch, 3, self.cfg["image"], self.cfg["image"], device=self.device).contiguous(memory_format=torch.channels_last)
                with torch.autocast("cuda", dtype=torch.bfloat16):
                    model(x).float().sum().backward()
                del model, x
                torch.cuda.empty_cache()
                return batch
            except torch.cuda.OutOfMemoryError:
                torch.cuda.empty_cache()
                batch //= 2
                say(f"[training] out of memory; trying batch {batch}")
        return batch


def child_main(args) -> None:
    Child(args.child, settings(args), args.until, args.best_mode).run()


# --- the parent: groups in order, under one deadline, tables as they finish --------------------


def run_group(group: str, args, deadline: float, best_mode: str) -> list[dict]:
    remaining = deadline - time.time()
    if remaining < MIN_START or (args.only and group not in args.only):
        why = SKIPPED if remaining < MIN_START else "not run: not in --only"
        return [{"row": r[0], "skipped": why} for r in GROUPS[group]]
    budget = remaining if args.smoke else min(CAPS[group], remaining)
    until = time.time() + budget - 5
    cmd = [sys.executable, "-u", __file__, "--child", group, "--until", str(until), "--best-mode", best_mode]
    cmd += ["--smoke"] if args.smoke else ["--spec", args.spec, "--deep", args.deep, "--batch", str(args.batch), "--deep-batch", str(args.deep_batch), "--rounds", str(args.rounds), "--seconds", str(args.seconds)]
    rows: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, TORCHINDUCTOR_FORCE_DISABLE_CACHES="1", TORCHINDUCTOR_CACHE_DIR=cache, PYTHONPATH=os.pathsep.join(filter(None, [str(HERE.parent), os.environ.get("PYTHONPATH")])))
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
        tail: list[str] = []

        def read() -> None:
            for line in proc.stdout:
                if line.startswith(ROW):
                    data = json.loads(line[len(ROW):])
                    rows.setdefault(data["row"], {}).update(data)
                elif line.startswith("["):
                    say("  " + line.rstrip())
                else:
                    tail.append(line)
                    del tail[:-40]

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        try:
            proc.wait(timeout=max(budget, 1))
            stopped = None
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            stopped = SKIPPED
        reader.join(timeout=10)
    out = []
    for row, *_ in GROUPS[group]:
        got = rows.get(row, {"row": row})
        if "images_s" not in got and "failed" not in got and "skipped" not in got:
            if "alone_images_s" in got:  # made, but the interleaved timing did not finish
                got["images_s"], got["compile_s"] = got["alone_images_s"], got["alone_compile_s"]
                got["alone"] = True
            elif stopped:
                got["skipped"] = SKIPPED
            else:
                got["failed"] = f"the group's process ended (exit {proc.returncode}): " + "".join(tail[-8:]).strip()[-1500:]
        out.append(got)
    return out


def header(cfg: dict, args) -> str:
    import torch

    from _common import cpu_model

    try:
        import torchvision

        tv = f"torchvision {torchvision.__version__}"
    except ImportError:
        tv = "torchvision not installed (resdsl rows only, resdsl's own initialization)"
    gpu = torch.cuda.get_device_name() if cfg["device"] == "cuda" else "no GPU (--smoke: CPU, plumbing only, numbers mean nothing)"
    return (f"Machine: {gpu}; {cpu_model()}, {os.cpu_count()} cores; Python {platform.python_version()}; "
            f"torch {torch.__version__}; {tv}; {datetime.date.today().isoformat()}.")


def cell(value, fmt: str) -> str:
    return "" if value is None else format(value, fmt)


def table(title: str, what: str, rows: list[dict], group: str, machine: str, inference: bool) -> None:
    by_row = {r["row"]: r for r in rows}
    say("")
    say(f"#### {title}")
    say("")
    say(machine)
    say(what)
    say("")
    cols = "| setting | model | images/s | × torchvision | cold compile s | peak GPU GiB |" + (" max error |" if inference else "")
    say(cols)
    say("|" + "---|" * (cols.count("|") - 1))
    for row, who, setting, match in GROUPS[group]:
        r = by_row.get(row, {})
        note = r.get("skipped") or (f"failed: {r['failed'].splitlines()[0][:160]}" if r.get("failed") else None)
        if note:
            say(f"| {setting} | {who} | {note} |" + " |" * (4 if inference else 3))
            continue
        ratio = None
        if match and by_row.get(match, {}).get("images_s"):
            ratio = r["images_s"] / by_row[match]["images_s"]
        compiled = cell(r.get("compile_s"), ".1f") if setting != "eager" else ""
        alone = " (timed alone: the group was stopped before its interleaved rounds)" if r.get("alone") else ""
        line = f"| {setting} | {who} | {r['images_s']:,.0f}{alone} | {cell(ratio, '.3f')} | {compiled} | {cell(r.get('peak_gib'), '.2f')} |"
        if inference:
            line += f" {cell(r.get('error'), '.1e')} |"
        say(line)
    for r in rows:
        if r.get("failed") and r.get("trace"):
            say("")
            say(f"{r['row']}: torch's error, verbatim (last lines):")
            say("```")
            say(r["trace"].strip()[-1500:])
            say("```")


def parent_main(args) -> None:
    start = time.time()
    deadline = start + args.budget
    cfg = settings(args)
    import torch

    if cfg["device"] == "cuda" and not torch.cuda.is_available():
        say("skipped: no CUDA (run with --smoke for a CPU check of the script itself)")
        return
    machine = header(cfg, args)
    say(machine)
    say(f"budget {args.budget:.0f} s; batch {cfg['batch']}; {cfg['rounds']} interleaved rounds; medians")
    spec, deep = cfg["spec"], cfg["deep"]
    prec = "bf16 autocast, channels_last"
    rows_ro = run_group("reduce-overhead", args, deadline, "reduce-overhead")
    failed = "failed" in rows_ro[0]
    best_mode = "max-autotune" if failed else "reduce-overhead"
    table("Whole compilation with reduce-overhead (CUDA graphs), alone in its process", f"{spec}, inference, batch {cfg['batch']}, {prec}, eval, no_grad.", rows_ro, "reduce-overhead", machine, True)
    say("")
    verdict = "fails (torch's error above)" if failed else ("works" if "images_s" in rows_ro[0] else "not measured")
    say(f"reduce-overhead, whole: {verdict}; the best setting below uses mode={best_mode}.")
    rows = run_group("inference", args, deadline, best_mode)
    table("Inference: resdsl vs torchvision", f"{spec}, batch {cfg['batch']}, {prec}, eval, no_grad. Best = inductor freezing + mode={best_mode} (CUDA graphs), whole; cudnn.benchmark on in every row.", rows, "inference", machine, True)
    rows = run_group("training", args, deadline, best_mode)
    batch = next((r["batch"] for r in rows if "batch" in r), cfg["batch"])
    table("Training step: resdsl vs torchvision", f"{spec}, batch {batch}, forward + backward + SGD (momentum 0.9) step, {prec}; compiled rows: default mode, the model only (not the optimizer).", rows, "training", machine, False)
    rows = run_group("deep", args, deadline, best_mode)
    table("Depth: regional vs whole, training step", f"{deep}, batch {cfg['deep_batch']}, training step as above, {prec}, default mode.", rows, "deep", machine, False)
    rows = run_group("autotune", args, deadline, best_mode)
    table("Inference, max-autotune-no-cudagraphs", f"{spec}, batch {cfg['batch']}, {prec}, eval, no_grad.", rows, "autotune", machine, True)
    say("")
    say(f"done in {time.time() - start:.0f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="CPU: resnet18, batch 2, 32x32 images, 1 round, aot_eager backend")
    parser.add_argument("--budget", type=float, help="seconds for the whole run (default 450, 7.5 minutes; --smoke: 900)")
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--deep", default="resnet152", help="the deep row's spec")
    parser.add_argument("--deep-batch", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=1.0, help="seconds per contender per round")
    parser.add_argument("--only", nargs="+", choices=list(GROUPS), help="run these groups only (the others print 'not run')")
    parser.add_argument("--spec", default="resnet50", help=argparse.SUPPRESS)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--until", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--best-mode", default="reduce-overhead", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.budget is None:
        args.budget = 900.0 if args.smoke else 450.0
    try:
        (child_main if args.child else parent_main)(args)
    except Exception:  # noqa: BLE001 - the run must print what it has, never fail outright
        say(f"error: {traceback.format_exc()[-2000:]}")


if __name__ == "__main__":
    main()
