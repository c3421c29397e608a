"""``qdemo regressor explain``: what drives a prediction, per dimension.

Two methods, both differentiable through the whole model:

- ``gradcam``: Grad-CAM (Selvaraju et al. 2017) on a backbone unit: the unit's activation
  weighted by the spatially averaged gradient of the ensemble-mean prediction, rectified.
  Red = regions that raise the dimension. The unit defaults to the deepest one whose map
  is still at least 6 x 6 at the model's resolution.
- ``smoothgrad``: the absolute input gradient averaged over noisy copies of the image
  (Smilkov et al. 2017), at the model's resolution.

Beside the maps, :func:`top_classes` names the content: the most probable ImageNet classes of
each backbone's own classifier with their word norms (the semantic channel's table,
:mod:`qdemo.emotion.semantic`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
import torch.nn.functional as F

from qdemo import DIMS
from qdemo.emotion.semantic import class_name_norms, class_probabilities, classifier_parts, imagenet_classes


def _gradcam_unit(model) -> int:
    bb = model.backbone
    x = torch.zeros(1, 3, model.resolution, model.resolution, device=model.device)
    best = 0
    with torch.no_grad():
        x = bb.normalise(x)
        for i in range(model.train_from):
            x = bb.units[i](x)
            if min(x.shape[-2:]) >= 6:
                best = i
    return best


def gradcam(model, image: torch.Tensor, *, unit: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(3, H, W) in [0, 1] -> (maps (3, H, W) in [0, 1] per dimension, prediction (3,))."""
    unit = _gradcam_unit(model) if unit is None else int(unit)
    if not 0 <= unit < model.train_from:
        raise ValueError(f"unit {unit} out of range (0..{model.train_from - 1}: Grad-CAM needs a unit that all "
                         f"members share)")
    x = model.prepare(image[None].to(model.device))  # (1, 3, r, r)
    bb = model.backbone
    maps, pred = [], None
    for d in range(len(DIMS)):
        pooled: list[torch.Tensor] = []
        h = bb.normalise(x)
        h = bb.run(h, 0, unit + 1, set(model.taps), pooled)
        act = h.detach().requires_grad_(True)  # (1, C, h, w)
        # taps at or before `unit` must be recomputed from `act` so the gradient reaches them
        pre = [p if i != unit else act.mean(dim=(2, 3)) for i, p in zip(sorted(t for t in model.taps if t <= unit),
                                                                         pooled)]
        y, pooled_all = model.resume(act, unit, pre)
        out = model.heads(model.standardise(model.late(y, pooled_all))).mean(dim=1)[0]  # (3,)
        pred = out.detach().cpu().numpy()
        (g,) = torch.autograd.grad(out[d], act)
        w = g.mean(dim=(2, 3), keepdim=True)
        cam = F.relu((w * act).sum(1, keepdim=True))  # (1, 1, h, w)
        cam = F.interpolate(cam, size=image.shape[-2:], mode="bilinear", align_corners=False)[0, 0]
        cam = cam / cam.max().clamp_min(1e-12)
        maps.append(cam.detach().cpu().numpy())
    return np.stack(maps), pred


def smoothgrad(model, image: torch.Tensor, *, samples: int = 8, noise: float = 0.1,
               seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(3, H, W) in [0, 1] -> (maps (3, H, W) in [0, 1] per dimension, prediction (3,))."""
    gen = torch.Generator().manual_seed(seed)
    x = model.prepare(image[None].to(model.device))  # (1, 3, r, r)
    with torch.no_grad():
        pred = model(x)[0].cpu().numpy()
    maps = []
    for d in range(len(DIMS)):
        acc = torch.zeros_like(x)
        for _ in range(samples):
            xn = (x + noise * torch.randn(x.shape, generator=gen).to(x.device)).clamp(0, 1).requires_grad_(True)
            (g,) = torch.autograd.grad(model(xn)[0, d], xn)
            acc += g.abs()
        sal = acc.mean(1, keepdim=True)  # (1, 1, r, r)
        sal = F.interpolate(sal, size=image.shape[-2:], mode="bilinear", align_corners=False)[0, 0]
        sal = sal / sal.max().clamp_min(1e-12)
        maps.append(sal.cpu().numpy())
    return np.stack(maps), pred


@torch.no_grad()
def top_classes(model, image: torch.Tensor, k: int = 5, word_norms=None) -> list[dict[str, Any]]:
    """What the image shows, per classifier-carrying part of ``model``: the ``k`` most probable
    ImageNet classes of the part's own classifier with their word norms (canonical V, A, D; None
    for a class name no lexicon covers). A part with the semantic channel uses the norms stored
    in its weights; a part without one uses ``word_norms`` (a
    :class:`~qdemo.emotion.wordnorms.WordNorms`, same naming rule), else gives no norms.
    ``image`` is (3, H, W) in [0, 1]."""
    return top_classes_batch(model, image[None], k=k, word_norms=word_norms)[0]


@torch.no_grad()
def top_classes_batch(model, images: torch.Tensor, k: int = 5, word_norms=None,
                      chunk: int = 32) -> list[list[dict[str, Any]]]:
    """:func:`top_classes` of each of ``images`` (N, 3, H, W) in [0, 1], scored ``chunk`` at a
    time: one list of parts per image ([] per image for a model whose backbones carry no
    classifier)."""
    out: list[list[dict[str, Any]]] = [[] for _ in range(len(images))]
    looked_up = _looked_up_norms(word_norms) if word_norms is not None else None  # once for every part
    for part in classifier_parts(model):
        names, table, source = _class_table(part, looked_up)
        dev = part.head_weight.device
        for i in range(0, len(images), chunk):
            p = class_probabilities(part, images[i:i + chunk].to(dev))  # (b, 1000)
            vals, idx = torch.topk(p, min(k, p.shape[-1]), dim=-1)
            for j, (v_row, i_row) in enumerate(zip(vals.tolist(), idx.tolist())):
                rows = [{"class": names[c], "index": c, "probability": v, "norms": table[c]}
                        for v, c in zip(v_row, i_row)]
                out[i + j].append({"backbone": part.spec.backbone, "resolution": part.resolution,
                                   "semantic": part.semantic is not None, "norms_from": source, "classes": rows})
    return out


def _looked_up_norms(word_norms) -> list:
    """Per ImageNet class, its norms looked up in ``word_norms`` by the channel's rule (None: uncovered)."""
    vad, _ = class_name_norms(word_norms, imagenet_classes())
    return [None if any(x != x for x in row) else [float(x) for x in row] for row in vad.tolist()]


