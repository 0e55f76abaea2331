"""Write the reference manifests in tests/manifests/ from timm and torchvision.

Run it with the python of a reference environment that has torch, torchvision and timm (for
example a venv made with `pip install torch==2.14.1 torchvision==0.29.1 timm`: the PyPI
torchvision wheel needs its matching torch, which CI's CPU torch is not); resdsl itself is not
needed. From the repository root:

    REFPY scripts/reference_manifests.py            # (re)write tests/manifests/*.json
    REFPY scripts/reference_manifests.py --check    # write nothing; exit 1 if any would change

One JSON file per model records the library and its version, the constructor call, the
parameter count, the number of state_dict entries and every state_dict entry as [key, shape]
in the library's own order (never sorted: resdsl must reproduce the order). The torchvision
manifests also list every Conv2d as [name, stride, padding, dilation]. timm_drop_path_rates.json
lists the DropPath probability timm gives each residual block. timm_zoo.json records every model
of timm's ResNet modules (`ZOO_MODULES`, 168 in timm 1.0.31), one line each: its parameter count
and its state_dict layout compressed by `layout_groups` (a digest per block), built on the meta
device. It also writes
scripts/reference_structure.txt: `print(model)` of timm's resnet50d, seresnet50 and resnetv2_50
and the stem and first blocks of resnet18d, to write specs from.

Each manifest carries the sha256 of this file (`generator_sha256`); tests/test_manifests.py
fails when this file has changed since, so edit it and regenerate in the same commit.
Output is deterministic: no timestamps, no randomness (models are built but never run).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "tests" / "manifests"
STRUCTURE = ROOT / "scripts" / "reference_structure.txt"
FORMAT = 1

TIMM_MODELS = [
    "resnet18d",
    "resnet26d",
    "resnet50d",
    "resnet101d",
    "resnet26",
    "resnet50",
    "seresnet50",
    "seresnext50_32x4d",
    "resnetv2_50",
]

# file stem -> (torchvision factory, replace_stride_with_dilation or None)
TORCHVISION_MODELS = {
    "tv_resnet50": ("resnet50", None),
    "tv_resnet50_os16": ("resnet50", [False, False, True]),
    "tv_resnet50_os8": ("resnet50", [False, True, True]),
    "tv_resnet101_os16": ("resnet101", [False, False, True]),
    "tv_resnet101_os8": ("resnet101", [False, True, True]),
}

# timm model -> drop_path_rate
DROP_PATH_MODELS = {"resnet50": 0.1, "resnet18": 0.2, "resnet50d": 0.1, "resnet18d": 0.1, "resnet26d": 0.1}

# timm's modules whose every model timm_zoo.json records (compactly, see `zoo_manifest`)
ZOO_MODULES = ("resnet", "resnetv2", "res2net", "resnest", "sknet", "regnet", "senet")


def generator_sha256() -> str:
    return hashlib.sha256(Path(__file__).read_bytes()).hexdigest()


def _state_dict_fields(model) -> dict:
    sd = model.state_dict()
    return {
        "params": sum(p.numel() for p in model.parameters()),
        "state_dict_entries": len(sd),
        "state_dict": [[key, list(value.shape)] for key, value in sd.items()],
    }


def _convs(model) -> list:
    import torch.nn as nn

    return [
        [name, list(m.stride), m.padding if isinstance(m.padding, str) else list(m.padding), list(m.dilation)]
        for name, m in model.named_modules()
        if isinstance(m, nn.Conv2d)
    ]


def _header(library: str, version: str, name: str, constructor: str) -> dict:
    import torch

    return {
        "format": FORMAT,
        "generator": "scripts/reference_manifests.py",
        "generator_sha256": generator_sha256(),
        "kind": "state_dict",
        "name": name,
        "library": library,
        "library_version": version,
        "torch_version": torch.__version__,
        "constructor": constructor,
    }


def timm_manifest(name: str) -> dict:
    import timm

    model = timm.create_model(name, pretrained=False)
    return {
        **_header("timm", timm.__version__, name, f"timm.create_model({name!r}, pretrained=False)"),
        **_state_dict_fields(model),
    }


def torchvision_manifest(stem: str) -> dict:
    import torchvision
    import torchvision.models as tvm

    factory, dilation = TORCHVISION_MODELS[stem]
    if dilation is None:
        model = getattr(tvm, factory)(weights=None)
        call = f"torchvision.models.{factory}(weights=None)"
    else:
        model = getattr(tvm, factory)(weights=None, replace_stride_with_dilation=dilation)
        call = f"torchvision.models.{factory}(weights=None, replace_stride_with_dilation={dilation!r})"
    return {
        **_header("torchvision", torchvision.__version__, stem, call),
        **_state_dict_fields(model),
        "convs": _convs(model),
    }


def drop_path_manifest() -> dict:
    """Per residual block (timm ResNet: `layerN.M`), the DropPath probability timm assigned."""
    import timm
    import torch

    models = []
    for name, rate in DROP_PATH_MODELS.items():
        model = timm.create_model(name, pretrained=False, drop_path_rate=rate)
        blocks = []
        for stage in ("layer1", "layer2", "layer3", "layer4"):
            for index, block in enumerate(getattr(model, stage)):
                drop_path = getattr(block, "drop_path", None)
                prob = float(getattr(drop_path, "drop_prob", 0.0)) if drop_path is not None else 0.0
                blocks.append([f"{stage}.{index}", prob])
        models.append({
            "name": name,
            "drop_path_rate": rate,
            "constructor": f"timm.create_model({name!r}, pretrained=False, drop_path_rate={rate!r})",
            "blocks": blocks,
        })
    return {
        "format": FORMAT,
        "generator": "scripts/reference_manifests.py",
        "generator_sha256": generator_sha256(),
        "kind": "drop_path_rates",
        "name": "timm_drop_path_rates",
        "library": "timm",
        "library_version": timm.__version__,
        "torch_version": torch.__version__,
        "models": models,
    }


def layout_groups(rows: list) -> list:
    """A state_dict layout ([[key, shape], ...]) compactly: one row [prefix, entries, digest] per
    run of consecutive keys with the same first two components (`layer1.0`, `conv1.1`), the digest
    the first 16 hex digits of the sha256 of the run's rows as JSON. Equal groups mean the same
    keys in the same order with the same shapes; a different group says where they differ."""
    groups: list = []
    for key, shape in rows:
        prefix = ".".join(key.split(".")[:2])
        if not groups or groups[-1][0] != prefix:
            groups.append([prefix, []])
        groups[-1][1].append([key, list(shape)])
    return [[prefix, len(run), hashlib.sha256(json.dumps(run).encode()).hexdigest()[:16]] for prefix, run in groups]


def _zoo_model(name: str):
    """timm's model on the meta device (no memory, no init time); on the CPU where meta fails."""
    import timm
    import torch

    try:
        with torch.device("meta"):
            return timm.create_model(name, pretrained=False)
    except Exception:  # noqa: BLE001 - an initialiser that meta tensors do not support
        return timm.create_model(name, pretrained=False)


