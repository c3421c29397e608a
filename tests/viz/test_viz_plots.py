"""Plots of a run folder, on a tiny run folder written by hand (docs/formats.md)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from qdemo.errors import DataError
from qdemo.viz import (
    critic_agreement_figure, critic_agreement_levels, heatmap_figure, load_run, metrics_figure, montage_figure,
    montage_selection, plot_all, plot_critic_agreement, plot_heatmap_slices, plot_metrics, plot_montage,
)
from qdemo.viz.agreement import AGREEMENT_CMAP
from qdemo.viz.montage import MONTAGE_DPI

WHITE = (255, 255, 255)
SAVE_DPI = 110  # save_figure's default

HEADER_3D = ["index", "cell_v", "cell_a", "cell_d", "objective", "valence", "arousal", "dominance",
             "valence_sd", "arousal_sd", "dominance_sd", "critic_valence", "critic_arousal",
             "critic_dominance", "critic_same_cell", "critic_within_one", "image"]


def make_run(root: Path, *, cells=(6, 5, 3), filled=None, critic=True, seed=0, name="run") -> Path:
    """Write a run folder with elites in the cells ``filled`` ((v, a[, d]) tuples)."""
    rng = np.random.default_rng(seed)
    run = root / name
    (run / "elites").mkdir(parents=True)
    ndim = len(cells)
    dims = ["valence", "arousal", "dominance"][:ndim]
    manifest = {
        "qdemo_version": "0.1.0", "status": "complete", "seed": seed, "command": "qdemo evolve",
        "grid": {"name": "vad" if ndim == 3 else "va", "dims": dims, "cells": list(cells),
                 "ranges": [[-1, 1]] * ndim},
        "renderer": {"name": "pixel", "solution_dim": 48, "resolution": 16}, "emitter": "cma-me",
        "models": {"searcher": {"name": "tiny", "sha256": "0" * 64, "human_rated": ["valence", "arousal"],
                                "proxy": ["dominance"]}},
        "metrics": {"qd_score": 1.0, "coverage": 0.1},
    }
    (run / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    if filled is None:
        all_cells = list(np.ndindex(*cells))
        keep = rng.choice(len(all_cells), size=len(all_cells) // 2, replace=False)
        filled = [all_cells[i] for i in sorted(keep)]
    header = HEADER_3D if ndim == 3 else [h for h in HEADER_3D if "dominance" not in h and h != "cell_d"]
    rows = []
    for cell in filled:
        centre = [-1 + (c + 0.5) * 2 / n for c, n in zip(cell, cells)]
        idx = int(np.ravel_multi_index(cell, cells))
        obj = float(rng.uniform(5, 95))
        arr = np.zeros((16, 16, 3), np.uint8)
        arr[..., 0] = int((centre[0] + 1) * 127)
        arr[..., 2] = int((centre[1] + 1) * 127)
        Image.fromarray(arr).save(run / "elites" / f"cell_{idx}.png")
        crit = [c + rng.normal(0, 0.3) for c in centre]
        ccell = [min(n - 1, max(0, int((x + 1) / 2 * n))) for x, n in zip(crit, cells)]
        dist = max(abs(a - b) for a, b in zip(ccell, cell))
        row = {"index": idx, "objective": obj, "image": f"elites/cell_{idx}.png"}
        for d, dim in enumerate(dims):
            row[f"cell_{dim[0]}"] = cell[d]
            row[dim] = centre[d]
            row[f"{dim}_sd"] = 0.05
            row[f"critic_{dim}"] = crit[d] if critic else ""
        row["critic_same_cell"] = int(dist == 0) if critic else ""
        row["critic_within_one"] = int(dist <= 1) if critic else ""
        rows.append(row)
    with open(run / "archive.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=header)
        w.writeheader()
        w.writerows(rows)
    with open(run / "metrics.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["iteration", "evaluations", "qd_score", "qd_score_normalised", "coverage", "best", "emitter"])
        for i in range(1, 11):
            w.writerow([i, 64 * i, 10.0 * i, 0.1 * i, 0.02 * i, 50 + i, "cma-me"])
    return run


def _panels(fig):
    return [ax for ax in fig.axes if (ax.get_gid() or "").startswith("heatmap-panel")]


def _mesh_arrays(fig):
    """The data array of every heatmap panel (masked where a cell is drawn empty)."""
    return [coll.get_array() for ax in _panels(fig) for coll in ax.collections if coll.get_array() is not None]


def _pixel_at(fig, ax, x, y):
    """RGB of the rendered figure at data coordinates (x, y) of ``ax``."""
    fig.canvas.draw()
    buf = np.asarray(fig.canvas.buffer_rgba())[..., :3]
    px, py = ax.transData.transform((x, y))
    h = buf.shape[0]
    return buf[int(round(h - py)), int(round(px))]


def _png(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB")).astype(int)  # (H, W, 3)


def _png_lookup(png: np.ndarray, fig, dpi: int):
    """``at(ax, x, y)``: RGB of a PNG saved from ``fig`` at ``dpi``, at data coordinates (x, y) of ``ax``."""
    fig.set_dpi(dpi)
    fig.canvas.draw()  # lays the figure out at the PNG's resolution
    assert abs(png.shape[1] - fig.get_figwidth() * dpi) <= 1  # the PNG is this figure's size

    def at(ax, x, y) -> np.ndarray:
        px, py = ax.transData.transform((x, y))
        return png[int(round(png.shape[0] - py)), int(round(px))]

    return at


def _png_box(png: np.ndarray, fig, ax, dpi: int) -> np.ndarray:
    """The pixels of a PNG saved from ``fig`` at ``dpi`` inside ``ax``'s plot area."""
    fig.set_dpi(dpi)
    fig.canvas.draw()
    b = ax.get_window_extent()
    h = png.shape[0]
    return png[int(h - b.y1) + 2:int(h - b.y0) - 2, int(b.x0) + 2:int(b.x1) - 2]


