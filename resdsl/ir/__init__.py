"""The graph IR: a networkx DiGraph whose schema is documented in `resdsl.ir.graph`."""

from resdsl.ir import ops_values  # noqa: F401  registers the ops of several values in OPS
from resdsl.ir import ops_attention  # noqa: F401  registers the softmax over paths and the weighted sum
from resdsl.ir.graph import BlockInfo, StageInfo, add_node, topo_order
from resdsl.ir.verify import verify

__all__ = ["BlockInfo", "StageInfo", "add_node", "topo_order", "verify"]
