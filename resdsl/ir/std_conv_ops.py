"""Two ops of BiT (Kolesnikov et al. 2020, timm's ResNetV2 `*_bit` models), one `OpDef` each,
merged into `OPS` when `resdsl.ir` is imported:

- `std_conv`: a convolution whose weight is standardised per output channel before it is used
  (Qiao et al. 2019, "Weight Standardization"; timm's StdConv2d): each output channel's
  C_in/groups·kh·kw weights less their mean, divided by sqrt(variance + eps), the variance
  biased (divided by the count), eps above 0 (E0201). Written `conv ..., ws EPS`; its parameters and `state_dict`
  keys are a plain conv's. Costs: a conv's parameters and multiply-adds; under `all` one
  operation per weight element (the standardisation, a batch norm over the weight at every
  call), and the standardised weight counts as activations (`OpDef.scratch`).
- `pad`: constant zero padding of `size` on every side of the map (timm's `nn.ConstantPad2d`,
  BiT's stem before its max pool, which then pads nothing): no parameters, no operations (it
  moves data), one tensor of its output's size.
"""

from __future__ import annotations

from resdsl.ir.op_torch import conv_torch
from resdsl.ir.ops import OPS, OpDef, ShapeError, _functional, _needs_map


def _std_conv_shape(params, inputs):
    if not params["eps"] > 0:  # PyTorch's batch norm over the weight refuses it when the module runs
        raise ShapeError("E0201", f"conv ws needs an eps above 0, got {params['eps']:g}", help="timm's BiT uses `ws 1e-8`, StdConv2d's default is 1e-6")
    return OPS["conv"].infer(params, inputs)


def _weight_elements(params, inputs, out) -> int:
    kh, kw = params["kernel"]
    return out[0] * (inputs[0][0] // params["groups"]) * kh * kw


def _std_conv_run(p: dict, xs: list, w: dict):
    # per output channel: less the mean, over sqrt(biased variance + eps); computed with batch
    # norm's kernel over the weight, as timm's StdConv2d and the generated class do, so that the
    # float32 rounding is the same (two formulas differed by 1e-5 after a few normalizing layers;
    # tests/test_std_conv.py checks the formula by hand)
    weight = w["weight"]
    flat = weight.reshape(1, weight.shape[0], -1)
    standard = _functional().batch_norm(flat, None, None, training=True, momentum=0.0, eps=p["eps"]).reshape_as(weight)
    return _functional().conv2d(xs[0], standard, w.get("bias"), p["stride"], p["padding"], p["dilation"], p["groups"])


def _std_conv_torch(a: dict, dims) -> str:
    return "StdConv2d" + conv_torch(a, dims)[len("nn.Conv2d"):-1] + f", eps={a['eps']})"


STD_CONV_HELPER = '''class StdConv2d(nn.Conv2d):
    """A conv whose weight is standardised per output channel at every call (Weight
    Standardization, Qiao et al. 2019): zero mean, unit (biased) variance plus `eps`."""

    def __init__(self, *args, eps: float = 1e-6, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.weight
        w = nn.functional.batch_norm(w.reshape(1, w.shape[0], -1), None, None, training=True, momentum=0.0, eps=self.eps).reshape_as(w)
        return nn.functional.conv2d(x, w, self.bias, self.stride, self.padding, self.dilation, self.groups)
'''


def _pad_shape(params, inputs):
    (shape,) = inputs
    _needs_map(shape, "pad")
    c, h, w = shape
    s = params["size"]
    return (c, h + 2 * s, w + 2 * s)


_conv = OPS["conv"]

STD_CONV_OPS: dict[str, OpDef] = {
    op.name: op
    for op in [
        OpDef(
            "std_conv", 1, _std_conv_shape, _conv.params, _conv.macs, element_ops=_weight_elements, scratch=_weight_elements,
            torch=_std_conv_torch, helper=STD_CONV_HELPER, interpret=_std_conv_run,
            label=lambda p: _conv.label(p) + ", ws", phrase=_conv.phrase, absorbs=_conv.absorbs,
            weighted=True, convolves=True, channels_param="out_channels", tensors=("weight",),
        ),
        OpDef(
            "pad", 1, _pad_shape, torch=lambda a, dims: f"nn.ConstantPad2d({a['size']}, 0.0)",
            interpret=lambda p, xs, w: _functional().pad(xs[0], (p["size"],) * 4),
            label=lambda p: f"zero pad {p['size']}", role="zero_pad",
        ),
    ]
}

OPS.update(STD_CONV_OPS)  # one registry: `resdsl.ir` imports this module
