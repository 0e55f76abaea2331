"""The shortcut policies, in one table: what `shortcut A|B|C|identity|none` means to every reader.

The elaborator checks a policy name against it (anything else must name a `shortcut`
definition), `passes.insert_shortcuts` decides from it where a shortcut definition is
instantiated, `passes.validate_residuals` takes its help line from it, and the language server
shows its `doc` in hover and completion.

Invariants: `definition` names a `shortcut` definition of the prelude (or None: no shortcut
branch is ever built); `everywhere` policies instantiate it on every residual block, the others
only where the branch changes C×H×W; `adds` is False only for `none` (a plain network: the
add is removed).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Policy:
    name: str
    doc: str  # one line, for hover, completion and docs
    definition: str | None = None  # the shortcut definition it instantiates
    everywhere: bool = False  # on every block, not only where C×H×W changes
    adds: bool = True  # False: no shortcut and no add
    help: str = ""  # suggested when a block's shortcut cannot match its branch

    def origin(self, definition: str) -> str:
        """Why an instantiated shortcut's nodes exist (the IR's `origin`)."""
        if definition == "projection":
            return f"1×1 projection inserted by shortcut {self.name}"
        if definition == "zero_pad":
            return f"zero-padding shortcut inserted by shortcut {self.name}"
        return f"shortcut `{definition}` inserted by shortcut {self.name}"


POLICIES: dict[str, Policy] = {
    p.name: p
    for p in [
        Policy(
            "A", "identity; zero-padded channels and subsampling where dimensions change", "zero_pad",
            help="option A only subsamples and zero-pads; use `shortcut B` (1×1 projection) here",
        ),
        Policy("B", "identity; 1×1 projection where dimensions change", "projection"),
        Policy("C", "1×1 projection on every block", "projection", everywhere=True),
        Policy(
            "identity", "identity only; an error where dimensions change",
            help="shortcut `identity` cannot change shape; use `shortcut B` (1×1 projection) or `A` (zero padding)",
        ),
        Policy("none", "no shortcut and no add (a plain network)", adds=False),
    ]
}


def policy(name: str) -> Policy:
    """The policy `name`: a named one, or a `shortcut` definition used where C×H×W changes
    (the elaborator has checked that such a definition exists)."""
    return POLICIES.get(name) or Policy(name, f"the shortcut definition `{name}` where dimensions change", name)
