"""Networks of the emotional pix2pix: a U-Net generator and a PatchGAN discriminator.

Following pix2pix (Isola et al. 2017): the generator is an encoder-decoder with skip
connections between mirrored levels (4x4 stride-2 convolutions, LeakyReLU in the encoder,
ReLU in the decoder, batch norm except on the outermost and innermost layers); the
discriminator classifies overlapping patches of an (input, output) pair as real or fake.
Zhang & Kim's D_emo is not here: it is the frozen emotion model (qdemo.emotion).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn as nn


@dataclass
class GeneratorSpec:
    """What is needed to rebuild a generator from its weights (stored beside them as JSON)."""

    ngf: int = 16
    """Channels of the first encoder layer (doubled per level, capped at 8 * ngf)."""
    depth: int = 5
    """Encoder levels; input sides must be multiples of 2**depth."""
    residual: bool = True
    """Output = sigmoid(logit(base) + G's last layer) instead of tanh(G's last layer); the base is
    the photo, or the group proposal when ``condition='group'``."""
    dropout: float = 0.0
    """Dropout in the three innermost decoder blocks."""
    resolution: int = 128
    """Side the generator was trained at (images are brought to it by default)."""
    condition: str = "none"
    """'none': photo -> normalised photo (Zhang & Kim). 'group': G also sees the between-group
    SHINE proposal of the photo's set (:mod:`qdemo.normalise.groupwise`, computed on the set being
    normalised) as three more input channels, and changes that proposal instead of the photo."""

    def to_dict(self) -> dict:
        return asdict(self)


CONDITIONS = ("none", "group")
"""What the generator sees besides the photo (:attr:`GeneratorSpec.condition`)."""


class UNetGenerator(nn.Module):
    """(B, 3, H, W) photo in [0, 1] -> (B, 3, H, W) normalised photo in [0, 1].

    With ``spec.condition == 'group'`` the forward pass also takes ``proposal`` (B, 3, H, W),
    the between-group SHINE output of the same photos, and the residual is added to it."""

    def __init__(self, spec: GeneratorSpec | None = None, **kw) -> None:
        super().__init__()
        spec = spec or GeneratorSpec(**kw)
        if spec.depth < 2:
            raise ValueError(f"depth={spec.depth}: need at least 2 levels")
        if spec.condition not in CONDITIONS:
            raise ValueError(f"condition={spec.condition!r}: use one of {', '.join(CONDITIONS)}")
        self.spec = spec
        chans = [min(spec.ngf * 2 ** i, spec.ngf * 8) for i in range(spec.depth)]
        self.downs = nn.ModuleList()
        c_in = 6 if spec.condition == "group" else 3
        for i, c in enumerate(chans):
            layers: list[nn.Module] = [] if i == 0 else [nn.LeakyReLU(0.2, inplace=False)]
            inner_or_outer = i == 0 or i == spec.depth - 1
            layers.append(nn.Conv2d(c_in, c, 4, stride=2, padding=1, bias=inner_or_outer))
            if not inner_or_outer:
                layers.append(nn.BatchNorm2d(c))
            self.downs.append(nn.Sequential(*layers))
            c_in = c
        self.ups = nn.ModuleList()
        for i in reversed(range(spec.depth)):
            c_up_in = chans[i] if i == spec.depth - 1 else 2 * chans[i]
            c_up_out = chans[i - 1] if i > 0 else 3
            layers = [nn.ReLU(inplace=False),
                      nn.ConvTranspose2d(c_up_in, c_up_out, 4, stride=2, padding=1, bias=i == 0)]
            if i > 0:
                layers.append(nn.BatchNorm2d(c_up_out))
                if spec.dropout > 0 and i >= spec.depth - 3:
                    layers.append(nn.Dropout(spec.dropout))
            self.ups.append(nn.Sequential(*layers))
        self.multiple = 2 ** spec.depth
        if spec.residual:  # start as the identity: the last layer adds nothing yet
            last = self.ups[-1][1]
            nn.init.zeros_(last.weight)
            nn.init.zeros_(last.bias)

    @property
    def conditioned(self) -> bool:
        """Whether forward needs the group proposal."""
        return self.spec.condition == "group"

    def forward(self, x: torch.Tensor, proposal: torch.Tensor | None = None) -> torch.Tensor:
        if x.ndim != 4 or x.shape[1] != 3:
            raise ValueError(f"expected (B, 3, H, W), got {tuple(x.shape)}")
        if x.shape[-1] % self.multiple or x.shape[-2] % self.multiple:
            raise ValueError(f"image sides {x.shape[-2]}x{x.shape[-1]} must be multiples of {self.multiple}")
        base = x
        h = x * 2 - 1  # (B, 3, H, W) in [-1, 1]
        if self.conditioned:
            if proposal is None:
                raise ValueError("this generator is conditioned on the group proposal (condition='group'): "
                                 "pass proposal=, the between-group SHINE output of the same images")
            if proposal.shape != x.shape:
                raise ValueError(f"proposal shape {tuple(proposal.shape)} differs from the images' {tuple(x.shape)}")
            base = proposal
            h = torch.cat([h, proposal * 2 - 1], dim=1)  # (B, 6, H, W)
        elif proposal is not None:
            raise ValueError("this generator takes no proposal (condition='none')")
        skips = []
        for down in self.downs:
            h = down(h)
            skips.append(h)
        h = skips.pop()  # innermost (B, C, H/2^d, W/2^d)
        for j, up in enumerate(self.ups):
            if j > 0:
                h = torch.cat([h, skips.pop()], dim=1)
            h = up(h)  # (B, C', 2h, 2w)
        if self.spec.residual:
            xc = base.clamp(1e-3, 1 - 1e-3)
            return torch.sigmoid(torch.log(xc) - torch.log1p(-xc) + h)  # (B, 3, H, W)
        return (torch.tanh(h) + 1) / 2


class PatchDiscriminator(nn.Module):
    """PatchGAN D_low: (input (B,3,H,W), output (B,3,H,W)) -> (B, 1, h, w) real/fake logits."""

    def __init__(self, *, ndf: int = 32, n_layers: int = 3) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(6, ndf, 4, stride=2, padding=1), nn.LeakyReLU(0.2)]
        mult = 1
        for n in range(1, n_layers):
            prev, mult = mult, min(2 ** n, 8)
            layers += [nn.Conv2d(ndf * prev, ndf * mult, 4, stride=2, padding=1, bias=False),
                       nn.BatchNorm2d(ndf * mult), nn.LeakyReLU(0.2)]
        prev, mult = mult, min(2 ** n_layers, 8)
        layers += [nn.Conv2d(ndf * prev, ndf * mult, 4, stride=1, padding=1, bias=False),
                   nn.BatchNorm2d(ndf * mult), nn.LeakyReLU(0.2),
                   nn.Conv2d(ndf * mult, 1, 4, stride=1, padding=1)]
        self.net = nn.Sequential(*layers)

    def forward(self, inp: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([inp * 2 - 1, out * 2 - 1], dim=1))  # (B, 1, h, w)


def init_weights(module: nn.Module, generator: torch.Generator) -> None:
    """pix2pix init: conv weights N(0, 0.02), batch-norm weights N(1, 0.02), biases 0 (seeded)."""
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
                m.weight.copy_(torch.randn(m.weight.shape, generator=generator) * 0.02)
                if m.bias is not None:
                    m.bias.zero_()
            elif isinstance(m, nn.BatchNorm2d):
                m.weight.copy_(1.0 + torch.randn(m.weight.shape, generator=generator) * 0.02)
                m.bias.zero_()


def build_generator(spec: GeneratorSpec, generator: torch.Generator | None = None) -> UNetGenerator:
    """A seeded U-Net; with ``spec.residual`` it starts as the identity map."""
    g = UNetGenerator(spec)
    if generator is not None:
        init_weights(g, generator)
    if spec.residual:
        last = g.ups[-1][1]
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)
    return g
