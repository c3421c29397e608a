"""qdemo compare: outputs in the docs/formats.md layout, metrics, caching, errors (serial backend)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from qdemo.compare import read_archive, run_compare
from qdemo.errors import DataError, QdemoError


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_read_archive_cell_centres(archive_factory):
    run = read_archive(archive_factory(cells=(4, 4, 2), n=5))
    for c in run.cells:
        iv, ia, idd = np.unravel_index(c.index, (4, 4, 2))
        assert c.target == pytest.approx((-0.75 + 0.5 * iv, -0.75 + 0.5 * ia, -0.5 + 1.0 * idd))
        assert c.image.exists()


def test_read_archive_errors(tmp_path, archive_factory):
    with pytest.raises(DataError, match="run folder not found"):
        read_archive(tmp_path / "nope")
    a = archive_factory()
    (a / "archive.csv").write_text("idx,image\n1,x.png\n")
    with pytest.raises(DataError, match="missing column"):
        read_archive(a)
    (a / "archive.csv").write_text("index,image\n999,x.png\n")
    with pytest.raises(DataError, match="outside the grid"):
        read_archive(a)


SOURCES = ("explorer", "generator-shapes", "generator-pixels")


@pytest.mark.slow
def test_compare_outputs_and_cache(tmp_path, archive_factory, tiny_compare_config):
    a, b = archive_factory("run_a", n=5, seed=0), archive_factory("run_b", n=4, seed=1)
    out = tmp_path / "cmp"
    summary = run_compare([a, b], tiny_compare_config, out, backend="serial", progress=False)
    # cells.csv: one row per occupied cell of each archive, a column group per generator
    cells = _rows(out / "cells.csv")
    assert len(cells) == 9 and {r["archive"] for r in cells} == {"run_a", "run_b"}
    assert {"shapes_critic_error", "pixels_critic_error", "shapes_within_cell_diversity"} <= set(cells[0])
    # samples.csv: K rows per cell and generator, columns as in docs/formats.md, images exist
    samples = _rows(out / "samples.csv")
    assert list(samples[0]) == ["archive", "source", "index", "k", "image", "critic_valence", "critic_arousal",
                                "critic_dominance", "target_valence", "target_arousal", "target_dominance"]
    assert len(samples) == 9 * 3 * 2 and {s["source"] for s in samples} == set(SOURCES[1:])
    assert all((out / s["image"]).is_file() for s in samples)
    run = read_archive(a)
    centre = {c.index: c.target for c in run.cells}
    for s in samples:
        if s["archive"] == "run_a":
            assert float(s["target_valence"]) == pytest.approx(centre[int(s["index"])][0])
    # summary: archives.<run>.metrics.<metric>.<source>; within-cell diversity only for the generators
    for block in [summary["all"], *summary["archives"].values()]:
        for name, v in block["metrics"].items():
            want = SOURCES[1:] if name == "within_cell_diversity" else SOURCES
            assert set(v) == set(want) | {"winner"}, name
            assert all(np.isfinite(v[s]) or name == "cost_per_usable_image" for s in want), name
            assert v["winner"] in (*want, "tie")
    m = summary["all"]["metrics"]["critic_error"]
    assert m["winner"] == min(SOURCES, key=lambda s: m[s])
    # the critic error in the summary is the mean of the per-cell numbers
    assert m["explorer"] == pytest.approx(np.mean([float(r["elite_critic_error"]) for r in cells]), rel=1e-3)
    assert m["generator-shapes"] == pytest.approx(np.mean([float(r["shapes_critic_error"]) for r in cells]), rel=1e-3)
    wc = summary["archives"]["run_a"]["metrics"]["within_cell_diversity"]["generator-pixels"]
    assert wc == pytest.approx(np.mean([float(r["pixels_within_cell_diversity"]) for r in cells
                                        if r["archive"] == "run_a"]), rel=1e-3)
    # cost: the explorer's wall time (12 s per run) over its usable elites; training 2 s + sampling for shapes
    x = summary["archives"]["run_a"]["extra"]
    cost = summary["archives"]["run_a"]["metrics"]["cost_per_usable_image"]
    if x["explorer"]["usable_images"]:
        assert cost["explorer"] == pytest.approx(12.0 / x["explorer"]["usable_images"])
    if x["generator-shapes"]["usable_images"]:
        assert cost["generator-shapes"] > 2.0 / x["generator-shapes"]["usable_images"]
    on_disk = json.loads((out / "summary.json").read_text())
    assert on_disk["all"]["metrics"]["coverage"] == summary["all"]["metrics"]["coverage"]
    assert set(on_disk["generators"]) == set(SOURCES[1:])
    # the tiny generators record no judge: compared, but marked stale, never silently
    assert all("records no judge" in g["stale"] for g in on_disk["generators"].values())
    report = (out / "report.md").read_text()
    assert "| metric | explorer | generator-shapes | generator-pixels | best |" in report
    assert report.count("**STALE: it records no judge") == 2
    assert list((out / "heatmaps").glob("*.png")) and list((out / "sheets").glob("run_a_V*.png"))
    assert (out / "sheets" / "run_a_overview.png").is_file()

    # A second run recomputes nothing: every task comes from the cache.
    def must_not_run(*args):
        raise AssertionError("a cached task was recomputed")

    again = run_compare([a, b], tiny_compare_config, out, backend="serial", progress=False, task_fn=must_not_run)
    assert again["all"]["metrics"] == summary["all"]["metrics"]


def test_spread_cells_cover_the_plane():
    from qdemo.compare.figures import spread_cells

    rows = [{"target": [v, a, 0.0], "index": i} for i, (v, a) in
            enumerate([(-0.8, -0.6), (-0.7, -0.5), (0.7, 0.5), (0.0, 0.0), (-0.8, 0.5), (0.7, -0.6), (0.1, 0.1)])]
    picked = spread_cells(rows, 5)
    assert {r["index"] for r in picked} == {0, 2, 3, 4, 5}  # the four corners and the centre
    assert [r["target"][0] for r in picked] == sorted(r["target"][0] for r in picked)


def test_compare_bad_input(tmp_path, archive_factory, tiny_compare_config):
    a = archive_factory("run_a", n=3)
    (a / "elites" / next(iter(sorted(p.name for p in (a / "elites").iterdir())))).unlink()
    with pytest.raises(QdemoError, match="elite image missing"):
        run_compare([a], tiny_compare_config, tmp_path / "out", backend="serial", progress=False)
    with pytest.raises(QdemoError, match="at least one"):
        run_compare([], tiny_compare_config, tmp_path / "out", backend="serial", progress=False)


def test_compare_refuses_what_does_not_fit(tmp_path, archive_factory, tiny_compare_config, tiny_shapes_generator):
    from dataclasses import replace

    from qdemo.errors import ConfigError

    cppn = archive_factory("run_c", n=3, renderer={"name": "cppn", "solution_dim": 139, "resolution": 16})
    only_shapes = replace(tiny_compare_config, generators=[str(tiny_shapes_generator)])
    with pytest.raises(ConfigError, match=r"generator.safetensors: a generator for the 'shapes' renderer cannot be "
                                          r"compared with these runs: it draws with the 'shapes' renderer, the run "
                                          r"with 'cppn'"):
        run_compare([cppn], only_shapes, tmp_path / "o1", backend="serial", progress=False)
    bigger = archive_factory("run_d", n=3, renderer={"name": "shapes", "palette": "free", "shapes": 9})
    with pytest.raises(ConfigError, match="its renderer options differ from the run's"):
        run_compare([bigger], only_shapes, tmp_path / "o2", backend="serial", progress=False)
    with pytest.raises(ConfigError, match="records no judge.*--strict refuses"):
        run_compare([archive_factory("run_e", n=3)], replace(tiny_compare_config, strict=True), tmp_path / "o3",
                    backend="serial", progress=False)
    assert not (tmp_path / "o3").exists()  # refused before anything is written
    with pytest.raises(QdemoError, match="two generators of kind 'pixels'"):
        run_compare([cppn], replace(tiny_compare_config, generators=[tiny_compare_config.generators[1]] * 2),
                    tmp_path / "o4", backend="serial", progress=False)


def test_compare_cli(tmp_path, archive_factory, tiny_generator, photo_dir, capsys):
    from qdemo.cli import main

    a = archive_factory("run_a", n=3)
    out = tmp_path / "cli_out"
    rc = main(["compare", str(a), "--generator", str(tiny_generator), "--out", str(out), "--serial", "-k", "2",
               "--critic", "tiny:1", "--searcher", "tiny:0", "--photos", str(photo_dir), "--no-progress",
               "--config", str(tmp_path / "missing.yaml")])
    assert rc == 2  # a named config that does not exist is an error
    assert "config file not found" in capsys.readouterr().err
    rc = main(["compare", str(a), "--generator", str(tiny_generator), "--out", str(out), "--serial", "-k", "2",
               "--set", "critic=tiny:1", "--set", "searcher=tiny:0", "--photos", str(photo_dir), "--no-progress",
               "--set", "photo_resolution=16", "--set", f"cache_dir={tmp_path / 'cache'}", "--set", "pca_dim=4"])
    assert rc == 0
    assert len(_rows(out / "samples.csv")) == 3 * 2
    summary = json.loads((out / "summary.json").read_text())
    assert (summary["critic"], summary["searcher"]) == ("tiny:1", "tiny:0")  # --set is not dropped by unset flags


class _FakeJudge(torch.nn.Module):
    """A 'searcher' that reads an image's mean brightness as valence (arousal, dominance 0)."""

    def __init__(self):
        super().__init__()
        self.p = torch.nn.Parameter(torch.zeros(1))

    def forward(self, x):
        v = x.mean(dim=(1, 2, 3)) * 2 - 1
        return torch.stack([v, torch.zeros_like(v), torch.zeros_like(v)], dim=1)


