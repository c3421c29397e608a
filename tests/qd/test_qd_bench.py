"""`qdemo evolve-bench throughput|qd|scaling` (qdemo.bench) on a tiny model and a tiny budget.

Only the structure and sanity of the figures are checked (finite, positive, consistent
ratios); no timing is asserted.
"""

from __future__ import annotations

import dataclasses

import argparse
import json
import math
import shutil
from pathlib import Path

import pytest

from qdemo.cli.evolve_bench import register as register_bench
from qdemo.errors import QdemoError
from qdemo.bench.qd import QDBenchConfig, bench_qd, qd_markdown, summarise_qd
from qdemo.bench.qd_tasks import at_budget, qd_reference_task
from qdemo.bench.scaling import ScalingConfig, bench_scaling, scaling_markdown
from qdemo.bench.throughput import ThroughputConfig, bench_throughput, throughput_markdown
from qdemo.viz.bench_plots import qd_plot

TINY_RUN = ["grid.cells=[3,3,2]", "renderer.resolution=16", "emitter.num_emitters=2"]


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="qdemo")
    register_bench(p.add_subparsers(dest="command"))
    return p


def _finite_pos(x) -> bool:
    return isinstance(x, (int, float)) and math.isfinite(x) and x > 0


def test_throughput_cli_writes_json_with_finite_figures(tmp_path, capsys):
    args = _parser().parse_args([
        "evolve-bench", "throughput", "--searcher", "tiny", "--resolution", "16", "--batch-sizes", "1,4",
        "--repeats", "1", "--single-images", "2", "--out", str(tmp_path), "--no-progress"])
    assert args.func(args) == 0
    res = json.loads((tmp_path / "throughput.json").read_text())
    assert [r["batch"] for r in res["rows"]] == [1, 4]
    for r in res["rows"]:
        for key in ("forward_img_s", "end_to_end_img_s", "single_img_s", "ratio_vs_forward", "ratio_vs_single",
                    "cpu_ratio_vs_forward", "cpu_ratio_vs_single", "grad_img_s"):
            assert _finite_pos(r[key]), (key, r[key])
        # one repeat: the paired ratios are the ratios of the timings themselves
        assert r["ratio_vs_single"] == pytest.approx(r["end_to_end_img_s"] / r["single_img_s"])
        assert r["ratio_vs_forward"] == pytest.approx(r["forward_ms"] / r["end_to_end_ms"])
    assert _finite_pos(res["single_img_s"])
    assert res["summary"]["best_batch"] in (1, 4)
    assert res["renderer"]["resolution"] == 16 and res["searcher"]["name"].startswith("tiny")
    out = capsys.readouterr().out
    assert "end-to-end img/s" in out and "throughput.json" in out
    assert (tmp_path / "throughput.md").read_text().startswith("### Throughput")


def test_throughput_rejects_bad_batch_sizes():
    with pytest.raises(QdemoError, match="batch"):
        bench_throughput(ThroughputConfig(searcher="tiny", batch_sizes=[0]), progress=False)
    with pytest.raises(SystemExit):
        _parser().parse_args(["evolve-bench", "throughput", "--batch-sizes", "a,b"])


