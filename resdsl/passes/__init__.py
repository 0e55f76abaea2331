"""Passes over the IR, in the order they run. One file and one public function each.

Each pass takes the graph and a `Reporter`; it reports user mistakes as diagnostics and raises
only for compiler bugs. `PASSES` is the pipeline `resdsl.compiler` runs after elaboration.
"""

from resdsl.passes.check_expectations import check_expectations
from resdsl.passes.check_lowering import check_lowering
from resdsl.passes.count_costs import count_costs
from resdsl.passes.infer_shapes import infer_shapes
from resdsl.passes.insert_shortcuts import insert_shortcuts
from resdsl.passes.validate_residuals import validate_residuals

PASSES = (infer_shapes, insert_shortcuts, validate_residuals, check_lowering, count_costs, check_expectations)

__all__ = ["PASSES", "infer_shapes", "insert_shortcuts", "validate_residuals", "check_lowering", "count_costs", "check_expectations"]
