"""The objective: weighted terms, each a score in [0, 1] of an image and its predictions.

A :class:`Term` maps a batch of images and the searcher's member predictions over all
views to one number per image in [0, 1]; an :class:`Objective` combines its terms, by default
as a weighted geometric mean (``combine: product``; every term must be good)::

    objective = 100 * term_1^(w_1 / W) * term_2^(w_2 / W) * ...     W = w_1 + w_2 + ...

or as a weighted arithmetic mean (``combine: mean``, the objective before calibration and the
content term)::

    objective = 100 * (w_1 * term_1 + w_2 * term_2 + ...) / W       # both in [0, 100]

The default objective is ``100 * sqrt(agreement * content)``: an image scores high when the
searcher's members agree on its emotion *and* its statistics lie in the range of real rated
images. A near-uniform field or pixel noise has content ~0, so it scores ~0 whatever the
models say (ensemble agreement alone is maximal for a uniform image). The critic is never a
term: it stays the independent judge.

Terms (weights from :class:`~qdemo.qd.config.ObjectiveConfig`):

- :class:`Agreement` (``agreement_weight``): ``1 - mean_d sd_d``, the SD over the searcher's
  members x views (members live on [-1, 1], so SD <= 1). It rewards images the ensemble is
  sure about; its disagreement is its doubt, and fooling images live where models doubt.
  With a single member and a single view it is 1 for every image.
- :class:`Smoothness` (``prior_weight``, ``tv_scale``): ``exp(-TV / tv_scale)``, TV the mean
  absolute difference of neighbouring pixels; it discourages the high-frequency noise
  typical of adversarial images (weight 0 by default: a uniform field is the smoothest image).
- :class:`Content` (``content_weight``): :func:`qdemo.qd.content.content_score`, 1 when the
  image's contrast, edge density and spectral slope lie in the range measured on OASIS,
  Emotion6 and BASS, falling to 0 outside.

A new term is one class: subclass :class:`Term` (``name``, ``formula``, ``__call__`` and
``from_config`` reading its own fields of ``ObjectiveConfig``) and list it in :data:`TERMS`.
:meth:`Objective.describe` (written to manifest.json) is built from the terms themselves.
"""

from __future__ import annotations

from typing import ClassVar, Optional, Sequence

import torch

from qdemo.errors import ConfigError
from qdemo.qd.config import ObjectiveConfig


def total_variation(images: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) -> (B,) mean absolute difference of horizontally/vertically adjacent pixels."""
    dx = (images[..., :, 1:] - images[..., :, :-1]).abs().mean(dim=(1, 2, 3))
    dy = (images[..., 1:, :] - images[..., :-1, :]).abs().mean(dim=(1, 2, 3))
    return 0.5 * (dx + dy)  # (B,)


def member_spread(members: torch.Tensor) -> torch.Tensor:
    """(B, N, 3) predictions of N members (x views) -> (B, 3) their standard deviation (0 for N = 1)."""
    if members.shape[1] > 1:
        return members.std(dim=1, unbiased=False)  # (B, 3)
    return torch.zeros_like(members[:, 0])  # (B, 3)


class Term:
    """One objective term: (images (B, 3, H, W), members (B, V*K, 3)) -> (B,) in [0, 1].

    Subclasses set ``name`` and ``formula`` (how the term is computed, in words) and
    implement :meth:`__call__` (differentiable: CMA-MEGA takes its gradient) and
    :meth:`from_config`.
    """

    name: ClassVar[str] = "term"
    formula: ClassVar[str] = ""

    def __init__(self, weight: float) -> None:
        if not weight >= 0:
            raise ConfigError(f"objective: weight of {self.name} must be >= 0, got {weight}")
        self.weight = float(weight)

    def __call__(self, images: torch.Tensor, members: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    @classmethod
    def from_config(cls, cfg: ObjectiveConfig) -> Optional["Term"]:
        """The term as ``cfg`` sets it up; None when ``cfg`` gives it no weight."""
        raise NotImplementedError

    def describe(self) -> str:
        """``name = formula`` with this term's settings filled in."""
        return f"{self.name} = {self.formula.format(**vars(self))}"