def test_qd_bench_grid_summary_cache_and_plot(tmp_path, image_dir):
    cfg = QDBenchConfig(emitters=["random", "map-elites", "cma-mega"], seeds=2, budget=16, batch_size=8,
                        overrides=TINY_RUN, searcher="tiny", critic="tiny:1", dataset=str(image_dir),
                        backend="serial")
    out = tmp_path / "qd"
    res = bench_qd(cfg, out_dir=out, progress=False)
    assert res["iterations"] == 2
    assert set(res["per_emitter"]) == {"random", "map-elites", "cma-mega"}
    for e, st in res["per_emitter"].items():
        assert len(st["qd_score_normalised"]["values"]) == 2
        assert all(math.isfinite(v) and v >= 0 for v in st["qd_score_normalised"]["values"])
        assert 0 < st["coverage"]["mean"] <= 1 and 0 < st["va_coverage"]["mean"] <= 1
        assert st["evaluations"]["mean"] >= 16
        assert 0 <= st["critic_within_one_cell"]["mean"] <= 1
        assert st["critic_confirmed"]["mean"] <= st["critic_within_one_cell"]["mean"] + 1e-9
    pe = res["per_emitter"]
    for e in ("random", "map-elites"):  # they end exactly at the budget
        assert pe[e]["qd_score_normalised_at_budget"]["values"] == pe[e]["qd_score_normalised"]["values"]
    # the gradient emitter ends past the budget; it is compared at the budget (its first iteration)
    assert pe["cma-mega"]["evaluations"]["mean"] > 16
    assert all(0 < v <= s_ for v, s_ in zip(pe["cma-mega"]["qd_score_normalised_at_budget"]["values"],
                                           pe["cma-mega"]["qd_score_normalised"]["values"]))
    assert res["summary"]["compared_at"].startswith("equal evaluations")
    q = {e: st["qd_score_normalised_at_budget"]["mean"] for e, st in pe.items()}
    s = res["summary"]
    assert s["best_method"] == max(q, key=q.get)
    assert s["best_vs_random"] == pytest.approx(q[s["best_method"]] / q["random"])
    assert s["best_vs_map_elites"] == pytest.approx(q[s["best_method"]] / q["map-elites"])
    ref = res["reference"]
    assert ref["n_photos"] == 6 and 0 < ref["va_coverage"] <= 1
    assert s["va_coverage_vs_dataset"] == pytest.approx(s["best_va_coverage"] / ref["va_coverage"])
    md = qd_markdown(res)
    assert "| `cma-mega` |" in md and "best/random" in md
    png = qd_plot(res, out / "qd.png")
    assert png.stat().st_size > 5000
    json.dumps(res)  # JSON-serialisable

    # cached per task: a second call recomputes nothing (the run folders are not rewritten)
    shutil.rmtree(out / "runs")
    again = bench_qd(cfg, out_dir=out, progress=False)
    assert not (out / "runs").exists()
    assert again["per_emitter"]["random"]["qd_score_normalised"] == res["per_emitter"]["random"]["qd_score_normalised"]
    # an interrupted benchmark resumes: only the missing task runs again
    (victim,) = (out / "cache").glob("cma-mega-s1-*.json")
    victim.unlink()
    bench_qd(cfg, out_dir=out, progress=False)
    assert [p.name for p in (out / "runs").iterdir()] == [victim.stem]
    # other settings are new tasks, never answered from the old settings' cache
    shutil.rmtree(out / "runs")
    changed = dataclasses.replace(cfg, emitters=["random"], overrides=[*cfg.overrides, "emitter.sigma=0.05"])
    bench_qd(changed, out_dir=out, progress=False)
    assert sorted(p.name.rsplit("-", 1)[0] for p in (out / "runs").iterdir()) == ["random-s0", "random-s1"]


def test_qd_bench_first_seed_runs_other_seeds(tmp_path):
    cfg = QDBenchConfig(emitters=["map-elites"], seeds=2, first_seed=100, budget=8, batch_size=8,
                        overrides=TINY_RUN, searcher="tiny", critic="none", backend="serial")
    res = bench_qd(cfg, out_dir=tmp_path / "qd", progress=False)
    runs = sorted(p.name.rsplit("-", 1)[0] for p in (tmp_path / "qd" / "runs").iterdir())
    assert runs == ["map-elites-s100", "map-elites-s101"]
    assert len(res["per_emitter"]["map-elites"]["qd_score_normalised"]["values"]) == 2
    assert "2 seeds (100–101)" in qd_markdown(res)
    with pytest.raises(QdemoError, match="first-seed"):
        bench_qd(dataclasses.replace(cfg, first_seed=-1), out_dir=tmp_path / "bad", progress=False)