def _near(rgb, colour, tol=6) -> bool:
    return bool(np.abs(np.asarray(rgb, float) - np.asarray(colour, float)).max() <= tol)


def _cell_centre(k: int, n: int) -> float:
    return -1 + (k + 0.5) * 2 / n


def test_heatmap_panels_per_dominance_band_and_empty_cells(tmp_path):
    cells = (4, 3, 3)
    filled = [(0, 0, 0), (3, 2, 0), (1, 1, 1), (2, 0, 2)]
    run = make_run(tmp_path, cells=cells, filled=filled)
    fig = heatmap_figure(load_run(run))
    panels = _panels(fig)
    assert len(panels) == 3  # one per dominance band
    arrays = _mesh_arrays(fig)
    assert len(arrays) == 3
    for k, arr in enumerate(arrays):
        arr = np.ma.asarray(arr).reshape(cells[1], cells[0])  # rows = arousal, cols = valence
        expect = np.zeros((cells[1], cells[0]), bool)
        for v, a, d in filled:
            if d == k:
                expect[a, v] = True
        np.testing.assert_array_equal(~np.ma.getmaskarray(arr), expect)
    # rendered pixels: an empty cell is the blank face colour, a filled one is coloured
    ax0 = panels[0]
    empty_rgb = _pixel_at(fig, ax0, -1 + 1.5 * 0.5, -1 + 1.5 * 2 / 3)  # cell (1, 1) in band 0: empty
    full_rgb = _pixel_at(fig, ax0, -1 + 0.25, -1 + 1 / 3)  # cell (0, 0) in band 0: filled
    assert tuple(empty_rgb) == (255, 255, 255)
    assert tuple(full_rgb) != (255, 255, 255)
    import matplotlib.pyplot as plt
    plt.close(fig)


def test_plot_heatmap_slices_writes_one_png_per_band(tmp_path):
    import matplotlib.pyplot as plt
    from matplotlib import colormaps

    cells = (5, 5, 4)
    run = make_run(tmp_path, cells=cells)  # half of the 100 cells filled, at random
    paths = plot_heatmap_slices(run)
    names = sorted(p.name for p in paths)
    assert names == ["objective.png"] + [f"objective_d{k}.png" for k in range(4)]
    assert all(p.parent == run / "heatmaps" for p in paths)
    assert not list((run / "heatmaps").glob(".*.tmp"))  # atomic: no temp leftovers
    data = load_run(run)
    objective = {tuple(c): data.columns["objective"][i] for i, c in enumerate(data.cells.tolist())}
    viridis = colormaps["viridis"]
    for k in range(cells[2]):
        png = _png(run / "heatmaps" / f"objective_d{k}.png")
        fig = heatmap_figure(data, band=k)  # the figure that PNG was saved from
        (ax,) = _panels(fig)
        assert ax.get_xlabel().startswith("valence") and ax.get_ylabel().startswith("arousal")
        n_k = sum(1 for c in objective if c[2] == k)
        assert ax.get_title().startswith("dominance (proxy)") and f"{n_k}/25 cells filled" in ax.get_title()
        at = _png_lookup(png, fig, SAVE_DPI)
        for v in range(cells[0]):
            for a in range(cells[1]):
                rgb = at(ax, _cell_centre(v, cells[0]), _cell_centre(a, cells[1]))
                if (v, a, k) in objective:  # drawn in the objective's viridis colour (scale 0-100)
                    want = np.array(viridis(objective[(v, a, k)] / 100.0)[:3]) * 255
                    assert _near(rgb, want), (v, a, k, rgb, want)
                else:  # an empty cell stays blank
                    assert tuple(rgb) == WHITE, (v, a, k, rgb)
        plt.close(fig)


