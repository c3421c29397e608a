"""The ``qdemo evolve`` core: build -> explorer -> checkpoints -> outputs -> confirm.

    from qdemo.qd import EvolveConfig
    from qdemo.runfolder import run_evolve
    result = run_evolve(EvolveConfig(iterations=50))      # archives/vad-cma-mae-shapes-s0/
    result.metrics["coverage"]

The explorer (:mod:`qdemo.qd.explorer`) steps until ``config.iterations``; a checkpoint and
metrics.csv are written every ``checkpoint_every`` iterations and when SIGINT / SIGTERM
stops the run (:class:`RunInterrupted`). ``resume=True`` continues from the last checkpoint
and ends with the archive an uninterrupted run would have. At the end the elites are
written, confirmed by the critic, and the reference photos scored (docs/evolve.md).
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Optional

import numpy as np
import torch

from qdemo.emotion.base import EmotionModel
from qdemo.emotion.zoo import load_emotion_model, prepare_model
from qdemo.errors import DataError
from qdemo.qd.build import Search, build_search
from qdemo.qd.config import EvolveConfig
from qdemo.runfolder.checkpoint import load_search, save_search
from qdemo.qd.emotion_slots import require_distribution
from qdemo.runfolder.confirm import (CLASSES_PER_ELITE, Confirmation, confirm_elites, emotion_report,
                                     write_verdict_classes)
from qdemo.runfolder.manifest import build_manifest, empty_metrics, now, search_metrics
from qdemo.runfolder.reader import read_manifest
from qdemo.runfolder.schema import elite_image
from qdemo.runfolder.writer import (ArchiveTable, prepare_run_dir, write_archive, write_config, write_elite_images,
                                    write_history, write_manifest, write_reference, write_solutions)


@dataclass
class RunResult:
    """What :func:`run_evolve` returns."""

    out_dir: Path
    """The run folder."""
    metrics: dict[str, Any]
    """The manifest's metrics (qd_score, coverage, critic_confirmed, ...)."""
    status: str = "complete"
    notes: list[str] = field(default_factory=list)
    """Human-readable remarks (skipped reference photos, missing critic, ...)."""


class RunInterrupted(Exception):
    """The run was stopped by a signal after saving a checkpoint (exit code 128 + signum)."""

    def __init__(self, signum: int, out_dir: Path) -> None:
        self.signum = int(signum)
        self.out_dir = Path(out_dir)
        self.exit_code = 128 + self.signum
        name = signal.Signals(self.signum).name
        super().__init__(f"{name}: checkpoint saved in {self.out_dir}/checkpoint; "
                         f"continue with: qdemo evolve --resume {self.out_dir}")


@contextlib.contextmanager
def stop_on_signals() -> Iterator[dict[str, int]]:
    """Turn SIGINT / SIGTERM into a flag checked between iterations (main thread only)."""
    flag: dict[str, int] = {}
    if threading.current_thread() is not threading.main_thread():
        yield flag
        return

    def handler(signum, _frame):  # noqa: ANN001
        if "signum" in flag and signum == signal.SIGINT:
            raise KeyboardInterrupt  # a second Ctrl-C: give up at once
        flag["signum"] = signum

    old = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield flag
    finally:
        for s, h in old.items():
            signal.signal(s, h)


