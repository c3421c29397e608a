"""Critic confirmation: does an independent model put each elite in the same cell?

An image that fools only the searcher is a fooling image, not an emotional one; the critic
(other backbone, resolution or data) re-scores every elite. :func:`confirm_elites` does it
at the end of ``qdemo evolve``; :func:`confirm_run` (``qdemo confirm RUN``) does it later on
a finished run folder, filling archive.csv's critic columns and the manifest's metrics.

On an emotions archive the critic's own distribution head re-scores each elite too: it
confirms an elite when its most probable emotion is the slot's (:mod:`qdemo.qd.emotion_slots`),
and the manifest's ``emotions`` block reports that per slot, beside chance (1/7) and the
critic's held-out accuracy on Emotion6 photos (:func:`emotion_report`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import numpy as np
import torch

from qdemo.device import resolve_device
from qdemo.emotion.base import EmotionModel
from qdemo.emotion.explain import top_classes_batch
from qdemo.emotion.semantic import classifier_parts
from qdemo.emotion.specs import is_none
from qdemo.emotion.zoo import describe_model, load_emotion_model, prepare_model
from qdemo.errors import DataError
from qdemo.measure_space import MeasureSpace
from qdemo.qd.build import build_renderer
from qdemo.qd.emotion_slots import (CHANCE, SlotAgreement, SlotMeasures, critic_scores, heldout_emotion_accuracy,
                                    per_slot_match, require_distribution, slot_agreement)
from qdemo.qd.scoring import critic_vad, render_chunks
from qdemo.render.base import Renderer
from qdemo.runfolder.reader import read_config, read_manifest, read_run, read_solutions
from qdemo.runfolder.schema import (CLASSES, CONFIG, CRITIC_COLUMNS, CRITIC_EMOTION_COLUMNS, EMOTION_COLUMN, FLAG_COLUMNS,
                                    MANIFEST, SOLUTIONS, TABLE)
from qdemo.runfolder.writer import critic_columns, update_archive_columns, write_classes, write_manifest


CLASSES_PER_ELITE = 3
"""How many ImageNet classes per critic classifier ``classes.json`` names for each elite."""


@dataclass
class Confirmation:
    """The critic's verdict on N elites."""

    vad: np.ndarray
    """(N, 3) the critic's mean VAD."""
    same: np.ndarray
    """(N,) bool: the critic puts the elite in its cell."""
    within: np.ndarray
    """(N,) bool: ... in its cell or a neighbouring one."""
    slots: Optional[SlotAgreement] = None
    """Emotions archive: the critic's distribution-head verdict (top emotion, match)."""
    classes: Optional[list] = None
    """Per elite, what the critic's own ImageNet classifiers see (top classes with word norms;
    :func:`qdemo.emotion.explain.top_classes_batch`); None when not asked or the critic has none."""

    @property
    def emotion_match(self) -> Optional[float]:
        """Emotions archive: fraction of elites whose critic top emotion is the slot's (None otherwise)."""
        return float(self.slots.match.mean()) if self.slots is not None and len(self.slots.match) else None

    def columns(self) -> dict[str, Any]:
        """{archive.csv column: N values} of the critic's columns."""
        if self.slots is None:
            return critic_columns(self.vad, self.same, self.within)
        a = self.slots
        return critic_columns(self.vad, self.same, self.within, emotion=a.emotions, p=a.top_p, p_slot=a.p_slot,
                              match=a.match)

    @property
    def confirmed(self) -> Optional[float]:
        """Fraction of elites in the same cell (None without elites)."""
        return float(self.same.mean()) if len(self.same) else None

    @property
    def within_one(self) -> Optional[float]:
        """Fraction of elites within one cell (None without elites)."""
        return float(self.within.mean()) if len(self.within) else None


def confirm_elites(renderer: Renderer, critic: EmotionModel, space: MeasureSpace, indices: np.ndarray,
                   solutions: np.ndarray, *, chunk: int = 64, images: Optional[torch.Tensor] = None,
                   classes: int = 0) -> Confirmation:
    """Render ``solutions`` (N, dim) (``images``: already rendered), score them with ``critic`` and
    ask ``space`` whether it places them in the elites' cells ``indices`` (N,), or within one.
    ``classes`` > 0: also name the top ``classes`` ImageNet classes each of the critic's own
    classifiers sees in each elite (with their word norms), for the browser's cell panel.

    On an emotions grid the critic's distribution head decides (ConfigError for a critic
    without one)."""
    sols = np.asarray(solutions, dtype=np.float32)
    indices = np.asarray(indices, dtype=np.int64)
    named = None
    if classes > 0 and classifier_parts(critic) and len(sols):
        if images is None:
            images = render_chunks(renderer, sols, device=next(iter(critic.parameters())).device, chunk=chunk)
        named = top_classes_batch(critic, images, k=classes, chunk=chunk)
    if not space.is_slots:
        vad = critic_vad(renderer, critic, sols, chunk=chunk, images=images)  # (N, 3)
        same, within = space.agreement(indices, vad=vad)
        return Confirmation(vad, same, within, classes=named)
    require_distribution(critic, role="critic")
    vad, dist = critic_scores(renderer, critic, sols, chunk=chunk, images=images)  # (N, 3), (N, 7)
    verdict = slot_agreement(SlotMeasures.from_space(space), space.coords(indices), dist)
    return Confirmation(vad, verdict.same, verdict.within, slots=verdict, classes=named)