def test_reference_task_gives_the_human_rated_coverage_of_a_rated_set(tmp_path):
    """A rated set (OASIS layout, 1-7 ratings): the reference also counts the VA cells its
    human ratings occupy, next to the cells the searcher puts the same photos in."""
    import numpy as np
    from PIL import Image

    root = tmp_path / "oasis"
    (root / "images").mkdir(parents=True)
    rng = np.random.default_rng(0)
    rows = [("Sun 1", 1.3, 1.3), ("Sun 2", 6.7, 6.7), ("Cat 1", 4.1, 4.1), ("Cat 2", 4.2, 4.2)]
    text = ",Theme,Category,Source,Valence_mean,Valence_SD,Valence_N,Arousal_mean,Arousal_SD,Arousal_N\n"
    for i, (theme, v, a) in enumerate(rows):
        text += f"I{i + 1},{theme},Scenery,Pixabay,{v},1,100,{a},1,100\n"
        Image.fromarray((rng.random((20, 20, 3)) * 255).astype(np.uint8)).save(root / "images" / f"{theme}.jpg")
    (root / "OASIS.csv").write_text(text)
    ref = qd_reference_task(str(root), 10, "tiny", "cpu", 1, [10, 10, 5], [[-1, 1]] * 3, 16)
    # ratings -0.9, 0.9 and twice ~0.05 on both axes: 3 of the 100 VA cells
    assert ref["n_rated"] == 4 and ref["human_va_coverage"] == pytest.approx(0.03)
    assert ref["n_photos"] == 4 and 0 < ref["va_coverage"] <= 0.04
    unrated = tmp_path / "plain"
    unrated.mkdir()
    Image.fromarray((rng.random((20, 20, 3)) * 255).astype(np.uint8)).save(unrated / "a.png")
    plain = qd_reference_task(str(unrated), 10, "tiny", "cpu", 1, [10, 10, 5], [[-1, 1]] * 3, 16)
    assert plain["human_va_coverage"] is None and plain["n_rated"] == 0


def test_qd_bench_bad_names(tmp_path):
    with pytest.raises(QdemoError, match="valid emitters"):
        bench_qd(QDBenchConfig(emitters=["random", "nope"], searcher="tiny", backend="serial"),
                 out_dir=tmp_path, progress=False)
    with pytest.raises(QdemoError, match="renderer"):
        bench_qd(QDBenchConfig(emitters=["random"], seeds=1, budget=8, batch_size=8, renderer="nope",
                               overrides=TINY_RUN, searcher="tiny", critic="none", backend="serial"),
                 out_dir=tmp_path, progress=False)


def test_scaling_bench_rows(tmp_path):
    cfg = ScalingConfig(grid_sizes=[2, 3], batch_sizes=[4, 8], batch_size=4, iterations=2, emitter="map-elites",
                        searcher="tiny", critic="none", isolate=False)
    res = bench_scaling(cfg, out_dir=tmp_path, progress=False)
    rows = {r["key"]: r for r in res["rows"]}
    assert set(rows) == {"grid2-b4", "grid3-b4", "grid2-b8"}
    assert rows["grid2-b4"]["series"] == "grid+batch" and rows["grid3-b4"]["series"] == "grid"
    assert rows["grid2-b8"]["series"] == "batch" and rows["grid2-b8"]["batch_size"] == 8
    assert rows["grid2-b4"]["cells"] == 8 and rows["grid3-b4"]["cells"] == 27
    for r in rows.values():
        for key in ("wall_s", "s_per_iteration", "tracemalloc_peak_mb", "rss_after_load_mb", "rss_peak_mb"):
            assert _finite_pos(r[key]), (key, r[key])
        assert r["rss_peak_mb"] >= r["rss_after_load_mb"] - 2.0  # /proc statm vs getrusage accounting
        assert 1 <= r["elites"] <= r["cells"]
    md = scaling_markdown(res)
    assert "| 27 | 4 |" in md and "| 8 | 8 |" in md
    with pytest.raises(QdemoError, match="valid emitters"):
        bench_scaling(ScalingConfig(emitter="nope"), out_dir=tmp_path, progress=False)


@pytest.mark.slow
def test_scaling_cli_runs_each_configuration_in_a_fresh_process(tmp_path, capsys):
    args = _parser().parse_args([
        "evolve-bench", "scaling", "--searcher", "tiny", "--emitter", "random", "--grid-sizes", "2",
        "--batch-sizes", "4", "--batch-size", "4", "--iterations", "1", "--out", str(tmp_path), "--no-progress"])
    assert args.func(args) == 0
    res = json.loads((tmp_path / "scaling" / "scaling.json").read_text())
    (row,) = res["rows"]
    assert row["cells"] == 8 and _finite_pos(row["rss_peak_mb"]) and _finite_pos(row["wall_s"])
    assert "fresh process" in capsys.readouterr().out