class EvolveRun:
    """One run of a built search into its run folder.

    Args:
        search: the explorer and its collaborators (:func:`qdemo.qd.build.build_search`).
        out_dir: the run folder.
        critic: the independent re-scorer (moved to the search's device, frozen, eval mode);
            None loads ``config.critic`` ('none' skips confirmation).
        command: the command line recorded in the manifest (default: this process's).
    """

    def __init__(self, search: Search, out_dir: str | Path, *, critic: Optional[EmotionModel] = None,
                 command: Optional[str] = None) -> None:
        self.search = search
        self.config = search.config
        self.out = Path(out_dir)
        self.critic = prepare_model(critic, search.device) if critic is not None else None
        self.command = command or " ".join([Path(sys.argv[0]).name] + sys.argv[1:])
        self.created: Optional[str] = now()
        self.notes: list[str] = []
        self.emotions: Optional[dict[str, Any]] = None  # an emotions archive's report, after confirmation
        self.searcher_history: list[dict[str, Any]] = []  # earlier searchers of a re-judged run (manifest)

    def run(self, *, resume: bool = False, force: bool = False, progress: bool = True,
            rejudge: bool = False) -> RunResult:
        """Search to ``config.iterations``, then write, confirm and score the reference photos;
        ``rejudge``: resume under a new searcher (:mod:`qdemo.runfolder.rejudge`)."""
        ex = self.search.explorer
        self.check_critic()  # before anything is written
        if resume:
            prev: dict[str, Any] = {}
            with contextlib.suppress(DataError):
                prev = read_manifest(self.out)
            self.created = prev.get("created", self.created)
            self.searcher_history = list(prev.get("searcher_history") or [])
            if rejudge:
                self._rejudge(prev)
            else:
                load_search(self.out, self.search)
        else:
            prepare_run_dir(self.out, force=force)
        with stop_on_signals() as stop:  # from the first file on: a Ctrl-C now still leaves a checkpoint
            write_config(self.out, self.config)
            self.write_manifest("running", empty_metrics())
            self._search(stop, progress=progress)
            if "signum" in stop:
                save_search(self.out, self.search)
                self.write_outputs()
                self.write_manifest("interrupted", search_metrics(ex))
                raise RunInterrupted(stop["signum"], self.out)
        save_search(self.out, self.search)
        try:
            metrics = self.finish(progress=progress)
        except KeyboardInterrupt:  # Ctrl-C during confirmation: the search itself is saved
            self.write_manifest("interrupted", search_metrics(ex))
            raise RunInterrupted(signal.SIGINT, self.out) from None
        return RunResult(self.out, metrics, "complete", list(self.notes))

    def _rejudge(self, prev: dict[str, Any]) -> None:
        from qdemo.runfolder.rejudge import load_rejudged

        info = load_rejudged(self.out, self.search)
        was = dict((prev.get("models") or {}).get("searcher") or {})
        self.searcher_history.append({**was, "spec": info["searcher_spec"], "sha256": info["searcher_sha256"],
                                      "until_iteration": info["iteration"], "rejudged": now(),
                                      "elites_before": info["elites_before"], "elites_after": info["elites_after"]})
        self.notes.append(f"re-judged at iteration {info['iteration']} by {self.config.searcher}: "
                          f"{info['elites_before']} elites re-scored, {info['elites_after']} kept (one per cell)")

    def _search(self, stop: dict[str, int], *, progress: bool) -> None:
        from tqdm import tqdm

        cfg, ex = self.config, self.search.explorer
        bar = tqdm(total=cfg.iterations, initial=min(ex.iteration, cfg.iterations), desc=self.out.name,
                   disable=not progress, unit="it", dynamic_ncols=True)
        t_start = time.perf_counter()
        try:
            while ex.iteration < cfg.iterations and "signum" not in stop:
                if cfg.max_minutes > 0 and time.perf_counter() - t_start > 60.0 * cfg.max_minutes:
                    self.notes.append(f"stopped by max_minutes={cfg.max_minutes} after "
                                      f"{ex.iteration} of {cfg.iterations} iterations")
                    break
                row = ex.step()
                bar.update(1)
                bar.set_postfix(cells=row["num_elites"], cov=f"{row['coverage']:.1%}",
                                qd=f"{row['qd_score_normalised']:.1f}", refresh=False)
                if ex.iteration % cfg.checkpoint_every == 0:
                    save_search(self.out, self.search)
                    write_history(self.out, ex.history)
        finally:
            bar.close()

    def check_critic(self) -> None:
        """An emotions archive needs a critic with a distribution head: load it now and refuse
        one without (ConfigError), before the search runs."""
        if not self.search.space.is_slots:
            return
        self.load_critic()
        if self.critic is not None:
            require_distribution(self.critic, role="critic", spec=str(self.config.critic))

    def load_critic(self) -> None:
        """``config.critic`` by the one loader, unless a critic was handed in (None for 'none')."""
        if self.critic is None:
            self.critic = load_emotion_model(self.config.critic, role="critic", device=self.search.device,
                                             optional=True)

    def finish(self, *, progress: bool = False) -> dict[str, Any]:
        """Confirm with the critic, score the reference photos, write the outputs and manifest (the
        elites are rendered once, here, for all of them)."""
        images = self.search.scorer.render(self.search.explorer.elites()["solution"]).cpu()  # (N, 3, R, R)
        verdict = self.confirm(images)
        dataset_cov, ref = self.reference(progress=progress)
        self.write_outputs(verdict, images)
        metrics = search_metrics(self.search.explorer)
        metrics.update(self.showcase(images, verdict, ref))
        if verdict is not None:
            metrics["critic_confirmed"], metrics["critic_within_one_cell"] = verdict.confirmed, verdict.within_one
            metrics["critic_emotion_match"] = verdict.emotion_match
        metrics["dataset_coverage"] = dataset_cov
        space = self.search.space
        emotions = space.cell_labels(self.search.explorer.elites()["index"])  # an emotions grid's slots
        if emotions is not None:
            self.emotions = emotion_report(space, emotions, verdict, self.critic)
        self.write_manifest("complete", metrics)
        return metrics

    def elite_cells(self) -> np.ndarray:
        """(N, m) cell coordinates of the elites, in cell order (not for CVT, whose cells have none)."""
        return self.search.space.coords(self.search.explorer.elites()["index"])

    def confirm(self, images: Optional[torch.Tensor] = None) -> Optional[Confirmation]:
        """Re-score every elite with the critic (None without a critic); ``images``: the elites
        already rendered (N, 3, R, R)."""
        s = self.search
        self.load_critic()
        if self.critic is None:
            self.notes.append("critic confirmation skipped (critic: none)")
            return None
        el = s.explorer.elites()
        return confirm_elites(s.renderer, self.critic, s.space, el["index"], el["solution"], chunk=s.chunk,
                              images=images, classes=CLASSES_PER_ELITE)

    def showcase(self, images: torch.Tensor, verdict: Optional[Confirmation], ref) -> dict[str, Any]:
        """The run's qdemo.qd.showcase figures (VA grids only; diversity by the searcher's features)."""
        from qdemo.qd import showcase

        space = self.search.space
        if space.name not in ("va", "vad"):
            return {}
        coords = self.elite_cells()
        out: dict[str, Any] = {"va_cells": int(space.cells[0] * space.cells[1]),
                               "va_cells_filled": len(showcase.va_cells(coords)),
                               "near_uniform_elites": showcase.near_uniform_count(images)}
        if verdict is not None and len(coords):
            crit = space.grid_coords(space.measures(vad=verdict.vad))  # the critic's cells
            out["va_cells_confirmed"] = len(showcase.va_confirmed(coords, crit))
        out["elite_diversity"] = showcase.diversity(images, self.search.searcher, chunk=self.search.chunk)
        if ref is not None and ref.images is not None:
            out["reference_diversity"] = showcase.diversity(ref.images, self.search.searcher, chunk=self.search.chunk)
        return out

    def reference(self, *, progress: bool) -> tuple[Optional[float], Any]:
        """Score the reference photos, write reference.csv; the fraction of cells they occupy
        and the scored photos (None, None without reference photos)."""
        from qdemo.qd.reference import reference_set, score_reference

        dc, s = self.config.dataset, self.search
        if dc.path is None:
            return None, None
        if not Path(dc.path).expanduser().exists() and not dc.required:
            self.notes.append(f"reference photos skipped: {dc.path} not found")
            return None, None
        files, ratings = reference_set(dc, seed=self.config.seed)
        ref = score_reference(files, s.scorer, resolution=max(s.searcher.resolution, 32), batch=s.chunk,
                              progress=progress, ratings=ratings)
        if ref.skipped:
            self.notes.append(f"{len(ref.skipped)} unreadable reference photo(s) skipped, e.g. {ref.skipped[0]}")
        idx, cov = s.space.coverage(s.space.measures(vad=ref.vad, dist=ref.dist))
        write_reference(self.out, ref.paths, ref.vad, ref.vad_sd, idx, human=ref.human, thumbnails=dc.thumbnails)
        return cov, ref

    def write_outputs(self, verdict: Optional[Confirmation] = None, images: Optional[torch.Tensor] = None) -> None:
        """archive.csv, solutions.npy, elites/*.png, metrics.csv (atomic writes); ``images``: the
        elites already rendered (N, 3, R, R), else they are rendered here."""
        ex, save_images = self.search.explorer, self.config.save_elite_images
        el = ex.elites()
        idx = el["index"].astype(np.int64)  # (N,)
        if save_images and len(idx):
            if images is None:
                images = self.search.scorer.render(el["solution"]).cpu()  # (N, 3, R, R)
            write_elite_images(self.out, idx, images)
        write_solutions(self.out, el["solution"])
        space = self.search.space
        table = ArchiveTable(
            index=idx, cells=None if space.binned else space.coords(idx), objective=el["objective"], vad=el["vad"],
            vad_sd=el["vad_sd"], critic_vad=verdict.vad if verdict else None,
            critic_same_cell=verdict.same if verdict else None, critic_within_one=verdict.within if verdict else None,
            image=[elite_image(i) for i in idx] if save_images else None,
            emotion=space.cell_labels(idx), dist=el.get("dist"))  # an emotions grid: slot emotion, distribution
        if verdict is not None and verdict.slots is not None:  # ... and the critic's emotion
            a = verdict.slots
            table.critic_emotion, table.critic_p, table.critic_p_slot, table.critic_match = (
                a.emotions, a.top_p, a.p_slot, a.match)
        write_archive(self.out, table)
        write_verdict_classes(self.out, idx, verdict, self.critic)
        write_history(self.out, ex.history)

    def write_manifest(self, status: str, metrics: dict[str, Any]) -> None:
        manifest = build_manifest(self.search, status=status, metrics=metrics, critic=self.critic,
                                  created=self.created, command=self.command, notes=self.notes, emotions=self.emotions)
        if self.searcher_history:
            manifest["searcher_history"] = self.searcher_history
        write_manifest(self.out, manifest)


