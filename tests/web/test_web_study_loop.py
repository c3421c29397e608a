"""The loop of docs/study.md end to end, with tiny models: a run -> export-study -> five scripted raters
in headless Chromium (valence from the picture's brightness, read from the page, plus noise) ->
validate -> adapt -> re-judge the run -> stimuli export. The adapted searcher must agree with the
raters' hidden rule on images nobody rated clearly better than its parent, and the exported set must
match the database."""

from __future__ import annotations

import csv
import json
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from qdemo.cli import main

pytest.importorskip("playwright.sync_api")
pytestmark = [pytest.mark.browser, pytest.mark.slow]

RATERS = 5
BRIGHTNESS_JS = """(suffix) => { const i = document.querySelector('#stimulus');
  if (!(i.complete && i.naturalWidth > 0 && i.src.endsWith(suffix))) return null;
  const c = document.createElement('canvas');
  c.width = i.naturalWidth; c.height = i.naturalHeight; const g = c.getContext('2d'); g.drawImage(i, 0, 0);
  const d = g.getImageData(0, 0, c.width, c.height).data; let s = 0;
  for (let k = 0; k < d.length; k += 4) s += 0.299 * d[k] + 0.587 * d[k + 1] + 0.114 * d[k + 2];
  return {b: s / (d.length / 4) / 255}; }"""
"""Mean luma (0-1) of the picture on screen once it is picture ``suffix`` and loaded (else null: wait)."""


def hidden_valence(brightness: float) -> float:
    """The raters' rule on SAM 1-9 (before their noise)."""
    return 5 + 16 * (brightness - 0.5)


def _parent(tmp: Path) -> Path:
    """A tiny searcher whose valence was trained on redness (not brightness)."""
    rng = np.random.default_rng(0)
    (tmp / "red").mkdir(parents=True)
    lines = ["file,valence,arousal"]
    for i in range(40):
        arr = np.clip(255 * rng.uniform(0.1, 1) * rng.uniform(0.2, 1, 3)[None, None] + rng.normal(0, 12, (24, 24, 3)),
                      0, 255).astype(np.uint8)
        Image.fromarray(arr, "RGB").save(tmp / "red" / f"r{i}.png")
        red = (arr[..., 0].mean() - arr[..., 2].mean()) / 255
        lines.append(f"r{i}.png,{np.clip(5 + 8 * red, 1, 9):.2f},{np.clip(5 + rng.normal(), 1, 9):.2f}")
    (tmp / "red" / "ratings.csv").write_text("\n".join(lines) + "\n")
    cfg = tmp / "reg.yaml"
    cfg.write_text(f"data: {{oasis: null, emotion6: null, word_norms: null, csv: {tmp / 'red' / 'ratings.csv'}, "
                   "csv_scale: '1,9'}\nsearcher: {name: tiny-red, views: 2, model: {backbone: tiny, resolution: 32, "
                   f"members: 3}}}}\nroles: [searcher]\nfolds: 3\nevaluate: false\ncache_dir: {tmp / 'cache'}\n"
                   f"out_dir: {tmp / 'weights'}\n")
    assert main(["regressor", "train", "--config", str(cfg), "--device", "cpu"]) == 0
    return tmp / "weights" / "searcher.safetensors"


def _rate_in_browser(page, url: str, n: int, rng: np.random.Generator) -> None:
    """Five participants rate every picture with the keyboard, valence by the hidden rule + noise."""
    for p in range(RATERS):
        bias = rng.normal(0, 0.3)
        page.goto(url)
        page.wait_for_selector("body[data-ready='1']", timeout=15000)
        page.fill("#participant", f"rater{p}")
        page.click("#start")
        page.wait_for_selector("#trial:not(.hidden)")
        for k in range(n):  # look at picture k (its mean brightness, once it is shown), answer with the keys
            seen = page.wait_for_function(BRIGHTNESS_JS, arg=f"/{k}", timeout=10000).json_value()["b"]
            v = int(np.clip(np.rint(hidden_valence(seen) + bias + rng.normal(0, 0.7)), 1, 9))
            a, d = (int(np.clip(np.rint(5 + rng.normal(0, 1.5)), 1, 9)) for _ in range(2))
            page.keyboard.type(f"{v}{a}{d}\n")
        page.wait_for_selector("#done:not(.hidden)", timeout=10000)
    assert page.js_errors == []


