"""The explorer: a pyribs scheduler over VAD cells, scored in batches, resumable.

    from qdemo.qd import EvolveConfig, Explorer
    cfg = EvolveConfig(iterations=50)
    result = Explorer(cfg).run()            # archives/vad-cma-mae-cppn-s0/
    print(result.metrics["coverage"])

One iteration = ``ask()`` on every emitter -> one batched render + score call -> ``tell()``
(CMA-MEGA first does ``ask_dqd()`` / ``tell_dqd()`` with the Jacobian). Checkpoints are
written every ``checkpoint_every`` iterations and when the run is stopped by Ctrl-C or
SIGTERM; ``run(resume=True)`` continues from the last one and ends with the same archive an
uninterrupted run would have.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as _dt
import io
import json
import platform
import shutil
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Optional

import numpy as np
import torch

import qdemo
from qdemo import DIMS
from qdemo.config import save_config, to_dict
from qdemo.device import resolve_device
from qdemo.emotion.base import EmotionModel
from qdemo.errors import CheckpointError, ConfigError, QdemoError
from qdemo.io import atomic_path, atomic_write_json, atomic_write_text, save_png
from qdemo.qd.archive import build_archives, cell_agreement, cell_coords, grid_dims, grid_ranges
from qdemo.qd.checkpoint import load_checkpoint, save_checkpoint
from qdemo.qd.config import EvolveConfig
from qdemo.qd.emitters import build_scheduler, default_learning_rate, is_dqd
from qdemo.emotion.zoo import describe_model, load_emotion_model, model_sha256
from qdemo.qd.scoring import Scorer
from qdemo.render.base import Renderer, make_renderer

METRIC_KEYS = ("qd_score", "qd_score_normalised", "coverage", "best", "evaluations", "critic_confirmed",
               "critic_within_one_cell", "dataset_coverage")
HISTORY_COLUMNS = ("iteration", "evaluations", "num_elites", "coverage", "qd_score", "qd_score_normalised",
                   "best", "mean_objective", "wall_s")
# config fields that define the search itself: a checkpoint only resumes under the same ones
_SEARCH_KEYS = ("seed", "batch_size", "searcher", "grid", "renderer", "emitter", "objective")


@dataclass
class RunResult:
    """What :meth:`Explorer.run` returns."""

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


def build_renderer(config: EvolveConfig) -> Renderer:
    """The renderer named in the config (option errors become ConfigError)."""
    rc = config.renderer
    try:
        return make_renderer(rc.name, resolution=rc.resolution, seed=config.seed, **rc.options)
    except TypeError as exc:
        raise ConfigError(f"renderer.options {rc.options}: {exc}") from None
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def _search_key(config: EvolveConfig) -> dict[str, Any]:
    d = to_dict(config)
    return {k: d[k] for k in _SEARCH_KEYS}


@contextlib.contextmanager
def _stop_on_signals() -> Iterator[dict[str, int]]:
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


class Explorer:
    """Quality-diversity search over VAD cells.

    Args:
        config: the run's configuration (validated here).
        searcher: the model to optimise against; None loads ``config.searcher``.
        critic: the independent re-scorer; None loads ``config.critic`` when needed
            ('none' skips confirmation).
        device: 'auto' defers to ``config.device``; anything else overrides it.
    """

    def __init__(self, config: EvolveConfig, *, searcher: Optional[EmotionModel] = None,
                 critic: Optional[EmotionModel] = None, device: str | torch.device = "auto") -> None:
        config.validate()
        self.config = config
        self.device = resolve_device(config.device if str(device) == "auto" else device)
        self.renderer = build_renderer(config).to(self.device)
        self.searcher = (searcher if searcher is not None
                         else load_emotion_model(config.searcher, role="searcher", device=self.device))
        self.searcher = self.searcher.to(self.device).eval()
        self._critic = critic
        self.ranges = grid_ranges(config.grid)  # (m, 2)
        self.measure_dim = config.grid.measure_dim
        self.chunk = config.score_chunk or (16 if self.device.type == "cpu" else 256)
        self.scorer = Scorer(self.renderer, self.searcher, objective=config.objective, ranges=self.ranges,
                             chunk=self.chunk)
        self.x0 = self.renderer.initial_solution()
        self.learning_rate = default_learning_rate(config.emitter)
        self.archives = build_archives(config.grid, self.renderer.solution_dim, learning_rate=self.learning_rate,
                                       threshold_min=config.emitter.threshold_min, seed=config.seed)
        self.scheduler = build_scheduler(config.emitter, self.archives, self.x0,
                                         batch_size=config.batch_size, seed=config.seed,
                                         renderer=config.renderer.name)
        self.dqd = is_dqd(config.emitter)
        self.iteration = 0
        self.evaluations = 0
        self.wall_s = 0.0
        self.history: list[dict[str, float]] = []
        self.notes: list[str] = []

    # ------------------------------------------------------------------ search
    @property
    def archive(self):
        """The reported (elitist) pyribs archive."""
        return self.archives.report

    def ask_tell_step(self) -> dict[str, float]:
        """One iteration: ask -> one batched score call -> tell. Returns its metrics row."""
        t0 = time.perf_counter()
        if self.dqd:
            sols = self.scheduler.ask_dqd()  # (E, dim): one gradient point per emitter
            sb = self.scorer.score(sols, grad=True)
            self.scheduler.tell_dqd(sb.objective, sb.measures, sb.jacobian, vad=sb.vad, vad_sd=sb.vad_sd)
            self.evaluations += len(sols)
        sols = self.scheduler.ask()  # (B, dim)
        sb = self.scorer.score(sols)
        self.scheduler.tell(sb.objective, sb.measures, vad=sb.vad, vad_sd=sb.vad_sd)
        self.evaluations += len(sols)
        self.iteration += 1
        self.wall_s += time.perf_counter() - t0
        row = self._row()
        self.history.append(row)
        return row

    def _row(self) -> dict[str, float]:
        st = self.archive.stats
        return {
            "iteration": self.iteration,
            "evaluations": self.evaluations,
            "num_elites": int(st.num_elites),
            "coverage": float(st.coverage),
            "qd_score": float(st.qd_score),
            "qd_score_normalised": float(st.norm_qd_score),
            "best": float(st.obj_max) if st.obj_max is not None else 0.0,
            "mean_objective": float(st.obj_mean) if st.obj_mean is not None else 0.0,
            "wall_s": round(self.wall_s, 3),
        }

    # ------------------------------------------------------------------ checkpoints
    def save_checkpoint(self, out_dir: str | Path) -> Path:
        state = {
            "scheduler": self.scheduler,
            "archives": self.archives,
            "iteration": self.iteration,
            "evaluations": self.evaluations,
            "wall_s": self.wall_s,
            "history": self.history,
            "search": _search_key(self.config),
            "searcher_sha256": model_sha256(self.searcher),
            "solution_dim": int(self.renderer.solution_dim),
        }
        meta = {"iteration": self.iteration, "evaluations": self.evaluations,
                "saved": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")}
        return save_checkpoint(Path(out_dir) / "checkpoint", state, meta)

    def load_checkpoint(self, out_dir: str | Path) -> None:
        folder = Path(out_dir) / "checkpoint"
        state = load_checkpoint(folder)
        if state.get("search") != _search_key(self.config):
            old, new = state.get("search") or {}, _search_key(self.config)
            diff = [k for k in _SEARCH_KEYS if old.get(k) != new.get(k)]
            raise CheckpointError(f"{folder}: written with a different configuration "
                                  f"({', '.join(diff) or 'unknown'} differ); resume with the run's own config.yaml")
        if state.get("solution_dim") != self.renderer.solution_dim:
            raise CheckpointError(f"{folder}: solution size {state.get('solution_dim')} does not match the renderer")
        if state.get("searcher_sha256") != model_sha256(self.searcher):
            raise CheckpointError(f"{folder}: the searcher's weights differ from the ones this run started with")
        self.scheduler = state["scheduler"]
        self.archives = state["archives"]
        self.iteration = int(state["iteration"])
        self.evaluations = int(state["evaluations"])
        self.wall_s = float(state.get("wall_s", 0.0))
        self.history = list(state.get("history", []))

    # ------------------------------------------------------------------ the run
    def run(self, out_dir: str | Path | None = None, progress: bool = True, *, resume: bool = False,
            force: bool = False, command: Optional[str] = None) -> RunResult:
        """Run to ``config.iterations`` and write the run folder (see docs/formats.md).

        ``resume`` continues from ``out_dir/checkpoint``; otherwise an existing run folder
        is only replaced with ``force``. Raises :class:`RunInterrupted` after saving a
        checkpoint when SIGINT/SIGTERM arrives.
        """
        from tqdm import tqdm

        cfg = self.config
        out = Path(out_dir) if out_dir is not None else cfg.run_dir()
        self._created = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
        if resume:
            self.load_checkpoint(out)
            with contextlib.suppress(OSError, ValueError, AttributeError):
                self._created = json.loads((out / "manifest.json").read_text(encoding="utf-8"))["created"]
        else:
            _prepare_run_dir(out, force=force)
        self._command = command or " ".join([Path(sys.argv[0]).name] + sys.argv[1:])
        save_config(cfg, out / "config.yaml")
        self._write_manifest(out, "running", _empty_metrics())
        with _stop_on_signals() as stop:
            bar = tqdm(total=cfg.iterations, initial=min(self.iteration, cfg.iterations), desc=out.name,
                       disable=not progress, unit="it", dynamic_ncols=True)
            t_start = time.perf_counter()
            try:
                while self.iteration < cfg.iterations and "signum" not in stop:
                    if cfg.max_minutes > 0 and time.perf_counter() - t_start > 60.0 * cfg.max_minutes:
                        self.notes.append(f"stopped by max_minutes={cfg.max_minutes} after "
                                          f"{self.iteration} of {cfg.iterations} iterations")
                        break
                    row = self.ask_tell_step()
                    bar.update(1)
                    bar.set_postfix(cells=row["num_elites"], cov=f"{row['coverage']:.1%}",
                                    qd=f"{row['qd_score_normalised']:.1f}", refresh=False)
                    if self.iteration % cfg.checkpoint_every == 0:
                        self.save_checkpoint(out)
                        self._write_metrics(out)
            finally:
                bar.close()
            if "signum" in stop:
                self.save_checkpoint(out)
                self.write_outputs(out)
                self._write_manifest(out, "interrupted", self._metrics())
                raise RunInterrupted(stop["signum"], out)
        self.save_checkpoint(out)
        try:
            metrics = self.finish(out, progress=progress)
        except KeyboardInterrupt:  # Ctrl-C during confirmation: the search itself is saved
            self._write_manifest(out, "interrupted", self._metrics())
            raise RunInterrupted(signal.SIGINT, out) from None
        return RunResult(out, metrics, "complete", list(self.notes))

    def finish(self, out: Path, *, progress: bool = False) -> dict[str, Any]:
        """Write the outputs, confirm with the critic, score the reference photos."""
        cvad = self.confirm_elites()
        dataset_cov = self._reference(out, progress=progress)
        self.write_outputs(out, critic_vad=cvad)
        metrics = self._metrics()
        if cvad is not None:
            metrics["critic_confirmed"], metrics["critic_within_one_cell"] = self._critic_stats
        metrics["dataset_coverage"] = dataset_cov
        self._write_manifest(out, "complete", metrics)
        return metrics

    # ------------------------------------------------------------------ elites
    def elites(self) -> dict[str, np.ndarray]:
        """The reported archive's elites, sorted by cell index (numpy arrays)."""
        data = self.archive.data()
        order = np.argsort(data["index"], kind="stable")
        return {k: np.asarray(v)[order] for k, v in data.items()}

    def render_elites(self, solutions: np.ndarray) -> torch.Tensor:
        return self.scorer.render(solutions).cpu()  # (N, 3, R, R)

    def critic(self) -> Optional[EmotionModel]:
        if self._critic is None and str(self.config.critic).lower() != "none":
            self._critic = load_emotion_model(self.config.critic, role="critic", device=self.device)
        return self._critic.to(self.device).eval() if self._critic is not None else None

    def confirm_elites(self) -> Optional[np.ndarray]:
        """Re-score every elite with the critic: (N, 3) critic VAD (None without a critic)."""
        critic = self.critic()
        if critic is None:
            self.notes.append("critic confirmation skipped (critic: none)")
            return None
        el = self.elites()
        vad = critic_vad(self.renderer, critic, el["solution"], chunk=self.chunk)
        same, within = cell_agreement(self.archive, el["index"], vad[:, : self.measure_dim])
        self._critic_flags = (same, within)
        self._critic_stats = (float(same.mean()) if len(same) else None,
                              float(within.mean()) if len(within) else None)
        return vad

    def _reference(self, out: Path, *, progress: bool) -> Optional[float]:
        from qdemo.qd.reference import reference_set, score_reference, write_reference

        dc = self.config.dataset
        if dc.path is None:
            return None
        if not Path(dc.path).expanduser().exists() and not dc.required:
            self.notes.append(f"reference photos skipped: {dc.path} not found")
            return None
        files, ratings = reference_set(dc, seed=self.config.seed)
        ref = score_reference(files, self.scorer, resolution=max(self.searcher.resolution, 32),
                              batch=self.chunk, progress=progress, ratings=ratings)
        if ref.skipped:
            self.notes.append(f"{len(ref.skipped)} unreadable reference photo(s) skipped, e.g. {ref.skipped[0]}")
        return write_reference(out, ref, self.archive, measure_dim=self.measure_dim, thumbnails=dc.thumbnails)

    # ------------------------------------------------------------------ files
    def _metrics(self) -> dict[str, Any]:
        m = _empty_metrics()
        row = self._row()
        m.update({k: row[k] for k in ("qd_score", "qd_score_normalised", "coverage", "best")})
        m["evaluations"] = self.evaluations
        return m

    def write_outputs(self, out: Path, *, critic_vad: Optional[np.ndarray] = None) -> None:
        """archive.csv, solutions.npy, elites/*.png, metrics.csv (atomic writes)."""
        el = self.elites()
        idx = el["index"].astype(np.int64)
        coords = cell_coords(self.archive, idx)
        if self.config.save_elite_images and len(idx):
            images = self.render_elites(el["solution"])
            for i, cell in enumerate(idx):
                save_png(images[i], out / "elites" / f"cell_{cell}.png")
        with atomic_path(out / "solutions.npy") as tmp:
            with open(tmp, "wb") as f:
                np.save(f, el["solution"].astype(np.float32))
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        cell_cols = ["cell_v", "cell_a", "cell_d"][: self.measure_dim] if coords is not None else []
        w.writerow(["index", *cell_cols, "objective", *DIMS, *(f"{d}_sd" for d in DIMS),
                    *(f"critic_{d}" for d in DIMS), "critic_same_cell", "critic_within_one", "image"])
        flags = getattr(self, "_critic_flags", None) if critic_vad is not None else None
        for i, cell in enumerate(idx):
            crit = [f"{x:.6f}" for x in critic_vad[i]] if critic_vad is not None else ["", "", ""]
            fl = [int(flags[0][i]), int(flags[1][i])] if flags is not None else ["", ""]
            img = f"elites/cell_{cell}.png" if self.config.save_elite_images else ""
            w.writerow([int(cell), *([int(c) for c in coords[i]] if coords is not None else []),
                        f"{el['objective'][i]:.6f}", *[f"{x:.6f}" for x in el["vad"][i]],
                        *[f"{x:.6f}" for x in el["vad_sd"][i]], *crit, *fl, img])
        atomic_write_text(out / "archive.csv", buf.getvalue())
        self._write_metrics(out)

    def _write_metrics(self, out: Path) -> None:
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=list(HISTORY_COLUMNS), lineterminator="\n")
        w.writeheader()
        for row in self.history:
            w.writerow({k: row.get(k, "") for k in HISTORY_COLUMNS})
        atomic_write_text(out / "metrics.csv", buf.getvalue())

    def _write_manifest(self, out: Path, status: str, metrics: dict[str, Any]) -> None:
        cfg = self.config
        grid = {"name": cfg.grid.name, "dims": grid_dims(cfg.grid),
                "cells": (list(cfg.grid.cells[: self.measure_dim]) if cfg.grid.name != "cvt"
                          else [int(cfg.grid.cvt_cells)]),
                "ranges": self.ranges.tolist()}
        critic = self._critic if self._critic is not None else None
        manifest = {
            "qdemo_version": qdemo.__version__,
            "versions": _versions(),
            "created": getattr(self, "_created", None),
            "updated": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "status": status,
            "seed": cfg.seed,
            "command": getattr(self, "_command", ""),
            "grid": grid,
            "renderer": self.renderer.describe(),
            "emitter": cfg.emitter.name,
            "emitter_settings": {"num_emitters": cfg.emitter.num_emitters, "batch_size": cfg.batch_size,
                                 "sigma": cfg.emitter.sigma, "archive_learning_rate": self.learning_rate,
                                 **(dict(zip(("grad_lr", "grad_sigma"), cfg.emitter.gradient_steps(cfg.renderer.name)))
                                    if self.dqd else {})},
            "models": {"searcher": describe_model(self.searcher, cfg.searcher),
                       "critic": describe_model(critic, cfg.critic)},
            "objective": "100 * (w_a * ensemble agreement + w_p * exp(-TV/tv_scale)) / (w_a + w_p)",
            "device": str(self.device),
            "iterations": self.iteration,
            "wall_s": round(self.wall_s, 2),
            "metrics": metrics,
            "notes": list(self.notes),
        }
        atomic_write_json(out / "manifest.json", manifest)