def _class_table(part, looked_up: list | None) -> tuple[list[str], list, str | None]:
    """(class names, per-class norms or None, where the norms come from) of one part: the norms
    stored in its semantic channel, else ``looked_up`` (:func:`_looked_up_norms`), else none."""
    sem = part.semantic
    names = sem.class_names if sem is not None and sem.class_names else imagenet_classes()
    if sem is not None:
        table = [[float(x) for x in sem.norms[i]] if bool(sem.covered[i] > 0) else None for i in range(len(names))]
        return names, table, "stored"
    if looked_up is not None:
        return names, looked_up, "word norms"
    return names, [None] * len(names), None


def format_classes(parts: list[dict[str, Any]]) -> list[str]:
    """Lines such as ``tarantula 0.41 - valence -0.52, arousal +0.61, dominance -0.30``."""
    lines = []
    for part in parts:
        how = {"stored": "semantic channel, norms stored in the model",
               "word norms": "norms looked up in the word norms (the model has no semantic channel)",
               None: "no word norms: pass --word-norms DIR"}[part.get("norms_from")]
        lines.append(f"{part['backbone']} @ {part['resolution']} px ({how}):")
        for c in part["classes"]:
            norms = c["norms"]
            text = ", ".join(f"{d} {v:+.2f}" for d, v in zip(DIMS, norms)) if norms else "no word norm"
            lines.append(f"  {c['class']} {c['probability']:.2f} \u2014 {text}")
    return lines


def explain_image(model, path: str | os.PathLike, out: str | os.PathLike, *, plot: Callable[..., Any],
                  method: str = "gradcam", unit: int | None = None, max_side: int = 512, classes: int = 5,
                  word_norms=None) -> dict:
    """Write a figure (image + one overlay per dimension) to ``out`` (PNG, atomically); the result
    also lists the ``classes`` most probable ImageNet classes with their norms (:func:`top_classes`,
    ``word_norms`` for a model without the semantic channel).

    The figure is drawn by ``plot(image, maps, prediction, out, dims=, proxy=, method=, title=)``
    with plain arrays: ``image`` (H, W, 3) in [0, 1], ``maps`` (3, H, W) in [0, 1],
    ``prediction`` (3,); the command hands in :func:`qdemo.viz.saliency.plot_saliency`.
    """
    from qdemo.io import load_image

    path = Path(path)
    img = load_image(path)
    h, w = img.shape[-2:]
    if max(h, w) > max_side:
        s = max_side / max(h, w)
        img = F.interpolate(img[None], size=(max(1, round(h * s)), max(1, round(w * s))), mode="bilinear",
                            antialias=True, align_corners=False)[0].clamp(0, 1)
    if method == "gradcam":
        maps, pred = gradcam(model, img, unit=unit)
    elif method == "smoothgrad":
        maps, pred = smoothgrad(model, img)
    else:
        raise ValueError(f"unknown method {method!r} (gradcam or smoothgrad)")
    rgb = img.permute(1, 2, 0).cpu().numpy()  # (H, W, 3)
    plot(rgb, maps, pred, out, dims=DIMS, proxy=set(model.info.proxy), method=method,
         title=f"{path.name}\n{model.info.name}")
    return {"path": str(path), "out": str(out), "method": method,
            "prediction": {d: float(pred[j]) for j, d in enumerate(DIMS)},
            "classes": top_classes(model, img, classes, word_norms) if classes else []}


__all__ = ["explain_image", "format_classes", "gradcam", "smoothgrad", "top_classes"]
