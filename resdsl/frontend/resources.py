"""Where the grammar, the prelude and the bundled specs are found.

In a wheel they travel inside the package (`resdsl/_data/...`, see pyproject.toml); in a source
checkout or an editable install they are read from the repository's top-level folders.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent.parent  # resdsl/, where frontend/ lives


def data_dir(name: str) -> Path:
    """The folder `grammars` or `specs`, wherever this installation keeps it."""
    for candidate in (_PACKAGE / "_data" / name, _PACKAGE.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"resdsl installation is missing its {name}/ folder")


def grammar_path() -> Path:
    return data_dir("grammars") / "resdsl.lark"


def prelude_path() -> Path:
    return _PACKAGE / "prelude.res"


def bundled_specs() -> dict[str, Path]:
    """Bundled spec names (file stems) to paths, sorted by name."""
    return {p.stem: p for p in sorted(data_dir("specs").glob("*.res"))}
