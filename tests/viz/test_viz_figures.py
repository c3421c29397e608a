"""Figures drawn from plain data for the commands above the explorer (compare, generator sweep,
validate, explain): what the PNG shows, not only that it exists."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from qdemo.viz.compare_plots import plot_differences, plot_sheet
from qdemo.viz.generator import plot_va_sweep
from qdemo.viz.ratings import plot_validation
from qdemo.viz.saliency import plot_saliency

RED, GREEN, BLUE, YELLOW = (230, 20, 20), (20, 200, 20), (20, 20, 230), (230, 230, 20)


def _png(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB")).astype(int)  # (H, W, 3)


def _where(png: np.ndarray, colour, tol: int = 12) -> np.ndarray:
    """(n, 2) row, column of the pixels within ``tol`` of ``colour``."""
    return np.argwhere(np.abs(png - np.asarray(colour)).max(axis=2) <= tol)


def test_va_sweep_places_each_tile_by_valence_and_arousal(tmp_path):
    tiles = np.stack([np.full((8, 8, 3), c, np.uint8) for c in (RED, GREEN, BLUE, YELLOW)])  # (4, 8, 8, 3)
    points = np.array([[-0.9, 0.9, 0.5], [0.9, 0.9, 0.5], [-0.9, -0.9, 0.5], [0.9, -0.9, 0.5]])  # row 0: high arousal
    png = _png(plot_va_sweep(tiles, points, 2, tmp_path / "sweep.png", resolution=8))
    centres = {}
    for name, c in (("red", RED), ("green", GREEN), ("blue", BLUE), ("yellow", YELLOW)):
        px = _where(png, c)
        assert len(px) > 400, name  # every tile is drawn, large
        centres[name] = px.mean(axis=0)
    assert centres["red"][1] < centres["green"][1] and centres["blue"][1] < centres["yellow"][1]  # valence -> right
    assert centres["red"][0] < centres["blue"][0] and centres["green"][0] < centres["yellow"][0]  # arousal -> up


def test_sheet_rows_are_cells_and_columns_are_sources(tmp_path):
    paths = {}
    for name, c in (("r", RED), ("g", GREEN), ("b", BLUE), ("y", YELLOW)):
        paths[name] = tmp_path / f"{name}.png"
        Image.fromarray(np.full((12, 12, 3), c, np.uint8)).save(paths[name])
    rows = [("cell 1", [(paths["r"], "+0.10 +0.20"), (paths["g"], "+0.30 +0.40")]),
            ("cell 2", [(paths["b"], "+0.50 +0.60"), (paths["y"], "+0.70 +0.80")])]
    png = _png(plot_sheet(rows, ["elite", "G #1"], "sheet", tmp_path / "sheet.png"))
    c = {k: _where(png, col).mean(axis=0) for k, col in (("r", RED), ("g", GREEN), ("b", BLUE), ("y", YELLOW))}
    assert c["r"][1] < c["g"][1] and c["b"][1] < c["y"][1]  # elite left of the generator sample
    assert c["r"][0] < c["b"][0] and c["g"][0] < c["y"][0]  # cell 1 above cell 2


def test_difference_panels_centre_signed_values_on_zero(tmp_path):
    from matplotlib import colormaps

    grid = np.array([[-1.0, 1.0], [np.nan, 0.5]])  # (arousal, valence)
    errors = np.array([[0.2, 0.4], [np.nan, 0.6]])
    panels = [(errors, "explorer", "viridis", False), (grid, "generator - explorer", "RdBu_r", True)]
    png = _png(plot_differences(panels, (-1, 1, -1, 1), "run", tmp_path / "diff.png"))
    rdbu = colormaps["RdBu_r"]
    deep_blue, deep_red = (np.array(rdbu(x)[:3]) * 255 for x in (0.0, 1.0))  # -1 and +1 of a symmetric scale
    assert len(_where(png, deep_blue, 4)) > 500 and len(_where(png, deep_red, 4)) > 500
    viridis = colormaps["viridis"]
    assert len(_where(png, np.array(viridis(0.0)[:3]) * 255, 4)) > 500  # the lowest error (0.2) of the first panel


def test_validation_scatter_has_a_point_per_stimulus_and_target(tmp_path):
    dims = ("valence", "arousal", "dominance")
    stimuli = [{"stimulus_id": f"s{i}", "source": src, "human": [0.5 * i - 0.5] * 3,
                "intended": [0.5 * i - 0.4] * 3, "predicted": [0.1] * 3}
               for i, src in enumerate(["elite", "elite", "generator"])]
    agree = {"r": 0.9, "mae": 0.1, "mae_sam": 0.4, "n": 3}
    result = {"stimuli": stimuli, "n_ratings": 6, "n_participants": 2,
              "agreement": {"all": {t: {d: agree for d in dims} for t in ("intended", "predicted")}}}
    png = _png(plot_validation(result, tmp_path / "v.png", targets=("intended", "predicted"), dims=dims))
    elite = 0.8 * np.array((0x2F, 0x6F, 0xDE)) + 0.2 * 255  # alpha 0.8 on white
    gen = 0.8 * np.array((0xE0, 0x7A, 0x10)) + 0.2 * 255
    n_elite, n_gen = len(_where(png, elite, 8)), len(_where(png, gen, 8))
    assert n_elite > 6 * 2 * 10 and n_gen > 6 * 10  # 6 panels, 2 elite points and 1 generator point each
    assert n_elite > 1.5 * n_gen


def test_saliency_overlays_the_map_on_the_image(tmp_path):
    image = np.full((20, 20, 3), 0.5)
    maps = np.zeros((3, 20, 20))
    maps[:, :5, :5] = 1.0  # the top-left corner drives every dimension
    png = _png(plot_saliency(image, maps, np.array([0.1, -0.2, 0.3]), tmp_path / "s.png",
                             dims=("valence", "arousal", "dominance"), proxy={"dominance"}, method="gradcam"))
    grey = _where(png, (128, 128, 128), 2)
    hot = _where(png, 0.45 * np.array((128, 0, 0)) + 0.55 * 128, 12)  # jet's top (dark red) at 45 % over grey
    assert len(grey) > 1000  # the plain image panel
    assert len(hot) > 3 * 50  # a hot corner in each of the three overlays
    cols = np.sort(hot[:, 1])
    assert cols[-1] - cols[0] > png.shape[1] / 2  # spread over the panels, not one
