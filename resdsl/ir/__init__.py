"""The graph IR: a networkx DiGraph whose schema is documented in `resdsl.ir.graph`.

The op registry `resdsl.ir.ops.OPS` is one table written in seven files; importing `resdsl.ir`
registers them all: `ops` (convolutions, pools, joins), `ops_values` (split, part, concat, sum),
`norm_act_ops` (group norm and the activations a norm/act value names), `pool_gate_ops`
(ECA's channel conv, the blur pool), `ops_attention` (the softmax over paths, the weighted sum),
`std_conv_ops` (BiT's weight-standardised conv, zero padding) and `norm_nonlinear_ops` (EvoNorm-S0,
Filter Response Norm with TLU).

Nothing else is imported here: the parser imports the expression nodes (`resdsl.ir.expr`), and
`resdsl fmt` or the language server's first answer should not wait for networkx.
"""

from resdsl.ir import norm_act_ops, norm_nonlinear_ops, ops_attention, ops_values, pool_gate_ops, std_conv_ops  # noqa: F401  (they add their ops to OPS)