def critic_vad(renderer: Renderer, critic: EmotionModel, solutions: np.ndarray, *, chunk: int = 64) -> np.ndarray:
    """Render ``solutions`` (N, dim) and return the critic's mean VAD (N, 3)."""
    out = []
    dev = next(iter(critic.parameters())).device
    renderer = renderer.to(dev)
    with torch.no_grad():
        for i in range(0, len(solutions), chunk):
            x = torch.as_tensor(np.asarray(solutions[i:i + chunk]), dtype=torch.float32, device=dev)
            out.append(critic(renderer(x)).double().cpu().numpy())  # (b, 3)
    return np.concatenate(out) if out else np.zeros((0, 3))


def _empty_metrics() -> dict[str, Any]:
    return {k: None for k in METRIC_KEYS}


def _versions() -> dict[str, str]:
    import ribs

    return {"python": platform.python_version(), "torch": torch.__version__, "ribs": ribs.__version__,
            "numpy": np.__version__}


def _prepare_run_dir(out: Path, *, force: bool) -> None:
    """Create ``out``; an existing non-empty folder needs ``force`` and must be a run folder."""
    if out.exists() and not out.is_dir():
        raise QdemoError(f"{out}: exists and is not a folder")
    if out.exists() and any(out.iterdir()):
        is_run = (out / "manifest.json").exists() or (out / "checkpoint").exists() or (out / "config.yaml").exists()
        if not force:
            hint = f"continue it with --resume {out}, " if (out / "checkpoint").exists() else ""
            raise QdemoError(f"{out}: run folder already exists; {hint}pick another --name, or pass --force to replace it")
        if not is_run:
            raise QdemoError(f"{out}: folder is not empty and is not a qdemo run folder; refusing to replace it")
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)


def run_evolve(config: EvolveConfig, *, searcher: Optional[EmotionModel] = None,
               critic: Optional[EmotionModel] = None, out_dir: str | Path | None = None,
               resume: bool = False, force: bool = False, progress: bool = True) -> RunResult:
    """Build an :class:`Explorer` from ``config`` and run it (the ``qdemo evolve`` core)."""
    return Explorer(config, searcher=searcher, critic=critic).run(out_dir, progress, resume=resume, force=force)
