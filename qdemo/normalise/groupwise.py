"""Between-group equalisation: SHINE's statistics, matched per group instead of per image.

What an emotion study needs is that the *groups* (conditions, emotion categories) do not
differ in luminance, contrast, luminance histogram or amplitude spectrum. SHINE gets there by
giving every image the same statistics, which moves each image by its whole distance from
the set's average, and that changes how it feels. ``shine.scope: group`` instead applies one
smooth transform per group, the same for every image of the group, so that the group's
statistics match the set's:

1. a radial filter that brings the group's mean log-amplitude spectrum (rotationally
   averaged) to the set's;
2. a contrast gain that brings the group's mean per-image RMS contrast to the set's;
3. a tone curve (quantile mapping) that brings the group's pooled luminance distribution to
   the set's pooled distribution (mean luminance follows);

iterated ``shine.iterations`` times against fixed set-wide targets measured on the originals.
Each image moves only by its group's offset from the set, which is much smaller than its own
offset, so the emotion moves less (measured in docs/normalise.md). Luminance is CIE Y
(Rec. 709, linear light; the report's definition); colour is kept by scaling linear RGB with
the luminance ratio (chromaticity kept). A pixel whose scaled colour leaves the gamut is
divided by its brightest channel: its hue stays, its luminance ends below the target.
Memory: a whole group is held as float64 with its FFT, about 2.5 MB per 256x256 image.

Several groupings at once (``shine.group_by``, e.g. folder and valence / arousal tertiles):
:func:`equalise_partitions` steps through the groups of each grouping in turn every round, so
each image's transform is the composition of its groups' (one per grouping).

``propose`` gives the same output for tensors: the input of the group-conditioned
pix2pix (``train.condition=group``), which learns to change it so the emotion stays.

One Ray task measures each group and one equalises it (``run_shine`` with
``shine.scope=group``); the groups are independent given the set-wide targets.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import torch

from qdemo.normalise.lowlevel import linear_luminance, srgb_to_linear

QUANTILES = 2048
"""Quantiles kept per group to describe its pooled luminance distribution."""


def _linear_to_srgb(x: torch.Tensor) -> torch.Tensor:
    x = x.clamp(0, 1)
    return torch.where(x <= 0.0031308, x * 12.92, 1.055 * x.clamp_min(1e-12) ** (1 / 2.4) - 0.055)


def _to_linear(arrays: Sequence[np.ndarray]) -> torch.Tensor:
    """uint8 (H, W, 3) arrays -> (N, 3, H, W) float64 linear RGB."""
    x = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).double() / 255.0
    return srgb_to_linear(x)


def _radius(h: int, w: int) -> torch.Tensor:
    """(H, W) integer radius of each FFT frequency (unshifted layout), capped at min(H, W) // 2."""
    yy = torch.fft.fftfreq(h, dtype=torch.float64).view(-1, 1) * h
    xx = torch.fft.fftfreq(w, dtype=torch.float64).view(1, -1) * w
    return torch.sqrt(yy ** 2 + xx ** 2).round().long().clamp(max=min(h, w) // 2)


def _radial_mean_log_amp(y: torch.Tensor, rr: torch.Tensor) -> torch.Tensor:
    """Mean over images and over each frequency ring of log |FFT(y)| -> (R + 1,)."""
    la = torch.log(torch.fft.fft2(y).abs() + 1e-9).mean(dim=0).flatten()
    nb = int(rr.max()) + 1
    cnt = torch.bincount(rr.flatten(), minlength=nb).double()
    return torch.zeros(nb, dtype=la.dtype).index_add(0, rr.flatten(), la) / cnt


def group_stats(arrays: Sequence[np.ndarray]) -> dict[str, Any]:
    """Statistics of one group (uint8 (H, W, 3) arrays of one size), JSON-serialisable."""
    y = linear_luminance(_to_linear(arrays))
    n, h, w = y.shape
    q = torch.quantile(y.flatten().float(), torch.linspace(0, 1, QUANTILES)).double()
    return {"n": n, "pixels": n * h * w, "shape": [h, w], "quantiles": q.tolist(),
            "radial": _radial_mean_log_amp(y, _radius(h, w)).tolist(),
            "contrast": float(y.flatten(1).std(dim=1).mean())}


def set_targets(stats: Sequence[dict[str, Any]], names: Sequence[str] | None = None) -> dict[str, Any]:
    """Set-wide targets from the groups' statistics: the pooled luminance distribution
    (as quantiles), the image-weighted mean radial spectrum and mean contrast. ``names``
    (one per group) only label the error when sizes differ."""
    shapes = {tuple(s["shape"]) for s in stats}
    if len(shapes) != 1:
        names = list(names) if names is not None else [f"group {i}" for i in range(len(stats))]
        listed = ", ".join(f"{n}: {s['shape'][1]}x{s['shape'][0]}" for n, s in zip(names, stats))
        raise ValueError(f"groups have different image sizes ({listed})")
    w_img = np.array([s["n"] for s in stats], dtype=np.float64)
    w_pix = np.array([s["pixels"] for s in stats], dtype=np.float64)
    # pooled distribution: each group's quantiles stand for pixels / QUANTILES pixels each
    vals = np.concatenate([np.asarray(s["quantiles"]) for s in stats])
    wts = np.concatenate([np.full(len(s["quantiles"]), p / len(s["quantiles"])) for s, p in zip(stats, w_pix)])
    order = np.argsort(vals, kind="stable")
    cdf = np.cumsum(wts[order]) / wts.sum()
    q = np.interp(np.linspace(0, 1, QUANTILES), cdf - wts[order] / wts.sum() / 2, vals[order])
    radial = (np.stack([np.asarray(s["radial"]) for s in stats]) * w_img[:, None]).sum(0) / w_img.sum()
    contrast = float((np.array([s["contrast"] for s in stats]) * w_img).sum() / w_img.sum())
    return {"quantiles": q.tolist(), "radial": radial.tolist(), "contrast": contrast,
            "shape": list(shapes.pop()), "n_images": int(w_img.sum()), "n_groups": len(stats)}


def _tensors(targets: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor, float]:
    return (torch.tensor(targets["radial"], dtype=torch.float64),
            torch.tensor(targets["quantiles"], dtype=torch.float64), float(targets["contrast"]))


def _step(y: torch.Tensor, t_rad: torch.Tensor, t_q: torch.Tensor, t_contrast: float, rr: torch.Tensor,
          gen: torch.Generator) -> torch.Tensor:
    """One round for one group's luminance (n, H, W) in linear light: radial spectrum filter,
    contrast gain, tone curve; each the same for every image of the group."""
    n, h, w = y.shape
    f = torch.fft.fft2(y)
    gain = torch.exp(t_rad - _radial_mean_log_amp(y, rr))[rr]
    gain[0, 0] = 1.0  # mean luminance: left to the tone curve
    y = torch.fft.ifft2(f * gain).real
    m = y.mean(dim=(1, 2), keepdim=True)
    cur = float(y.flatten(1).std(dim=1).mean())
    if cur > 1e-12:  # a group of flat images has no contrast to scale
        y = m + (y - m) * (t_contrast / cur)
    v = y.flatten()
    ranks = torch.empty_like(v)
    order = torch.argsort(v + 1e-12 * torch.rand(v.shape, generator=gen, dtype=v.dtype))  # ties: seeded
    ranks[order] = torch.linspace(0, 1, len(v), dtype=v.dtype)
    pos = ranks * (len(t_q) - 1)
    lo = pos.floor().long().clamp(max=len(t_q) - 2)
    return (t_q[lo] + (pos - lo) * (t_q[lo + 1] - t_q[lo])).view(n, h, w)


def _to_u8(lin: torch.Tensor, y0: torch.Tensor, y: torch.Tensor) -> list[np.ndarray]:
    """New luminance ``y`` (N, H, W) back to uint8 (H, W, 3) arrays, chromaticity of ``lin`` kept."""
    y = y.clamp(0, 1)
    out = lin * (y / y0.clamp_min(1e-6))[:, None]
    black = (y0 < 1e-6)[:, None].expand_as(out)
    out = torch.where(black, y[:, None].expand_as(out), out)
    peak = out.amax(dim=1, keepdim=True)
    out = torch.where(peak > 1, out / peak.clamp_min(1e-12), out)  # keep hue; the brightest channel at 1
    u8 = (_linear_to_srgb(out) * 255.0).round().clamp(0, 255).byte().permute(0, 2, 3, 1).numpy()
    return [np.ascontiguousarray(a) for a in u8]


def equalise_group(arrays: Sequence[np.ndarray], targets: dict[str, Any], iterations: int = 6,
                   seed: int = 0) -> list[np.ndarray]:
    """Equalise one group's uint8 (H, W, 3) images towards the set-wide ``targets``.

    Every step is one transform for the whole group (see the module docstring); images keep
    their differences from each other."""
    if iterations < 1:
        raise ValueError(f"iterations={iterations}: must be at least 1")
    lin = _to_linear(arrays)
    y0 = linear_luminance(lin)
    n, h, w = y0.shape
    if [h, w] != list(targets["shape"]):
        raise ValueError(f"image size {w}x{h} differs from the targets' {targets['shape'][1]}x{targets['shape'][0]}")
    rr = _radius(h, w)
    t_rad, t_q, t_con = _tensors(targets)
    gen = torch.Generator().manual_seed(seed)
    y = y0.clone()
    for _ in range(iterations):
        y = _step(y, t_rad, t_q, t_con, rr, gen)
    return _to_u8(lin, y0, y)


def propose(x: torch.Tensor, groups: Sequence[str], iterations: int = 6, seed: int = 0) -> torch.Tensor:
    """The group-conditioned generator's input: :func:`equalise_set` of uint8 (N, 3, H, W)
    images with one group label each -> uint8 (N, 3, H, W)."""
    arrays = [np.ascontiguousarray(a) for a in x.permute(0, 2, 3, 1).cpu().numpy()]
    eq = equalise_set(arrays, groups, iterations, seed)
    return torch.from_numpy(np.stack(eq)).permute(0, 3, 1, 2).contiguous()


def equalise_set(arrays: Sequence[np.ndarray], groups: Sequence[str], iterations: int = 6,
                 seed: int = 0) -> list[np.ndarray]:
    """In one process: equalise a whole set of uint8 (H, W, 3) arrays between its ``groups``
    (one label per image). What ``run_shine`` does with ``shine.scope=group``, without files."""
    return equalise_partitions(arrays, [groups], iterations, seed)


def equalise_partitions(arrays: Sequence[np.ndarray], partitions: Sequence[Sequence[str | None]],
                        iterations: int = 6, seed: int = 0,
                        names: Sequence[str] | None = None) -> list[np.ndarray]:
    """Equalise a set between the groups of several groupings at once.

    ``partitions``: one label per image for each grouping (e.g. the folder, and the valence
    tertile); ``None`` leaves an image out of that grouping's steps. Each round runs one step
    (:func:`_step`) for every group of the first grouping, then of the second, and so on, all
    against the same set-wide targets, like raking a table to several margins at once. With one
    grouping this is :func:`equalise_set`. Every image then moves by the offsets of its groups,
    one per grouping, so it moves more than with one grouping and less than with per-image
    SHINE. ``names`` label the groupings in errors."""
    if iterations < 1:
        raise ValueError(f"iterations={iterations}: must be at least 1")
    names = list(names) if names is not None else [f"grouping {k + 1}" for k in range(len(partitions))]
    if not partitions:
        raise ValueError("no grouping given")
    by_part: list[dict[str, list[int]]] = []
    for name, labels in zip(names, partitions):
        if len(labels) != len(arrays):
            raise ValueError(f"{len(arrays)} images but {len(labels)} group labels ({name})")
        by: dict[str, list[int]] = {}
        for i, g in enumerate(labels):
            if g is not None:
                by.setdefault(g, []).append(i)
        if len(by) < 2:
            raise ValueError(f"between-group equalisation needs at least two groups, found {len(by)} ({name})")
        by_part.append(by)
    # set-wide targets over every image: the first grouping's groups (+ the images it leaves out)
    pooled = list(by_part[0].values())
    rest = [i for i, g in enumerate(partitions[0]) if g is None]
    stats = [group_stats([arrays[i] for i in idx]) for idx in pooled + ([rest] if rest else [])]
    targets = set_targets(stats, list(by_part[0]) + (["(not grouped)"] if rest else []))
    lin = _to_linear(arrays)
    y0 = linear_luminance(lin)
    rr = _radius(*y0.shape[1:])
    t_rad, t_q, t_con = _tensors(targets)
    gens = {(k, g): torch.Generator().manual_seed(seed) for k, by in enumerate(by_part) for g in by}
    y = y0.clone()
    for _ in range(iterations):
        for k, by in enumerate(by_part):
            for g, idx in by.items():
                ii = torch.tensor(idx)
                y[ii] = _step(y[ii], t_rad, t_q, t_con, rr, gens[(k, g)])
    return _to_u8(lin, y0, y)


GROUPINGS = ("folder", "valence", "arousal", "dominance")
"""What ``shine.group_by`` can name: the folder / category, or tertiles of a VAD rating."""


def check_group_by(group_by: Sequence[str]) -> None:
    """Raise ValueError unless ``group_by`` names one or more of :data:`GROUPINGS`."""
    bad = [g for g in group_by if g not in GROUPINGS]
    if bad or not group_by:
        what = f"unknown grouping {bad[0]!r}" if bad else "is empty"
        raise ValueError(f"shine.group_by {what}; name one or more of {', '.join(GROUPINGS)}")


def groupings_of(groups: Sequence[str], ratings: np.ndarray | None, group_by: Sequence[str],
                 where: str = "the set") -> list[list[str | None]]:
    """Labels per grouping of ``group_by``: 'folder' is ``groups``; 'valence' / 'arousal' /
    'dominance' are low / mid / high tertiles of the (N, 3) human ``ratings`` (images without
    a rating are left out of that grouping). Raises ValueError naming what is missing."""
    from qdemo.normalise.data import tertile_labels

    check_group_by(group_by)
    out: list[list[str | None]] = []
    for name in group_by:
        if name == "folder":
            out.append(list(groups))
            continue
        k = GROUPINGS.index(name) - 1
        vals = ratings[:, k] if ratings is not None else np.full(len(groups), np.nan)
        if np.isfinite(vals).sum() < 3:
            raise ValueError(f"shine.group_by {name}: {where} has {int(np.isfinite(vals).sum())} images rated "
                             f"for {name}; its tertiles need at least 3 (a rated set: Emotion6, OASIS or a CSV)")
        out.append([None if lab.endswith("-unrated") else lab for lab in tertile_labels(vals, name)])
    return out