class Agreement(Term):
    """Ensemble agreement: 1 - the members' mean standard deviation over V, A, D."""

    name = "agreement"
    formula = "1 - mean over (V, A, D) of the SD over searcher members x views, clamped to [0, 1]"

    def __call__(self, images: torch.Tensor, members: torch.Tensor) -> torch.Tensor:
        return 1.0 - member_spread(members).mean(dim=1).clamp(0.0, 1.0)  # (B,)

    @classmethod
    def from_config(cls, cfg: ObjectiveConfig) -> Optional[Term]:
        return cls(cfg.agreement_weight) if cfg.agreement_weight > 0 else None


class Smoothness(Term):
    """Smoothness prior: exp(-TV / tv_scale)."""

    name = "smoothness"
    formula = "exp(-TV / {tv_scale}), TV = mean |difference| of neighbouring pixels"

    def __init__(self, weight: float, *, tv_scale: float) -> None:
        super().__init__(weight)
        if not tv_scale > 0:
            raise ConfigError(f"objective.tv_scale={tv_scale}: must be > 0")
        self.tv_scale = float(tv_scale)

    def __call__(self, images: torch.Tensor, members: torch.Tensor) -> torch.Tensor:
        return torch.exp(-total_variation(images) / self.tv_scale)  # (B,)

    @classmethod
    def from_config(cls, cfg: ObjectiveConfig) -> Optional[Term]:
        return cls(cfg.prior_weight, tv_scale=cfg.tv_scale) if cfg.prior_weight > 0 else None


class Content(Term):
    """Content prior: image statistics inside the range of real rated images."""

    name = "content"
    formula = ("prod over (log contrast, log edge density, spectral slope) of exp(-0.5 (d / tau)^2), d = "
               "distance outside the 2nd-98th percentile range of OASIS + Emotion6 + BASS (qdemo.qd.content)")

    def __call__(self, images: torch.Tensor, members: torch.Tensor) -> torch.Tensor:
        from qdemo.qd.content import content_score

        return content_score(images)  # (B,)

    @classmethod
    def from_config(cls, cfg: ObjectiveConfig) -> Optional[Term]:
        return cls(cfg.content_weight) if cfg.content_weight > 0 else None


TERMS: tuple[type[Term], ...] = (Agreement, Smoothness, Content)
"""Every term :meth:`Objective.from_config` knows, in the order they are summed."""


class Objective:
    """``100 * prod_i term_i^(w_i / W)`` (``combine='product'``) or ``100 * sum_i w_i * term_i / W``
    (``'mean'``): (images, members) -> (B,) in [0, 100].

    Args:
        terms: the weighted terms (at least one, total weight > 0).
        combine: 'product' (weighted geometric mean) or 'mean' (weighted arithmetic mean).
    """

    def __init__(self, terms: Sequence[Term], *, combine: str = "mean") -> None:
        if combine not in ("product", "mean"):
            raise ConfigError(f"objective.combine {combine!r}: use product or mean")
        self.combine = combine
        self.terms = list(terms)
        self.total_weight = sum(t.weight for t in self.terms)
        if not self.terms or not self.total_weight > 0:
            raise ConfigError("objective: at least one term needs a weight > 0 "
                              f"(terms: {', '.join(t.name for t in TERMS)})")

    @classmethod
    def from_config(cls, cfg: ObjectiveConfig) -> "Objective":
        """The terms of :data:`TERMS` that ``cfg`` gives a weight."""
        return cls([t for t in (term.from_config(cfg) for term in TERMS) if t is not None], combine=cfg.combine)

    def __call__(self, images: torch.Tensor, members: torch.Tensor) -> torch.Tensor:
        """images (B, 3, H, W), members (B, V*K, 3) -> objective (B,) in [0, 100]."""
        total = None
        for term in self.terms:
            t = term(images, members)  # (B,) in [0, 1]
            if self.combine == "product":  # t^(w / W); floored so the gradient stays finite at 0
                part = t.clamp_min(1e-6) ** (term.weight / self.total_weight)
                total = part if total is None else total * part
            else:
                part = term.weight * t / self.total_weight
                total = part if total is None else total + part
        return (100.0 * total).clamp(0.0, 100.0)  # (B,)

    def describe(self) -> str:
        """The formula with its weights, then one line per term (manifest.json ``objective``)."""
        if self.combine == "product":
            head = "objective = 100 * " + " * ".join(f"{t.name}^({t.weight:g}/{self.total_weight:g})" for t in self.terms)
        else:
            weighted = " + ".join(f"{t.weight:g} * {t.name}" for t in self.terms)
            head = f"objective = 100 * ({weighted}) / {self.total_weight:g}"
        return "; ".join([head] + [t.describe() for t in self.terms])