def test_critic_agreement_heatmap_values(tmp_path):
    run = make_run(tmp_path, cells=(4, 4, 2), filled=[(0, 0, 0), (1, 2, 1)])
    # overwrite the critic columns: elite 0 same cell, elite 1 two cells away
    rows = list(csv.DictReader(open(run / "archive.csv", newline="")))
    rows[0].update(critic_same_cell=1, critic_within_one=1)
    rows[1].update(critic_same_cell=0, critic_within_one=0)
    with open(run / "archive.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    fig = heatmap_figure(load_run(run), "critic_agreement")
    a0, a1 = (np.ma.asarray(a).reshape(4, 4) for a in _mesh_arrays(fig))
    assert a0[0, 0] == 2 and a1[2, 1] == 0
    assert np.ma.getmaskarray(a0).sum() == 15 and np.ma.getmaskarray(a1).sum() == 15
    paths = plot_heatmap_slices(run, value="critic_agreement", slices=False)
    assert [p.name for p in paths] == ["critic_agreement.png"]
    png = _png(paths[0])
    p0, p1 = _panels(fig)
    green = np.array(AGREEMENT_CMAP(2)[:3]) * 255  # same cell
    red = np.array(AGREEMENT_CMAP(0)[:3]) * 255  # elsewhere
    at = _png_lookup(png, fig, SAVE_DPI)
    assert _near(at(p0, _cell_centre(0, 4), _cell_centre(0, 4)), green)
    assert _near(at(p1, _cell_centre(1, 4), _cell_centre(2, 4)), red)
    assert tuple(at(p0, _cell_centre(1, 4), _cell_centre(2, 4))) == WHITE
    assert [t.get_text() for t in fig.axes[-1].get_yticklabels()] == ["elsewhere", "within one cell", "same cell"]


def test_critic_agreement_without_critic_is_clear_error(tmp_path):
    run = make_run(tmp_path, critic=False)
    with pytest.raises(DataError, match="critic"):
        plot_heatmap_slices(run, value="critic_agreement")
    with pytest.raises(DataError, match="critic"):
        plot_critic_agreement(run)
    out = plot_all(run)  # skips critic plots instead of failing
    assert "critic_agreement" not in out and out["heatmaps"] and out["montage"] and out["metrics"]


def test_two_d_grid_gives_one_panel(tmp_path):
    run = make_run(tmp_path, cells=(5, 4), filled=[(0, 0), (4, 3), (2, 1)])
    fig = heatmap_figure(load_run(run))
    arrays = _mesh_arrays(fig)
    assert len(arrays) == 1
    assert (~np.ma.getmaskarray(arrays[0])).sum() == 3
    paths = plot_heatmap_slices(run)
    assert [p.name for p in paths] == ["objective.png"]


def test_montage_one_per_va_cell_best_over_dominance(tmp_path):
    filled = [(0, 0, 0), (0, 0, 1), (2, 1, 2), (3, 3, 0)]
    run = make_run(tmp_path, cells=(4, 4, 3), filled=filled)
    data = load_run(run)
    pick = montage_selection(data)
    assert set(pick) == {(0, 0), (2, 1), (3, 3)}
    both = [i for i in range(data.n) if tuple(data.cells[i, :2]) == (0, 0)]
    assert pick[(0, 0)] == max(both, key=lambda i: data.columns["objective"][i])
    assert set(montage_selection(data, band=0)) == {(0, 0), (3, 3)}
    # grouping: 4x4 cells into at most 2 blocks per axis
    assert set(montage_selection(data, max_per_axis=2)) == {(0, 0), (1, 0), (1, 1)}
    path = plot_montage(run)
    assert path == run / "montage.png"
    png = _png(path)
    fig = montage_figure(data)  # the figure that PNG was saved from
    ax = fig.axes[0]
    assert len(ax.images) == 3 and "3 thumbnails" in fig._suptitle.get_text()
    assert ax.get_xlabel().startswith("valence") and ax.get_ylabel().startswith("arousal")
    at = _png_lookup(png, fig, MONTAGE_DPI)
    for bv in range(4):
        for ba in range(4):
            rgb = at(ax, _cell_centre(bv, 4), _cell_centre(ba, 4))
            if (bv, ba) in pick:  # the elite's thumbnail: red = its valence, blue = its arousal, no green
                cv, ca = _cell_centre(bv, 4), _cell_centre(ba, 4)
                assert _near(rgb, (int((cv + 1) * 127), 0, int((ca + 1) * 127)), tol=2), (bv, ba, rgb)
            else:  # no elite: the plane's background
                assert _near(rgb, (0xF4, 0xF4, 0xF4), tol=2), (bv, ba, rgb)


def test_montage_missing_image_is_marked_not_fatal(tmp_path):
    run = make_run(tmp_path, cells=(3, 3, 2), filled=[(0, 0, 0), (1, 1, 1)])
    (run / "elites" / "cell_0.png").unlink()  # the elite of cell (0, 0, 0)
    png = _png(plot_montage(run))
    fig = montage_figure(load_run(run))
    ax = fig.axes[0]
    assert len(ax.images) == 1 and "1 image(s) missing (hatched)" in fig._suptitle.get_text()
    (frame,) = [p for p in ax.patches if p.get_hatch() == "xx"]
    assert frame.get_x() < _cell_centre(0, 3) < frame.get_x() + frame.get_width()
    assert frame.get_y() < _cell_centre(0, 3) < frame.get_y() + frame.get_height()
    assert _near(_png_lookup(png, fig, MONTAGE_DPI)(ax, 0.1, 0.1), (127, 0, 127), tol=2)  # cell (1, 1) drawn
    with pytest.raises(DataError, match="band"):
        plot_montage(run, band=5)


def test_metrics_plot(tmp_path):
    run = make_run(tmp_path)
    path = plot_metrics(run)
    assert path == run / "metrics.png"
    fig = metrics_figure(run)  # the figure that PNG was saved from
    panels = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title() for ax in panels] == ["qd_score", "qd_score_normalised", "coverage (%)", "best"]
    i = np.arange(1, 11)
    want = {"qd_score": 10.0 * i, "qd_score_normalised": 0.1 * i, "coverage (%)": 2.0 * i, "best": 50.0 + i}
    png = _png(path)
    for ax in panels:
        (line,) = ax.get_lines()
        np.testing.assert_allclose(line.get_xdata(), 64 * i)  # against evaluations
        np.testing.assert_allclose(line.get_ydata(), want[ax.get_title()])
        assert ax.get_xlabel() == "evaluations"
        box = _png_box(png, fig, ax, SAVE_DPI)
        blue = (np.abs(box - (31, 119, 180)).sum(axis=2) < 40).sum()  # the curve, in matplotlib's first colour
        assert blue > 100, (ax.get_title(), blue)
    (run / "metrics.csv").write_text("iteration,qd_score\n", encoding="utf-8")
    with pytest.raises(DataError, match="no rows"):
        plot_metrics(run)


