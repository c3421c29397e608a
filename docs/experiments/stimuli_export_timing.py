"""Timing of `qdemo stimuli export` on a run with a scripted-rater database (issue 23 target: a
complete set in under a minute on 2 cores). Not part of the package; results in docs/study.md.

1. `qdemo export-study --archive RUN --no-generator --out WORK/study` (the shipped critic scores
   the stimuli; not timed);
2. RATERS scripted raters rate every stimulus: valence and arousal = the key's intended VAD on SAM
   1-9 plus a rater bias and noise (sd 1), dominance random, written with the ratings store that
   `qdemo rate` uses (not timed);
3. `qdemo stimuli export RUN --db WORK/ratings.sqlite --out WORK/set`, timed (wall clock, the
   command in a fresh process, imports included).

    python docs/experiments/stimuli_export_timing.py archives/vad-cma-mae-shapes-s0 --work /tmp/st --raters 20
"""

from __future__ import annotations

import argparse
import csv
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", help="run folder of qdemo evolve")
    ap.add_argument("--work", required=True, help="scratch folder (replaced)")
    ap.add_argument("--raters", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    from qdemo.web import RateApp, RatingStore

    work = Path(args.work)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    py = [sys.executable, "-m", "qdemo"]
    subprocess.run(py + ["export-study", "--archive", args.run, "--no-generator", "--out", str(work / "study")],
                   check=True)
    with open(work / "study" / "key.csv", newline="") as f:
        key = list(csv.DictReader(f))
    db = work / "ratings.sqlite"
    app = RateApp(work / "study", db)
    app.close()
    store = RatingStore(db)
    rng = np.random.default_rng(args.seed)
    for p in range(args.raters):
        store.session(f"r{p:02d}", app.ids, 0)
        bias = rng.normal(0, 0.5, 3)
        for i, row in enumerate(key):
            sam = {d: int(np.clip(np.rint(5 + 4 * float(row[f"intended_{d}"] or 0) + bias[j] + rng.normal(0, 1)), 1, 9))
                   for j, d in enumerate(("valence", "arousal"))}
            sam["dominance"] = int(rng.integers(1, 10))
            store.rate(f"r{p:02d}", row["stimulus_id"], i, sam)
    store.close()
    t0 = time.perf_counter()
    subprocess.run(py + ["stimuli", "export", args.run, "--db", str(db), "--out", str(work / "set")], check=True)
    wall = time.perf_counter() - t0
    n = sum(1 for _ in open(work / "set" / "norms.csv")) - 1
    print(f"stimuli export: {n} images, {args.raters} raters, {wall:.1f} s wall (fresh process)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
