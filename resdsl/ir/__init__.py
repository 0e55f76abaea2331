"""The graph IR: a networkx DiGraph whose schema is documented in `resdsl.ir.graph`."""

from resdsl.ir.graph import BlockInfo, StageInfo, add_node, topo_order
from resdsl.ir.verify import verify
from resdsl.ir import pool_gate_ops, value_ops  # noqa: F401  (add their ops to OPS)

__all__ = ["BlockInfo", "StageInfo", "add_node", "topo_order", "verify"]