def run_evolve(config: EvolveConfig, *, search: Optional[Search] = None, searcher: Optional[EmotionModel] = None,
               critic: Optional[EmotionModel] = None, device: str | torch.device = "auto",
               out_dir: str | Path | None = None, resume: bool = False, force: bool = False,
               progress: bool = True, command: Optional[str] = None, rejudge: bool = False) -> RunResult:
    """Run ``config`` into its run folder (``out_dir``, default ``config.run_dir()``).

    ``search``: this config's search already built (and perhaps stepped by hand); None
    builds it with ``searcher`` (None: ``config.searcher``) on ``device``. ``critic``: the
    re-scoring model (None: ``config.critic``). ``resume`` continues from
    ``out_dir/checkpoint`` (``rejudge``: under a new searcher that first re-scores and re-places the
    elites); otherwise an existing run folder is only replaced with ``force``.
    Raises :class:`RunInterrupted` after saving a checkpoint when SIGINT/SIGTERM arrives.
    """
    if search is None:
        search = build_search(config, searcher=searcher, device=device)
    elif search.config is not config:
        raise ValueError("run_evolve: search was built from another config")
    out = Path(out_dir) if out_dir is not None else config.run_dir()
    return EvolveRun(search, out, critic=critic, command=command).run(resume=resume, force=force, progress=progress,
                                                                       rejudge=rejudge)
