"""PyTorch constructor source for each op (`OpDef.torch`) and the helper classes it may need.

`torch(args, dims)`: `args` are Python expression strings (a literal such as "3" or a symbolic
one such as "width * 4"; pairs as (h, w) tuples of strings); `dims` has one entry per operand,
`Dims(channels, features, rank)` as strings. The result is constructor source that leaves out
arguments equal to PyTorch's defaults.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Dims:
    """An operand's size as Python source: channels (C), flattened features (C·H·W), rank."""

    channels: str
    features: str
    rank: int


def pair(value: str | tuple[str, str]) -> str:
    if isinstance(value, tuple):
        return value[0] if value[0] == value[1] else f"({value[0]}, {value[1]})"
    return value


def kwargs(pairs: list[tuple[str, str, str]]) -> str:
    """`name=value` for each (name, value, default) whose value is not the default."""
    return "".join(f", {name}={value}" for name, value, default in pairs if value != default)


def conv_torch(a: dict, dims: list[Dims]) -> str:
    return (
        f"nn.Conv2d({dims[0].channels}, {a['out_channels']}, kernel_size={pair(a['kernel'])}"
        + kwargs(
            [
                ("stride", pair(a["stride"]), "1"),
                ("padding", pair(a["padding"]), "0"),
                ("dilation", pair(a["dilation"]), "1"),
                ("groups", a["groups"], "1"),
                ("bias", a["bias"], "True"),
            ]
        )
        + ")"
    )


def bn_torch(a: dict, dims: list[Dims]) -> str:
    return f"nn.BatchNorm{1 if dims[0].rank == 1 else 2}d({dims[0].channels})"


def maxpool_torch(a: dict, dims: list[Dims]) -> str:
    return f"nn.MaxPool2d(kernel_size={pair(a['kernel'])}, stride={pair(a['stride'])}" + kwargs(
        [("padding", pair(a["padding"]), "0"), ("ceil_mode", a["ceil"], "False")]
    ) + ")"


def avgpool_torch(a: dict, dims: list[Dims]) -> str:
    return f"nn.AvgPool2d(kernel_size={pair(a['kernel'])}, stride={pair(a['stride'])}" + kwargs(
        [
            ("padding", pair(a["padding"]), "0"),
            ("ceil_mode", a["ceil"], "False"),
            ("count_include_pad", a["count_pad"], "True"),
        ]
    ) + ")"


def linear_torch(a: dict, dims: list[Dims]) -> str:
    return f"nn.Linear({dims[0].features}, {a['out_features']}" + kwargs([("bias", a["bias"], "True")]) + ")"


BN_ACT_HELPER = '''class BatchNormAct2d(nn.BatchNorm2d):
    """Batch norm followed by ReLU, as one module (timm's name); its weights are a BatchNorm2d's."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(super().forward(x))
'''

BN_ACT1D_HELPER = '''class BatchNormAct1d(nn.BatchNorm1d):
    """Batch norm of a vector (after `linear`) followed by ReLU, as one module."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(super().forward(x))
'''

DROP_PATH_HELPER = '''class DropPath(nn.Module):
    """Stochastic depth: in training, zero the whole branch of a sample with probability p."""

    def __init__(self, p: float = 0.0) -> None:
        super().__init__()
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.p == 0.0 or not self.training:
            return x
        keep = 1.0 - self.p
        mask = x.new_empty((x.shape[0],) + (1,) * (x.ndim - 1)).bernoulli_(keep)
        return x * mask.div_(keep)
'''

PAD_HELPER = '''class PadChannels(nn.Module):
    """Shortcut option A: subsample with the stride, zero-pad the new channels; no parameters."""

    def __init__(self, in_channels: int, channels: int, stride: int = 1) -> None:
        super().__init__()
        self.stride = stride
        self.before = (channels - in_channels) // 2
        self.after = channels - in_channels - self.before

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x[:, :, :: self.stride, :: self.stride]
        return nn.functional.pad(x, (0, 0, 0, 0, self.before, self.after))
'''