def test_critic_scatter(tmp_path):
    run = make_run(tmp_path)
    path = plot_critic_agreement(run)
    assert path == run / "critic_agreement.png"
    data = load_run(run)
    levels = critic_agreement_levels(data)
    fig = critic_agreement_figure(data)  # the figure that PNG was saved from
    png = _png(path)
    assert len(fig.axes) == 3
    for d, (ax, dim) in enumerate(zip(fig.axes, ("valence", "arousal", "dominance"))):
        assert ax.get_xlabel() == f"searcher {dim} [-1, 1]" and ax.get_ylabel() == f"critic {dim} [-1, 1]"
        assert ax.get_title().startswith(dim) and ax.get_title().endswith(f"n = {data.n}")
        drawn = 0
        for coll in ax.collections:  # one scatter per agreement level, in that level's colour
            lev = next(k for k in range(3) if np.allclose(coll.get_facecolor()[0][:3], AGREEMENT_CMAP(k)[:3]))
            sel = levels == lev
            np.testing.assert_allclose(coll.get_offsets(), np.c_[data.columns[dim][sel],
                                                                 data.columns[f"critic_{dim}"][sel]])
            drawn += len(coll.get_offsets())
        assert drawn == data.n  # every elite is a point
        box = _png_box(png, fig, ax, SAVE_DPI)
        assert (np.abs(box - 255).sum(axis=2) > 60).sum() > 5 * data.n  # the points show in the PNG
    assert "critic confirms" in fig._suptitle.get_text()


