"""Passes over the IR, in the order they run. One file and one public function each.

Each pass takes the graph and a `Reporter`; it reports user mistakes as diagnostics and raises
only for compiler bugs. `PASSES` is the pipeline `resdsl.compiler` runs after elaboration; each
entry says whether the pipeline stops after it when errors were reported (later passes would
only repeat them in other words) and which facts it establishes, which `ir.verify` checks
after it runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from resdsl.passes.check_expectations import check_expectations
from resdsl.passes.check_lowering import check_lowering
from resdsl.passes.check_rounds import check_rounds
from resdsl.passes.count_costs import count_costs
from resdsl.passes.find_dead_values import find_dead_values
from resdsl.passes.infer_shapes import infer_shapes
from resdsl.passes.insert_shortcuts import insert_shortcuts
from resdsl.passes.lower_definitions import lower_definitions
from resdsl.passes.validate_residuals import validate_residuals


@dataclass(frozen=True)
class Pass:
    run: Callable
    stops_on_error: bool = False
    establishes: tuple[str, ...] = ()  # facts of `resdsl.ir.verify.FACTS` true after it (on an error-free graph)

    @property
    def name(self) -> str:
        return self.run.__name__


PASSES = (
    Pass(infer_shapes, establishes=("shapes",)),
    Pass(insert_shortcuts, establishes=("shapes", "shortcuts")),
    Pass(validate_residuals, stops_on_error=True),  # a mismatched add makes every later count wrong
    Pass(check_lowering),
    Pass(check_rounds),
    Pass(find_dead_values),
    Pass(count_costs, establishes=("costs",)),
    Pass(check_expectations),
    Pass(lower_definitions, establishes=("lowered",)),
)

__all__ = ["PASSES", "Pass", "infer_shapes", "insert_shortcuts", "validate_residuals", "check_lowering", "check_rounds", "find_dead_values", "count_costs", "check_expectations", "lower_definitions"]