def test_selection_keeps_the_draws_the_searcher_places_nearest(tiny_generator):
    from qdemo.generator import load_generator
    from qdemo.generator.sample import generate, generate_selected

    gen = load_generator(str(tiny_generator))
    target = [0.3, 0.0, 0.0]
    plain, err = generate_selected(gen, target, 3, judge=None, select_from=0, seed=5)
    assert torch.equal(plain, generate(gen, [target] * 3, seed=5)) and np.isnan(err).all()  # no selection: as before
    judge = _FakeJudge()
    every = generate(gen, [target] * 12, seed=5)  # the 12 candidates, in draw order
    every_err = (judge(every)[:, :3] - torch.tensor(target)).abs().mean(1).numpy()
    kept, kept_err = generate_selected(gen, target, 3, judge=judge, select_from=12, seed=5)
    want = np.sort(np.argsort(every_err, kind="stable")[:3])
    assert torch.allclose(kept, every[want]) and np.allclose(kept_err, every_err[want], atol=1e-6)
    assert kept_err.max() <= np.sort(every_err)[2] + 1e-9 and kept_err.mean() <= every_err[:3].mean() + 1e-9
    # a content score (as the explorer's prior): the nearest draws without content are passed over
    nearest = np.argsort(every_err, kind="stable")
    flat = set(nearest[:2].tolist())  # pretend the two nearest draws are flat fields
    scores = torch.tensor([0.1 if i in flat else 0.9 for i in range(12)])
    lookup = {every[i].numpy().tobytes(): scores[i] for i in range(12)}

    def content(x):
        return torch.stack([lookup[im.numpy().tobytes()] for im in x])

    kept, kept_err = generate_selected(gen, target, 3, judge=judge, select_from=12, seed=5, content=content)
    want = np.sort([i for i in nearest if i not in flat][:3])
    assert torch.allclose(kept, every[want]) and np.allclose(kept_err, every_err[want], atol=1e-6)
    # when fewer than K draws have content, the ones with the most content fill up
    few = torch.tensor([0.9 if i == nearest[5] else 0.05 * i / 12 for i in range(12)])
    lookup = {every[i].numpy().tobytes(): few[i] for i in range(12)}
    kept, _ = generate_selected(gen, target, 3, judge=judge, select_from=12, seed=5, content=content)
    want = np.sort([int(nearest[5]), 11, 10])
    assert torch.allclose(kept, every[want])
    with pytest.raises(ValueError, match="needs a judge"):
        generate_selected(gen, target, 3, judge=None, select_from=12, seed=5)


def test_compare_with_selection_records_it_and_keeps_k_samples(tmp_path, archive_factory,
                                                              tiny_compare_config):
    import dataclasses

    a = archive_factory("run_a", n=4, seed=0)
    plain = run_compare([a], tiny_compare_config, tmp_path / "plain", backend="serial", progress=False)
    cfg = dataclasses.replace(tiny_compare_config, select_from=12)
    chosen = run_compare([a], cfg, tmp_path / "sel", backend="serial", progress=False)
    assert plain["select_from"] == 3 and chosen["select_from"] == 12
    assert "kept from 12 draws" in (tmp_path / "sel" / "report.md").read_text()
    assert "no selection" in (tmp_path / "plain" / "report.md").read_text()
    assert len(_rows(tmp_path / "sel" / "samples.csv")) == 4 * 3 * 2  # still K per cell and generator
    with pytest.raises(QdemoError, match="select_from"):
        run_compare([a], dataclasses.replace(tiny_compare_config, select_from=-1), tmp_path / "bad",
                    backend="serial", progress=False)
