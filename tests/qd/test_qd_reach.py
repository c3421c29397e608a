"""``qdemo evolve-bench reach``: free pixels driven to every VA cell of a tiny model."""

from __future__ import annotations

import json

import pytest

from qdemo.errors import QdemoError
from qdemo.bench.reach import ReachConfig, bench_reach, reach_markdown
from qdemo.viz.bench_plots import reach_plot


def test_reach_counts_cells_and_optimising_gets_closer(tmp_path):
    few = bench_reach(ReachConfig(searcher="tiny", critic="tiny", cells=[3, 3], steps=1, chunk=4), progress=False)
    more = bench_reach(ReachConfig(searcher="tiny", critic="tiny", cells=[3, 3], steps=25, chunk=4), progress=False)
    for r in (few, more):
        assert len(r["images"]) == 9 and r["cells_total"] == 9
        cells = {tuple(x["cell"]) for x in r["images"]}
        assert r["cells_reached"] == len(cells) and r["va_coverage"] == pytest.approx(len(cells) / 9)
        own = sum(tuple(x["cell"]) == (i // 3, i % 3) for i, x in enumerate(r["images"])) / 9
        assert r["own_target_reached"] == pytest.approx(own)
        # the critic is the same tiny model here, so it agrees everywhere
        assert r["critic_within_one_cell"] == 1.0
    assert more["mean_distance_to_target"] < few["mean_distance_to_target"]
    assert more["cells_reached"] >= few["cells_reached"]
    md = reach_markdown(more)
    assert f"{more['cells_reached']} / 9" in md
    assert reach_plot(more, tmp_path / "r.png").stat().st_size > 1000


def test_reach_bad_options_are_clear():
    with pytest.raises(QdemoError, match="two positive numbers"):
        bench_reach(ReachConfig(searcher="tiny", cells=[3]), progress=False)
    with pytest.raises(QdemoError, match="low < high"):
        bench_reach(ReachConfig(searcher="tiny", ranges=[[1.0, -1.0], [-1.0, 1.0]]), progress=False)


def test_reach_cli_writes_json_md_and_plot(tmp_path, capsys):
    from qdemo.cli import main

    assert main(["evolve-bench", "reach", "--searcher", "tiny", "--cells", "2,2", "--steps", "2",
                 "--out", str(tmp_path), "--no-progress"]) == 0
    res = json.loads((tmp_path / "reach" / "reach.json").read_text())
    assert res["cells_total"] == 4 and "critic" not in res
    assert (tmp_path / "reach" / "reach.png").exists() and "VA cells" in capsys.readouterr().out
