"""Heatmap figure titles fit inside the figure (issue 19: objective_d*.png titles were clipped)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qdemo.viz import heatmap_figure, load_run
from qdemo.web.demo import make_demo_archive

LONG_PARTS = ("cma-maega_fourier_seed0_long-run-name", "emitter cma-maega", "renderer fourier",
              "searcher searcher-lite0-96px-ridge5-ensemble")


def _long_titled_run(root: Path, cells=(4, 4, 3)) -> Path:
    run = make_demo_archive(root / LONG_PARTS[0], cells=cells, fill=0.8, seed=2, reference=0, image_size=8)
    man = json.loads((run / "manifest.json").read_text())
    man["emitter"] = {"name": "cma-maega"}
    man["renderer"] = {"name": "fourier", "resolution": 64}
    man["models"]["searcher"]["name"] = "searcher-lite0-96px-ridge5-ensemble"
    (run / "manifest.json").write_text(json.dumps(man))
    return run


def _check_title_inside(fig) -> None:
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    box = fig._suptitle.get_window_extent(renderer)
    width, height = fig.bbox.width, fig.bbox.height
    assert 0 <= box.x0 and box.x1 <= width and 0 <= box.y0 and box.y1 <= height, (box, width, height)
    panel_tops = [ax.title.get_window_extent(renderer).y1 for ax in fig.axes
                  if (ax.get_gid() or "").startswith("heatmap-panel") and ax.get_visible()]
    assert panel_tops and box.y0 >= max(panel_tops)  # above the panels' own titles, not over them
    text = " ".join(fig._suptitle.get_text().split())
    for part in LONG_PARTS:  # wrapped, never cut
        assert part in text, (part, text)


@pytest.mark.parametrize("band", [None, 0, 2])
def test_heatmap_title_lies_inside_the_figure(tmp_path: Path, band):
    run = load_run(_long_titled_run(tmp_path))
    for value in ("objective", "critic_agreement"):
        _check_title_inside(heatmap_figure(run, value, band=band))


def test_two_d_heatmap_title_fits(tmp_path: Path):
    _check_title_inside(heatmap_figure(load_run(_long_titled_run(tmp_path, cells=(4, 4)))))