def zoo_manifest() -> dict:
    """Every model of `ZOO_MODULES`: its parameter count and state_dict layout as `layout_groups`."""
    import timm
    import torch

    models = []
    for module in ZOO_MODULES:
        for name in timm.list_models(module=module):
            model = _zoo_model(name)
            rows = [[key, list(value.shape)] for key, value in model.state_dict().items()]
            models.append({
                "name": name,
                "module": module,
                "params": sum(p.numel() for p in model.parameters()),
                "state_dict_entries": len(rows),
                "groups": layout_groups(rows),
            })
    return {
        "format": FORMAT,
        "generator": "scripts/reference_manifests.py",
        "generator_sha256": generator_sha256(),
        "kind": "zoo",
        "name": "timm_zoo",
        "library": "timm",
        "library_version": timm.__version__,
        "torch_version": torch.__version__,
        "constructor": "timm.create_model(name, pretrained=False) for name in timm.list_models(module=m)",
        "models": models,
    }


def all_manifests() -> dict[str, dict]:
    """file name -> manifest, in a fixed order."""
    out = {}
    for name in TIMM_MODELS:
        out[f"timm_{name}.json"] = timm_manifest(name)
    for stem in TORCHVISION_MODELS:
        out[f"{stem}.json"] = torchvision_manifest(stem)
    out["timm_drop_path_rates.json"] = drop_path_manifest()
    out["timm_zoo.json"] = zoo_manifest()
    return out


