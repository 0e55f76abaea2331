"""Identifier hygiene for generated Python: the one place spec names become Python names.

Spec names are already `[A-Za-z_][A-Za-z0-9_]*` (the grammar allows no other), but they may
still be Python keywords, builtins, names the generated code itself uses (`x`, `torch`), or
attributes nn.Module relies on (`forward`, `training`). `Namespace.name` maps each spec name to
a safe identifier, stable and unique within its namespace, so a user's name can neither break
nor hijack the generated code. Text carried into comments and docstrings goes through
`doc_text`.
"""

from __future__ import annotations

import builtins
import keyword
import re
import unicodedata

_GENERATED = {
    "torch", "nn", "self", "x", "out", "in_channels", "downsample", "residual", "super",
    "model", "zero_init_residual", "m", "_", "layers",
    "DropPath", "BatchNormAct2d", "BatchNormAct1d", "PadChannels",  # helper classes (resdsl.ir.op_torch) the file may define
    "relu", "out_channels",  # attributes the generated classes set themselves
}


def _module_attrs() -> set[str]:
    try:
        from torch import nn

        return set(dir(nn.Module)) | set(vars(nn.Module()))  # instance attributes too: `training`
    except ImportError:  # the front end does not need torch
        return set()


_RESERVED = set(keyword.kwlist) | set(keyword.softkwlist) | set(dir(builtins)) | _GENERATED


class Namespace:
    """Unique, safe identifiers: `name("class")` -> `class_`, a second `class` -> `class_1`."""

    def __init__(self, reserved: set[str] = frozenset(), module_attrs: bool = False, free: frozenset[str] = frozenset()):
        self._reserved = (_RESERVED - free) | set(reserved) | (_module_attrs() if module_attrs else set())
        self._by_spec: dict[str, str] = {}
        self._used: set[str] = set()

    def name(self, spec_name: str) -> str:
        if spec_name in self._by_spec:
            return self._by_spec[spec_name]
        self._by_spec[spec_name] = self.unique(spec_name)
        return self._by_spec[spec_name]

    def unique(self, text: str) -> str:
        """A new identifier made from `text`, never returned before (no reuse by spec name)."""
        base = re.sub(r"\W", "_", text, flags=re.ASCII) or "unnamed"
        if base.startswith("__"):  # `__x` would be name-mangled inside a class body
            base = base.lstrip("_") or "unnamed"
        if base[0].isdigit():
            base = "_" + base
        if base in self._reserved:
            base = base + "_"
        candidate, i = base, 1
        while candidate in self._used or candidate in self._reserved:
            candidate = f"{base}_{i}"
            i += 1
        self._used.add(candidate)
        return candidate


def class_name(spec_name: str) -> str:
    """`wide_resnet50_2` -> `WideResnet50_2`, `basic` -> `Basic`."""
    parts = [p for p in spec_name.split("_") if p]
    out = ""
    for part in parts:
        sep = "_" if out and part[0].isdigit() else ""
        out += sep + part[0].upper() + part[1:]
    return out or "Network"


def doc_text(text: str) -> str:
    """Text safe inside a one-line comment or a triple-quoted docstring."""
    text = "".join(ch if unicodedata.category(ch)[0] != "C" else " " for ch in str(text))
    return text.replace("\\", "/").replace('"""', "'''").strip()