def write_verdict_classes(run_dir: str | Path, indices, verdict: Optional[Confirmation], critic) -> None:
    """``classes.json`` of a run from the verdict's named classes (removed when the critic named none,
    so a re-confirmed run never shows another critic's classes)."""
    path = Path(run_dir) / CLASSES
    if verdict is None or verdict.classes is None:
        path.unlink(missing_ok=True)
        return
    write_classes(run_dir, [int(i) for i in indices], verdict.classes,
                  model=getattr(getattr(critic, "info", None), "name", type(critic).__name__))


def emotion_report(space: MeasureSpace, elite_emotions: list[str], verdict: Optional[Confirmation],
                   critic: Optional[EmotionModel]) -> dict[str, Any]:
    """manifest.json ``emotions`` of an emotions grid (``space``): the slots, the critic's
    top-emotion agreement overall and per slot (None before confirmation), chance (1/7) and the
    critic's held-out accuracy on Emotion6."""
    match = verdict.slots.match if verdict is not None and verdict.slots is not None else None
    return {
        "slots": list(space.slots),
        "intensity_bands": space.cells[1] if space.ndim == 2 else 1,
        "filled": sorted(set(elite_emotions), key=space.slots.index),
        "critic_match": verdict.emotion_match if verdict is not None else None,
        "critic_match_by_slot": per_slot_match(space.slots, elite_emotions, match) if match is not None else None,
        "chance": CHANCE,
        "critic_heldout_accuracy": heldout_emotion_accuracy(critic),
        "critic_heldout_source": "roles.<role>.distribution_cv.emotion6.max_emotion_accuracy of "
                                 "qdemo/emotion/weights/metrics.json (None: not a shipped model)",
    }


def _check_files(run_dir: Path) -> None:
    for name in (CONFIG, MANIFEST, TABLE, SOLUTIONS):
        if not (run_dir / name).exists():
            raise DataError(f"{run_dir / name}: missing (is {run_dir} a finished qdemo evolve run?)")


def confirm_run(run_dir: str | Path, *, critic: Optional[str | EmotionModel] = None,
                device: str = "auto", chunk: int = 64) -> dict[str, Any]:
    """Fill the critic columns of ``run_dir/archive.csv`` and the manifest's critic metrics.

    ``critic``: a model, a spec ('critic', 'tiny:1', a path) or None for the run's config (the
    shipped critic when the run had none). The cells are the manifest's measure space (a CVT
    manifest written before its centroids were recorded: the run's config rebuilds them).
    Returns the updated manifest metrics.
    """
    run_dir = Path(run_dir)
    _check_files(run_dir)
    cfg = read_config(run_dir)
    dev = resolve_device(device)
    spec = critic if isinstance(critic, str) else cfg.critic
    if isinstance(critic, EmotionModel):
        model = prepare_model(critic, dev)
    else:
        spec = "critic" if is_none(spec) else spec  # the run skipped confirmation: confirm with the shipped critic
        model = load_emotion_model(spec, role="critic", device=dev)
    space = MeasureSpace.from_manifest(read_manifest(run_dir), run_dir / MANIFEST)
    if space.binned and space.centroids is None:
        space = cfg.grid.space(seed=cfg.seed)
    extra = (EMOTION_COLUMN, *CRITIC_EMOTION_COLUMNS) if space.is_slots else ()
    run = read_run(run_dir, require=(*CRITIC_COLUMNS, *FLAG_COLUMNS, *extra))
    sols = read_solutions(run_dir)  # (N, dim)
    if len(sols) != run.n:
        raise DataError(f"{run_dir / SOLUTIONS}: {len(sols)} rows but {TABLE} has {run.n}")
    renderer = build_renderer(cfg).to(dev)
    if sols.ndim != 2 or sols.shape[1] != renderer.solution_dim:
        raise DataError(f"{run_dir / SOLUTIONS}: shape {sols.shape} does not fit the "
                        f"{cfg.renderer.name} renderer ({renderer.solution_dim} parameters)")
    verdict = confirm_elites(renderer.eval(), model, space, np.asarray(run.indices), sols, chunk=chunk,
                             classes=CLASSES_PER_ELITE)
    update_archive_columns(run_dir, verdict.columns())
    write_verdict_classes(run_dir, run.indices, verdict, model)
    manifest = read_manifest(run_dir)
    metrics = manifest.setdefault("metrics", {})
    metrics["critic_confirmed"] = verdict.confirmed
    metrics["critic_within_one_cell"] = verdict.within_one
    if space.is_slots:
        metrics["critic_emotion_match"] = verdict.emotion_match
        manifest["emotions"] = emotion_report(space, list(run.columns[EMOTION_COLUMN]), verdict, model)
    manifest.setdefault("models", {})["critic"] = describe_model(model, str(spec))
    write_manifest(run_dir, manifest)
    return metrics
