"""Two fixed-shape ops of timm's ResNet variants, one `OpDef` each, merged into `OPS` when
`resdsl.ir` is imported:

- `channel_conv`: ECA's gate (Wang et al. 2020, timm's EcaModule): a 1-D convolution of kernel k
  across the channels of a C×1×1 value, zero padding (k−1)/2, no bias. Costs: k parameters, k·C
  multiply-adds (what the conv1d runs).
- `blur_pool`: anti-aliased downsampling (Zhang 2019, timm's BlurPool2d): a fixed 3×3 binomial
  filter ([1, 2, 1]/4 outer itself) per channel, reflect padding 1, stride 2 by default. The
  filter is a buffer that is not saved (no `state_dict` key, no parameter). Costs: 9 multiply-adds
  per output element (the depthwise conv it runs), 0 parameters.
"""

from __future__ import annotations

import math

from resdsl.ir.ops import OPS, OpDef, ShapeError, _functional, fmt_shape


def _channel_conv_shape(params, inputs):
    (shape,) = inputs
    k = params["kernel"]
    if len(shape) != 3 or shape[1:] != (1, 1):
        raise ShapeError("E0208", f"channel_conv needs a C×1×1 input (a pooled gate), got {fmt_shape(shape)}", help="put a global `avgpool` before it")
    if k % 2 == 0:
        raise ShapeError("E0201", f"channel_conv needs an odd kernel, got {k}", help="an odd kernel keeps the channel count: 3, 5, 7")
    return shape


def _channel_conv_run(p: dict, xs: list, w: dict):
    x = xs[0]
    y = _functional().conv1d(x.view(x.shape[0], 1, -1), w["weight"], None, 1, (p["kernel"] - 1) // 2)
    return y.view_as(x)


CHANNEL_CONV_HELPER = '''class ChannelConv(nn.Conv1d):
    """ECA's gate: a 1-D conv across the channels of a C x 1 x 1 value; its weights are a Conv1d's."""

    def __init__(self, kernel_size: int) -> None:
        super().__init__(1, 1, kernel_size, padding=(kernel_size - 1) // 2, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.view(x.shape[0], 1, -1)).view_as(x)
'''


def _blur_shape(params, inputs):
    (shape,) = inputs
    if len(shape) != 3:
        raise ShapeError("E0208", f"blur_pool needs a C×H×W input, got {fmt_shape(shape)}", help="put it before the layer that flattens the map")
    c, h, w = shape
    if min(h, w) < 2:
        raise ShapeError("E0204", f"blur_pool's reflect padding needs a size of at least 2×2, got {h}×{w}", help="use a larger input or fewer strides")
    s = params["stride"]
    return (c, (h - 1) // s + 1, (w - 1) // s + 1)


def _blur_filter(channels: int, like):
    import torch

    taps = torch.tensor([1.0, 2.0, 1.0], dtype=like.dtype, device=like.device) / 4
    return (taps[:, None] * taps[None, :]).expand(channels, 1, 3, 3)


def _blur_run(p: dict, xs: list, w: dict):
    x = _functional().pad(xs[0], (1, 1, 1, 1), mode="reflect")
    return _functional().conv2d(x, _blur_filter(x.shape[1], x), None, p["stride"], 0, 1, x.shape[1])


BLUR_HELPER = '''class BlurPool2d(nn.Module):
    """Anti-aliased downsampling (Zhang 2019): a fixed 3x3 binomial blur per channel, reflect
    padding, then the stride. The filter is a buffer that is not saved with the weights."""

    def __init__(self, channels: int, stride: int = 2) -> None:
        super().__init__()
        self.channels = channels
        self.stride = stride
        taps = torch.tensor([1.0, 2.0, 1.0]) / 4
        self.register_buffer("filt", (taps[:, None] * taps[None, :]).expand(channels, 1, 3, 3).contiguous(), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = nn.functional.pad(x, (1, 1, 1, 1), mode="reflect")
        return nn.functional.conv2d(x, self.filt, stride=self.stride, groups=self.channels)
'''


POOL_GATE_OPS: dict[str, OpDef] = {
    op.name: op
    for op in [
        OpDef(
            "channel_conv", 1, _channel_conv_shape,
            params=lambda p, i, o: p["kernel"], macs=lambda p, i, o: p["kernel"] * o[0],
            torch=lambda a, dims: f"ChannelConv({a['kernel']})", helper=CHANNEL_CONV_HELPER,
            interpret=_channel_conv_run, label=lambda p: f"1-d conv {p['kernel']} across channels", role="conv", tensors=("weight",),
        ),
        OpDef(
            "blur_pool", 1, _blur_shape, macs=lambda p, i, o: 9 * math.prod(o),  # a conv: counted in macs, no element ops
            torch=lambda a, dims: f"BlurPool2d({dims[0].channels}" + ("" if a["stride"] == "2" else f", stride={a['stride']}") + ")",
            helper=BLUR_HELPER, interpret=_blur_run,
            label=lambda p: "blur pool" + (f", /{p['stride']}" if p["stride"] > 1 else ""), role="pool",
            phrase=lambda p, in_block: "3×3 blur pool" + (f", stride {p['stride']}" if p["stride"] > 1 else ""),
        ),
    ]
}

OPS.update(POOL_GATE_OPS)  # one registry: `resdsl.ir` imports this module