@pytest.mark.parametrize("content, match", [
    (None, "archive.csv: missing"),
    ("", "empty file"),
    ("index,cell_v,cell_a,cell_d,valence\n0,0,0,0,0.1\n", "missing column.*objective"),
    ("index,objective\n0,50\n", "missing column.*cell_v"),
    ("index,cell_v,cell_a,cell_d,objective\n0,0,0,0,abc\n", "not a number"),
    ("index,cell_v,cell_a,cell_d,objective\n0,0,0,0,\n", "objective is empty"),
    ("index,cell_v,cell_a,cell_d,objective\n0,9,0,0,50\n", "outside the grid"),
    ("index,cell_v,cell_a,cell_d,objective\n0,0,0\n", "fields"),
])
def test_bad_archive_csv_is_clear_data_error(tmp_path, content, match):
    run = make_run(tmp_path)
    before = sorted(p.name for p in run.iterdir())
    if content is None:
        (run / "archive.csv").unlink()
    else:
        (run / "archive.csv").write_text(content, encoding="utf-8")
    with pytest.raises(DataError, match=match):
        plot_heatmap_slices(run)
    with pytest.raises(DataError):
        plot_all(run)
    assert not (run / "heatmaps").exists()
    assert sorted(p.name for p in run.iterdir()) == sorted(set(before) - ({"archive.csv"} if content is None else set()))


def test_crlf_bom_archive_reads(tmp_path):
    run = make_run(tmp_path, cells=(3, 3, 2), filled=[(1, 2, 1)])
    text = (run / "archive.csv").read_text(encoding="utf-8")
    (run / "archive.csv").write_bytes(("\ufeff" + text.replace("\r\n", "\n").replace("\n", "\r\n")).encode())
    data = load_run(run)
    assert data.n == 1 and tuple(data.cells[0]) == (1, 2, 1)


def test_missing_or_bad_manifest(tmp_path):
    with pytest.raises(DataError, match="run folder not found"):
        load_run(tmp_path / "nope")
    run = make_run(tmp_path)
    (run / "manifest.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(DataError, match="manifest.json: not valid JSON"):
        load_run(run)
    (run / "manifest.json").unlink()
    with pytest.raises(DataError, match="manifest.json: missing"):
        load_run(run)


def test_cvt_run_is_binned_on_a_display_grid(tmp_path):
    run = make_run(tmp_path, cells=(10, 10, 5), filled=[(0, 0, 0), (9, 9, 4), (5, 2, 2)])
    man = json.loads((run / "manifest.json").read_text())
    man["grid"] = {"name": "cvt", "dims": ["valence", "arousal", "dominance"], "cells": [200],
                   "ranges": [[-1, 1]] * 3}
    (run / "manifest.json").write_text(json.dumps(man))
    rows = list(csv.DictReader(open(run / "archive.csv", newline="")))
    for r in rows:  # a CVT archive has no cell coordinates
        r["cell_v"] = r["cell_a"] = r["cell_d"] = ""
    with open(run / "archive.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    data = load_run(run)
    assert data.grid.cells == [10, 10, 5]
    assert sorted(map(tuple, data.cells.tolist())) == [(0, 0, 0), (5, 2, 2), (9, 9, 4)]
    fig = heatmap_figure(data)
    assert "display grid" in fig._suptitle.get_text()
    assert sum(int((~np.ma.getmaskarray(a)).sum()) for a in _mesh_arrays(fig)) == 3


def test_empty_archive_draws_empty_panels(tmp_path):
    run = make_run(tmp_path, cells=(3, 3, 2), filled=[])
    data = load_run(run)
    assert data.n == 0
    fig = heatmap_figure(data)
    arrays = _mesh_arrays(fig)
    assert len(arrays) == 2 and all(np.ma.getmaskarray(a).all() for a in arrays)
    out = plot_all(run)
    assert "montage" not in out and len(out["heatmaps"]) == 3