def _heldout_r(spec: str, images: torch.Tensor, truth: np.ndarray) -> float:
    from qdemo.emotion.zoo import load_emotion_model

    with torch.no_grad():
        pred = load_emotion_model(spec).predict(images).mean[:, 0].numpy()
    return float(np.corrcoef(pred, truth)[0, 1])


def test_the_study_loop_end_to_end(tmp_path: Path, tiny_evolve_cfg, serve, page):  # long: the whole loop
    from qdemo.render.base import make_renderer
    from qdemo.runfolder import read_manifest, read_run, run_evolve
    from qdemo.web import RateApp, run_validate

    t0 = time.perf_counter()
    torch.manual_seed(0)  # the tiny backbone's biases come from the global generator
    parent = _parent(tmp_path / "parent")
    cfg = tiny_evolve_cfg(**{"searcher": str(parent), "critic": "tiny:1", "renderer.name": "cppn",
                             "renderer.resolution": 24, "grid.cells": [10, 10, 1], "iterations": 10,
                             "batch_size": 16, "emitter.name": "map-elites", "objective.content_weight": 0.0,
                             "name": "loop"})
    run = run_evolve(cfg, progress=False).out_dir
    n_elites = min(24, read_run(run).n)  # the study: up to 24 elites spread over the cells
    assert n_elites >= 16
    study = tmp_path / "study"
    assert main(["export-study", "--archive", str(run), "--no-generator", "--n-elites", str(n_elites), "--size", "32",
                 "--critic", "tiny:1", "--device", "cpu", "--out", str(study)]) == 0

    db = tmp_path / "ratings.sqlite"
    srv, _ = serve(RateApp(study, db, seed=3))
    _rate_in_browser(page, srv.url, n_elites, np.random.default_rng(1))
    t_rate = time.perf_counter()

    val = run_validate(db, out=tmp_path / "val", quiet=True)
    assert val["n_participants"] == RATERS and val["raters"]["n_flagged"] == 0
    assert val["reliability"]["elite"]["valence"]["spearman_brown"] > 0.8  # the rule is shared by all raters

    adapted = tmp_path / "adapted.safetensors"
    assert main(["regressor", "adapt", "--model", str(parent), "--db", str(db), "--out", str(adapted)]) == 0
    report = json.loads((tmp_path / "adapted.report.json").read_text())
    assert report["chosen"] != "parent" and report["ratings"]["n_raters"] == RATERS

    # images nobody rated: random cppn renders; the raters' rule without their noise
    renderer = make_renderer("cppn", resolution=24, seed=11)
    images = renderer(torch.as_tensor(np.random.default_rng(5).normal(0, 1, (60, renderer.solution_dim)),
                                      dtype=torch.float32))
    truth = np.array([hidden_valence(float((0.299 * im[0] + 0.587 * im[1] + 0.114 * im[2]).mean())) for im in images])
    r_parent, r_adapted = _heldout_r(str(parent), images, truth), _heldout_r(str(adapted), images, truth)
    assert r_adapted > r_parent + 0.25 and r_adapted > 0.6, (r_parent, r_adapted)

    # re-judge: the elites re-scored and re-placed by the adapted searcher, the search continued
    assert main(["evolve", "--resume", str(run), "--searcher", str(adapted), "--rejudge", "--iterations", "12",
                 "--quiet", "--no-plots"]) == 0
    manifest = read_manifest(run)
    assert manifest["models"]["searcher"]["sha256"] != manifest["searcher_history"][0]["sha256"]
    assert manifest["iterations"] == 12 and manifest["searcher_history"][0]["until_iteration"] == 10
    assert manifest["models"]["searcher"]["adapted"]["ratings"]["n_raters"] == RATERS

    out = tmp_path / "set"
    assert main(["stimuli", "export", str(run), "--db", str(db), "--out", str(out)]) == 0
    with open(out / "norms.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    files = sorted(p.name for p in (out / "images").iterdir())
    assert sorted(Path(r["file"]).name for r in rows) == files and len(files) == n_elites
    import sqlite3

    con = sqlite3.connect(db)
    counts = dict(con.execute("SELECT stimulus_id, COUNT(*) FROM ratings GROUP BY stimulus_id").fetchall())
    con.close()
    assert all(int(r["n"]) == counts[r["stimulus_id"]] == RATERS for r in rows)
    assert all(r["searcher_valence"] != "" for r in rows)  # scored by the run's current (adapted) searcher
    print(f"study loop: {time.perf_counter() - t0:.1f} s (rating in Chromium {t_rate - t0:.1f} s from the start)")