def structure_text() -> str:
    """print(model) of the timm models the specs are written from, with a header."""
    import timm
    import torch

    def section(title: str, body) -> str:
        return f"===== {title} =====\n{body}\n"

    parts = [
        "# Written by scripts/reference_manifests.py (do not edit by hand); "
        f"timm {timm.__version__}, torch {torch.__version__}.\n"
        f"# generator_sha256 {generator_sha256()}\n"
    ]
    for name in ("resnet50d", "seresnet50", "resnetv2_50"):
        model = timm.create_model(name, pretrained=False)
        parts.append(section(f"timm.create_model({name!r}, pretrained=False)", model))
    r18d = timm.create_model("resnet18d", pretrained=False)
    for path in ("conv1", "bn1", "act1", "maxpool"):
        parts.append(section(f"resnet18d.{path} (stem)", r18d.get_submodule(path)))
    for path in ("layer1.0", "layer1.1", "layer2.0"):
        parts.append(section(f"resnet18d.{path}", r18d.get_submodule(path)))
    pool = r18d.get_submodule("layer2.0.downsample.0")  # its repr hides ceil_mode and count_include_pad
    attrs = ("kernel_size", "stride", "padding", "ceil_mode", "count_include_pad", "divisor_override")
    parts.append(section(
        "resnet18d.layer2.0.downsample.0 (all AvgPool2d attributes)",
        f"{type(pool).__name__}(" + ", ".join(f"{a}={getattr(pool, a)!r}" for a in attrs) + ")",
    ))
    for path in ("global_pool", "fc"):
        parts.append(section(f"resnet18d.{path} (head)", r18d.get_submodule(path)))
    return "\n".join(parts)


def dumps(manifest: dict) -> str:
    """JSON with one list row per line (state_dict entries, convs, blocks): reviewable diffs."""
    lines = ["{"]
    items = list(manifest.items())
    for i, (key, value) in enumerate(items):
        comma = "," if i < len(items) - 1 else ""
        if key == "models" and manifest.get("kind") == "zoo":
            rows = ",\n".join(f"    {json.dumps(m)}" for m in value)
            lines.append(f"  {json.dumps(key)}: [\n{rows}\n  ]{comma}")
        elif key in ("state_dict", "convs", "blocks") or (key == "models" and isinstance(value, list)):
            lines.append(f"  {json.dumps(key)}: " + _dump_rows(value, 2) + comma)
        else:
            lines.append(f"  {json.dumps(key)}: {json.dumps(value)}{comma}")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _dump_rows(value: list, indent: int) -> str:
    pad = " " * indent
    if not value:
        return "[]"
    rows = []
    for item in value:
        if isinstance(item, dict):
            inner = []
            for j, (k, v) in enumerate(item.items()):
                comma = "," if j < len(item) - 1 else ""
                body = _dump_rows(v, indent + 4) if k == "blocks" else json.dumps(v)
                inner.append(f"{pad}    {json.dumps(k)}: {body}{comma}")
            rows.append(f"{pad}  {{\n" + "\n".join(inner) + f"\n{pad}  }}")
        else:
            rows.append(f"{pad}  {json.dumps(item)}")
    return "[\n" + ",\n".join(rows) + f"\n{pad}]"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT, help="directory to write (default tests/manifests)")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if a file would change")
    args = parser.parse_args(argv)

    stale = []
    outputs = {}
    for name, manifest in all_manifests().items():
        outputs[args.out / name] = text = dumps(manifest)
        assert json.loads(text) == manifest, name  # the hand-rolled layout is plain JSON
    outputs[STRUCTURE] = structure_text()
    for path, text in outputs.items():
        filename = path.name
        if args.check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(filename)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        summary = json.loads(text).get("params", "") if path.suffix == ".json" else ""
        print(f"{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}  {summary}")
    if stale:
        print("stale or missing files: " + ", ".join(stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