def test_at_budget_reads_the_last_iteration_within_the_budget(tmp_path):
    assert at_budget(tmp_path, 100) == {}  # no metrics.csv: nothing to add
    (tmp_path / "metrics.csv").write_text(
        "iteration,evaluations,num_elites,coverage,qd_score,qd_score_normalised,best,mean_objective,wall_s\r\n"
        "1,36,3,0.03,290,2.9,98,97,1\r\n2,72,5,0.05,490,4.9,99,97,2\r\n3,108,6,0.06,590,5.9,99,97,3\r\n",
        encoding="utf-8")
    assert at_budget(tmp_path, 100) == {"qd_score_normalised_at_budget": 4.9, "coverage_at_budget": 0.05,
                                         "evaluations_at_budget": 72.0}
    assert at_budget(tmp_path, 10)["qd_score_normalised_at_budget"] == 0.0


def test_summary_falls_back_to_end_of_run_for_all_emitters_when_one_lacks_the_budget_figure():
    cfg = QDBenchConfig(emitters=["random", "map-elites"], seeds=1, budget=64, batch_size=32, searcher="tiny")
    base = {"coverage": 0.1, "va_coverage": 0.2, "best": 90.0, "qd_score": 1.0, "evaluations": 64.0,
            "critic_confirmed": 0.1, "critic_within_one_cell": 0.5, "wall_s": 1.0, "cpu_s": 1.0}
    full = {"random-s0": {**base, "qd_score_normalised": 2.0, "qd_score_normalised_at_budget": 2.0},
            "map-elites-s0": {**base, "qd_score_normalised": 4.0, "qd_score_normalised_at_budget": 3.0}}
    res = summarise_qd(cfg, full, reference=None, iterations=2, cells=[2, 2, 2], grid_name="vad", wall_s=1.0,
                       renderer="pixels")
    assert res["summary"]["best_vs_random"] == pytest.approx(1.5)  # 3.0 / 2.0, at the budget
    old = {"random-s0": {**base, "qd_score_normalised": 2.0},  # an old cached run: no at-budget figure
           "map-elites-s0": {**base, "qd_score_normalised": 4.0, "qd_score_normalised_at_budget": 3.0}}
    res = summarise_qd(cfg, old, reference=None, iterations=2, cells=[2, 2, 2], grid_name="vad", wall_s=1.0,
                       renderer="pixels")
    assert res["summary"]["best_vs_random"] == pytest.approx(2.0)  # 4.0 / 2.0, both at the end
    assert res["summary"]["compared_at"].startswith("the end")
    assert "at the end of each run" in qd_markdown(res)


def test_content_bench_measures_rated_images_and_separates_renders_from_flat_fields(tmp_path, capsys):
    """evolve-bench content: the ranges over a rated set (grouped per set) and the content score
    of renders, near-uniform fields and pixel noise."""
    import numpy as np
    from PIL import Image

    root = tmp_path / "oasis"
    (root / "images").mkdir(parents=True)
    rng = np.random.default_rng(0)
    text = ",Theme,Category,Source,Valence_mean,Valence_SD,Valence_N,Arousal_mean,Arousal_SD,Arousal_N\n"
    for i in range(6):
        text += f"I{i + 1},Thing {i + 1},Scenery,Pixabay,4,1,100,4,1,100\n"
        img = np.kron(rng.random((4, 4, 3)), np.ones((8, 8, 1)))  # blocky: contrast and edges, not noise
        Image.fromarray((img * 255).astype(np.uint8)).save(root / "images" / f"Thing {i + 1}.jpg")
    (root / "OASIS.csv").write_text(text)
    args = _parser().parse_args(["evolve-bench", "content", "--datasets", str(root), "--renderers", "shapes",
                                 "--samples", "8", "--resolution", "32", "--out", str(tmp_path / "b"),
                                 "--no-progress"])
    assert args.func(args) == 0
    res = json.loads((tmp_path / "b" / "content" / "content.json").read_text())
    assert res["ranges"]["n"] == 6 and set(res["per_set"]) == {"oasis"}
    lo, hi = res["ranges"]["log_contrast"]
    assert lo <= res["ranges"]["log_contrast_median"] <= hi
    assert set(res["scores"]) == {"shapes", "flat", "noise"}
    assert res["scores"]["flat"]["near_uniform"] == 1.0 and res["scores"]["flat"]["mean"] < 0.05
    assert res["scores"]["noise"]["mean"] < 0.05
    assert "Content score" in (tmp_path / "b" / "content" / "content.md").read_text()
