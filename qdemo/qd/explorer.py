"""The explorer: an ask/tell loop of a pyribs scheduler against a scorer (cf. ``ribs.schedulers``).

    from qdemo.qd import EvolveConfig, build_search
    search = build_search(EvolveConfig(iterations=50, searcher="tiny"))
    row = search.explorer.step()        # ask -> one batched score call -> tell
    row["coverage"], search.explorer.elites()["objective"]

One step = ``ask()`` on every emitter -> one batched render + score call -> ``tell()``
(DQD schedulers first do ``ask_dqd()`` / ``tell_dqd()`` with the Jacobian). The explorer is
handed its collaborators and owns nothing else: it builds nothing and writes no files
(:mod:`qdemo.qd.build` builds it from a config; :mod:`qdemo.runfolder` runs it, checkpoints
it and writes its run folder).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from ribs.schedulers import BanditScheduler, Scheduler

from qdemo.qd.archive import Archives
from qdemo.qd.scoring import Scorer

HISTORY_KEYS = ("iteration", "evaluations", "num_elites", "coverage", "qd_score", "qd_score_normalised",
                "best", "mean_objective", "wall_s")
"""Keys of every :meth:`Explorer.step` row (the columns of metrics.csv)."""
STATE_KEYS = ("scheduler", "archives", "iteration", "evaluations", "wall_s", "history")
"""Keys of :meth:`Explorer.state` (what a checkpoint holds of the explorer)."""


class Explorer:
    """Quality-diversity search: ask the scheduler, score the batch, tell the scores.

    Args:
        scheduler: a pyribs scheduler over ``archives.archive`` (with ``archives.result``
            as its result archive when there is one).
        scorer: renders and scores a batch of solutions in one call.
        archives: the scheduler's archives (``archives.report`` is the one reported).
        dqd: run the DQD loop (``ask_dqd`` / ``tell_dqd`` with the scorer's Jacobian) first
            in every step; for schedulers with gradient emitters.
    """

    def __init__(self, scheduler: Scheduler | BanditScheduler, scorer: Scorer, archives: Archives, *,
                 dqd: bool = False) -> None:
        self.scheduler = scheduler
        self.scorer = scorer
        self.archives = archives
        self.dqd = bool(dqd)
        self.iteration = 0  # steps taken
        self.evaluations = 0  # solutions scored, gradient points included
        self.wall_s = 0.0  # seconds spent in step()
        self.history: list[dict[str, float]] = []  # one step() row per iteration

    @property
    def archive(self):
        """The reported (elitist) pyribs archive."""
        return self.archives.report

    def step(self) -> dict[str, float]:
        """One iteration: ask -> one batched score call -> tell. Returns its metrics row."""
        t0 = time.perf_counter()
        if self.dqd:
            sols = self.scheduler.ask_dqd()  # (E, dim): one gradient point per gradient emitter
            sb = self.scorer.score(sols, grad=True)
            self.scheduler.tell_dqd(sb.objective, sb.measures, sb.jacobian, **sb.fields())
            self.evaluations += len(sols)
        sols = self.scheduler.ask()  # (B, dim)
        sb = self.scorer.score(sols)
        self.scheduler.tell(sb.objective, sb.measures, **sb.fields())
        self.evaluations += len(sols)
        self.iteration += 1
        self.wall_s += time.perf_counter() - t0
        row = self.stats()
        self.history.append(row)
        return row

    def stats(self) -> dict[str, float]:
        """The reported archive's statistics now, keyed by :data:`HISTORY_KEYS`."""
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

    def elites(self) -> dict[str, np.ndarray]:
        """The reported archive's elites, sorted by cell index: index (N,), solution (N, dim),
        objective (N,), measures (N, m), vad (N, 3), vad_sd (N, 3)[, dist (N, 7) for an emotions grid], ..."""
        data = self.archive.data()
        order = np.argsort(data["index"], kind="stable")
        return {k: np.asarray(v)[order] for k, v in data.items()}

    def state(self) -> dict[str, Any]:
        """What resumes this search exactly (the scheduler holds every random generator)."""
        return {"scheduler": self.scheduler, "archives": self.archives, "iteration": self.iteration,
                "evaluations": self.evaluations, "wall_s": self.wall_s, "history": self.history}

    def load_state(self, state: dict[str, Any]) -> None:
        """Continue from :meth:`state` (as read back from a checkpoint)."""
        self.scheduler = state["scheduler"]
        self.archives = state["archives"]
        self.iteration = int(state["iteration"])
        self.evaluations = int(state["evaluations"])
        self.wall_s = float(state.get("wall_s", 0.0))
        self.history = list(state.get("history", []))
