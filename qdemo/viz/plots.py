"""Plots of an archive run folder: heatmap slices, montage, metric curves, critic agreement.

Each function reads the run folder (``docs/formats.md``), writes PNGs into it atomically
and returns the paths it wrote. They run headless (matplotlib's Agg backend) and are
called by ``qdemo evolve`` at the end of a run, by comparisons and by the browser.

    from qdemo.viz import plot_all
    plot_all("archives/my-run")   # heatmaps/, montage.png, metrics.png, critic_agreement.png
"""

from __future__ import annotations

import logging
import math
import os
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # headless; must precede pyplot

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.colors import BoundaryNorm, ListedColormap  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from qdemo.errors import DataError  # noqa: E402
from qdemo.io import atomic_path  # noqa: E402
from qdemo.viz.rundata import (  # noqa: E402
    CRITIC_COLUMNS, RunData, dense_grid, from_sam9, load_metrics, load_run, to_sam9,
)

log = logging.getLogger(__name__)

HEATMAP_VALUES = ("objective", "critic_agreement")
"""Named heatmap values; any other numeric archive.csv column (e.g. ``valence_sd``) works too."""

EMPTY_COLOR = "#ffffff"
"""Face colour of panels: cells without an elite are left this colour (drawn as empty)."""

AGREEMENT_LABELS = ("elsewhere", "within one cell", "same cell")
AGREEMENT_CMAP = ListedColormap(["#d7301f", "#fdae61", "#1a9850"])


# --------------------------------------------------------------------------- helpers

def save_figure(fig: Figure, path: str | os.PathLike, *, dpi: int = 110) -> Path:
    """Write ``fig`` as PNG atomically and close it."""
    path = Path(path)
    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format="png", dpi=dpi)
    finally:
        plt.close(fig)
    return path


def _axis_label(dim: str, run: RunData | None = None) -> str:
    proxy = run is not None and dim in run.proxy_dims()
    return f"{dim}{' (proxy)' if proxy else ''}  [-1, 1]"


def _add_sam_axes(ax: Any, *, x: bool = True, y: bool = True) -> None:
    """Secondary axes with the SAM 1–9 equivalent of the canonical [-1, 1] scale."""
    if x:
        sx = ax.secondary_xaxis("top", functions=(to_sam9, from_sam9))
        sx.set_xlabel("SAM 1–9", fontsize=7, labelpad=2)
        sx.tick_params(labelsize=7)
    if y:
        sy = ax.secondary_yaxis("right", functions=(to_sam9, from_sam9))
        sy.set_ylabel("SAM 1–9", fontsize=7, labelpad=2)
        sy.tick_params(labelsize=7)


def _band_label(run: RunData, d: int, k: int) -> str:
    lo, hi = run.grid.edges(d)[k], run.grid.edges(d)[k + 1]
    name = run.grid.dims[d] + (" (proxy)" if run.grid.dims[d] in run.proxy_dims() else "")
    return (f"{name} {lo:+.2f}…{hi:+.2f}\n(SAM {float(to_sam9(lo)):.1f}–{float(to_sam9(hi)):.1f})")


def _run_title(run: RunData) -> str:
    m = run.manifest
    bits = [run.name]
    emitter = m.get("emitter")
    if isinstance(emitter, dict):
        emitter = emitter.get("name")
    if emitter:
        bits.append(f"emitter {emitter}")
    renderer = m.get("renderer")
    if isinstance(renderer, dict) and renderer.get("name"):
        bits.append(f"renderer {renderer['name']}")
    searcher = ((m.get("models") or {}).get("searcher") or {}).get("name")
    if searcher:
        bits.append(f"searcher {searcher}")
    return " · ".join(bits)


def critic_agreement_levels(run: RunData) -> np.ndarray:
    """(n,) per elite: 2 = critic in the same cell, 1 = within one cell, 0 = elsewhere, NaN = not scored.

    Uses the ``critic_same_cell`` / ``critic_within_one`` columns when filled, otherwise
    recomputes them from the critic's VAD and the grid (Chebyshev distance in cells).
    """
    cols = run.columns
    n = run.n
    same = cols.get("critic_same_cell")
    within = cols.get("critic_within_one")
    if same is not None and within is not None and np.isfinite(same).any():
        out = np.where(np.isfinite(same), np.where(same > 0.5, 2.0, np.where(within > 0.5, 1.0, 0.0)), np.nan)
        return out
    dims = run.grid.ndim
    crit_cols = [CRITIC_COLUMNS[d] for d in range(dims)]
    if not all(c in cols for c in crit_cols):
        return np.full(n, np.nan)
    crit = np.stack([cols[c] for c in crit_cols], axis=1)  # (n, dims)
    scored = np.isfinite(crit).all(axis=1)
    ccell = np.stack([run.grid.cell_of(np.nan_to_num(crit[:, d]), d) for d in range(dims)], axis=1)
    dist = np.abs(ccell - run.cells).max(axis=1)
    return np.where(scored, np.where(dist == 0, 2.0, np.where(dist <= 1, 1.0, 0.0)), np.nan)


def heatmap_values(run: RunData, value: str = "objective") -> np.ndarray:
    """Dense array of shape ``grid.cells`` of the chosen value (NaN = empty cell)."""
    if value == "critic_agreement":
        if not run.has_critic():
            raise DataError(
                f"{run.run_dir / 'archive.csv'}: critic columns are empty; run the critic confirmation "
                f"first (value='critic_agreement' needs critic_valence, critic_arousal, ...)"
            )
        return dense_grid(run, critic_agreement_levels(run), reduce="mean")
    if value not in run.columns or run.columns[value].dtype == object:
        numeric = [c for c, v in run.columns.items() if v.dtype != object]
        raise DataError(
            f"{run.run_dir / 'archive.csv'}: no numeric column {value!r} to draw "
            f"(use one of: {', '.join(HEATMAP_VALUES + tuple(c for c in numeric if c != 'objective'))})"
        )
    reduce = "max" if value == "objective" else "mean"
    return dense_grid(run, run.columns[value], reduce=reduce)


# --------------------------------------------------------------------------- heatmaps

def _heatmap_style(run: RunData, value: str, data: np.ndarray) -> dict[str, Any]:
    if value == "critic_agreement":
        return dict(cmap=AGREEMENT_CMAP, norm=BoundaryNorm([-0.5, 0.5, 1.5, 2.5], 3),
                    label="critic agreement (per elite)")
    if value == "objective":
        return dict(cmap="viridis", vmin=0.0, vmax=100.0, label="objective (0–100)")
    finite = data[np.isfinite(data)]
    lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    if hi <= lo:
        hi = lo + 1e-9
    return dict(cmap="magma", vmin=lo, vmax=hi, label=value)


def _draw_slice(ax: Any, run: RunData, plane: np.ndarray, style: dict[str, Any]) -> Any:
    """Draw one (n_valence, n_arousal) slice; empty (NaN) cells are not drawn."""
    xe, ye = run.grid.edges(0), run.grid.edges(1)
    masked = np.ma.masked_invalid(plane.T)  # (n_arousal, n_valence): rows = y
    ax.set_facecolor(EMPTY_COLOR)
    kw = {k: style[k] for k in ("cmap", "norm", "vmin", "vmax") if k in style}
    mesh = ax.pcolormesh(xe, ye, masked, shading="flat", **kw)
    ax.set_xlim(xe[0], xe[-1])
    ax.set_ylim(ye[0], ye[-1])
    ax.set_aspect("auto")
    # faint cell grid so empty cells read as cells, not as missing plot
    for e in xe[1:-1]:
        ax.axvline(e, color="#e3e3e3", lw=0.4, zorder=0)
    for e in ye[1:-1]:
        ax.axhline(e, color="#e3e3e3", lw=0.4, zorder=0)
    ax.xaxis.set_major_locator(MaxNLocator(5))
    ax.yaxis.set_major_locator(MaxNLocator(5))
    ax.tick_params(labelsize=7)
    return mesh


def _fit_suptitle(fig: Figure, text: str, *, fontsize: float) -> Any:
    """``fig.suptitle(text)``, its lines wrapped until it fits the figure's width.

    A long run title in a one-band figure was clipped at both edges. Lines break between the
    `` · `` parts of the run title first, inside them only if one part alone is too wide; the
    width is measured (not guessed from character counts), so any font works.
    """
    import textwrap

    renderer = fig.canvas.get_renderer()
    title = None
    for keep_parts in (True, False):
        # a no-break space (which textwrap never splits at) holds a part together
        lines = [ln.replace(" · ", "\0").replace(" ", "\u00a0").replace("\0", " · ") if keep_parts else ln
                 for ln in text.split("\n")]
        width = max(len(line) for line in lines)
        while width >= 12:
            wrapped = "\n".join(textwrap.fill(line, width, break_long_words=False, break_on_hyphens=False)
                                for line in lines)
            title = fig.suptitle(wrapped.replace("\u00a0", " "), fontsize=fontsize)
            box = title.get_window_extent(renderer)
            if box.x0 >= 0 and box.x1 <= fig.bbox.width:
                return title
            width = int(width * 0.85)
    return title


def heatmap_figure(run: RunData, value: str = "objective", *, band: int | None = None) -> Figure:
    """Figure of valence×arousal heatmaps, one panel per dominance band (or only ``band``).

    A 2-D grid gives one panel. Empty cells are left blank (white); a shared colour bar
    gives the scale. Axes show the canonical [-1, 1] scale with SAM 1–9 on the secondary axes.
    """
    if run.grid.ndim < 2:
        raise DataError(f"{run.run_dir / 'manifest.json'}: heatmaps need a 2-D or 3-D grid, got {run.grid.dims}")
    data = heatmap_values(run, value)  # shape grid.cells
    style = _heatmap_style(run, value, data)
    if run.grid.ndim == 3:
        n_bands = run.grid.cells[2]
        bands = list(range(n_bands)) if band is None else [band]
        planes = [data[:, :, k] for k in bands]
        titles = [_band_label(run, 2, k) for k in bands]
    else:
        bands, planes, titles = [0], [data], [""]
    n = len(planes)
    ncols = min(n, 5)
    nrows = math.ceil(n / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(max(5.5, 2.9 * ncols + 1.3), 3.0 * nrows + 1.2),
                             squeeze=False, sharex=True, sharey=True)
    mesh = None
    for i, ax in enumerate(axes.flat):
        if i >= n:
            ax.set_visible(False)
            continue
        mesh = _draw_slice(ax, run, planes[i], style)
        ax.set_gid(f"heatmap-panel-{bands[i]}")
        filled = int(np.isfinite(planes[i]).sum())
        total = planes[i].size
        ax.set_title(f"{titles[i]}\n{filled}/{total} cells filled" if titles[i] else
                     f"{filled}/{total} cells filled", fontsize=8)
        r, c = divmod(i, ncols)
        if r == nrows - 1 or i + ncols >= n:
            ax.set_xlabel(_axis_label(run.grid.dims[0], run), fontsize=8)
        if c == 0:
            ax.set_ylabel(_axis_label(run.grid.dims[1], run), fontsize=8)
        _add_sam_axes(ax, x=(r == 0), y=(c == ncols - 1 or i == n - 1))
    what = "critic agreement" if value == "critic_agreement" else value
    note = "white = empty cell" + ("; one panel per dominance band" if run.grid.ndim == 3 and n > 1 else "")
    if run.grid.name == "cvt":
        note += f"; CVT elites binned on a {'×'.join(map(str, run.grid.cells))} display grid"
    sep = "\n" if n <= 2 else " — "
    _fit_suptitle(fig, f"{what} per cell{sep}{_run_title(run)}\n({note})", fontsize=9)
    width = fig.get_figwidth()
    right = 1.0 - (1.9 if value == "critic_agreement" else 1.3) / width  # room for the colour bar
    fig.tight_layout(rect=(0, 0, right, 1))
    cax = fig.add_axes((right + 0.12 / width, 0.12, 0.16 / width, 0.68))
    cb = fig.colorbar(mesh, cax=cax)
    cb.set_label(style["label"], fontsize=8)
    cb.ax.tick_params(labelsize=7)
    if value == "critic_agreement":
        cb.set_ticks([0, 1, 2])
        cb.set_ticklabels(list(AGREEMENT_LABELS))
    return fig


def plot_heatmap_slices(run_dir: str | os.PathLike, *, value: str = "objective",
                        out: str | os.PathLike | None = None, slices: bool = True) -> list[Path]:
    """Write the dominance-band heatmaps of a run's archive; return the PNG paths.

    ``out`` (default ``run_dir/heatmaps``) receives ``<value>.png`` with all bands in one
    figure and, with ``slices``, one ``<value>_d<k>.png`` per dominance band.
    """
    run = load_run(run_dir)
    out_dir = Path(out) if out is not None else run.run_dir / "heatmaps"
    paths = [save_figure(heatmap_figure(run, value), out_dir / f"{value}.png")]
    if slices and run.grid.ndim == 3:
        for k in range(run.grid.cells[2]):
            paths.append(save_figure(heatmap_figure(run, value, band=k), out_dir / f"{value}_d{k}.png"))
    return paths


# --------------------------------------------------------------------------- montage

def _load_thumb(run: RunData, rel: str, size: int) -> np.ndarray | None:
    from PIL import Image

    from qdemo.io import open_rgb

    path = run.run_dir / rel
    try:
        im = open_rgb(path)
    except DataError as exc:
        log.warning("montage: %s", exc)
        return None
    im = im.resize((size, size), Image.BILINEAR)
    return np.asarray(im)


def montage_selection(run: RunData, *, max_per_axis: int = 12, band: int | None = None) -> dict[tuple[int, int], int]:
    """Which elite to show where: ``(block_v, block_a) -> row`` of archive.csv.

    The V-A cells are grouped into at most ``max_per_axis`` blocks per axis; each block
    shows its best-objective elite over all dominance bands (or within ``band``).
    """
    if run.grid.ndim < 2:
        raise DataError(f"{run.run_dir / 'manifest.json'}: a montage needs valence and arousal")
    nv, na = run.grid.cells[0], run.grid.cells[1]
    gv, ga = min(nv, max_per_axis), min(na, max_per_axis)
    obj = run.columns["objective"]
    pick: dict[tuple[int, int], int] = {}
    for i in range(run.n):
        if band is not None and run.grid.ndim == 3 and run.cells[i, 2] != band:
            continue
        key = (int(run.cells[i, 0]) * gv // nv, int(run.cells[i, 1]) * ga // na)
        if key not in pick or obj[i] > obj[pick[key]]:
            pick[key] = i
    return pick


def plot_montage(run_dir: str | os.PathLike, *, out: str | os.PathLike | None = None,
                 max_per_axis: int = 12, band: int | None = None, thumb_px: int = 64) -> Path:
    """Elite thumbnails placed on the valence–arousal plane; returns the PNG path.

    One thumbnail per V-A block (the grid's V-A cells, grouped to at most ``max_per_axis``
    per axis): the best objective over dominance, or within dominance ``band``.
    """
    run = load_run(run_dir)
    if band is not None and (run.grid.ndim < 3 or not 0 <= band < run.grid.cells[2]):
        raise DataError(f"band={band}: the grid of {run.run_dir} has "
                        f"{run.grid.cells[2] if run.grid.ndim == 3 else 0} dominance bands")
    if "image" not in run.columns:
        raise DataError(f"{run.run_dir / 'archive.csv'}: missing column 'image' (elite PNG paths)")
    pick = montage_selection(run, max_per_axis=max_per_axis, band=band)
    nv, na = run.grid.cells[0], run.grid.cells[1]
    gv, ga = min(nv, max_per_axis), min(na, max_per_axis)
    (v0, v1), (a0, a1) = run.grid.ranges[0], run.grid.ranges[1]
    bw, bh = (v1 - v0) / gv, (a1 - a0) / ga
    fig, ax = plt.subplots(figsize=(max(6.0, 0.62 * gv + 2.2), max(6.0, 0.62 * ga + 1.8)))
    ax.set_facecolor("#f4f4f4")
    missing = 0
    for (bv, ba), i in sorted(pick.items()):
        thumb = _load_thumb(run, str(run.columns["image"][i]), thumb_px)
        x0, y0 = v0 + bv * bw, a0 + ba * bh
        pad = 0.04 * min(bw, bh)
        if thumb is None:
            missing += 1
            ax.add_patch(plt.Rectangle((x0 + pad, y0 + pad), bw - 2 * pad, bh - 2 * pad,
                                       fill=False, ec="#d7301f", lw=1, hatch="xx"))
            continue
        ax.imshow(thumb, extent=(x0 + pad, x0 + bw - pad, y0 + pad, y0 + bh - pad),
                  origin="upper", interpolation="nearest", zorder=2)
        ax.text(x0 + bw - pad, y0 + pad, f"{run.columns['objective'][i]:.0f}", fontsize=5.5,
                ha="right", va="bottom", color="white", zorder=3,
                bbox=dict(boxstyle="square,pad=0.1", fc="black", ec="none", alpha=0.55))
    ax.set_xlim(v0, v1)
    ax.set_ylim(a0, a1)
    ax.set_xlabel(_axis_label(run.grid.dims[0], run), fontsize=9)
    ax.set_ylabel(_axis_label(run.grid.dims[1], run), fontsize=9)
    ax.axhline(0.0, color="#bbbbbb", lw=0.6, zorder=1)
    ax.axvline(0.0, color="#bbbbbb", lw=0.6, zorder=1)
    _add_sam_axes(ax)
    which = ("best over all dominance bands" if band is None or run.grid.ndim < 3
             else _band_label(run, 2, band).replace("\n", " "))
    grouping = "" if (gv, ga) == (nv, na) else f"; {nv}×{na} cells grouped into {gv}×{ga} blocks"
    extra = f"; {missing} image(s) missing (hatched)" if missing else ""
    fig.suptitle(f"Elites on the valence–arousal plane — {_run_title(run)}\n"
                 f"{len(pick)} thumbnails, {which}{grouping}; number = objective{extra}", fontsize=9)
    fig.tight_layout()
    return save_figure(fig, Path(out) if out is not None else run.run_dir / "montage.png", dpi=120)


# --------------------------------------------------------------------------- metrics

_METRIC_ORDER = ("qd_score", "qd_score_normalised", "coverage", "best", "mean_objective",
                 "num_elites", "critic_confirmed", "critic_within_one_cell")
_X_COLUMNS = ("evaluations", "iteration", "itr")


def plot_metrics(run_dir: str | os.PathLike, *, out: str | os.PathLike | None = None) -> Path:
    """Per-iteration curves from ``metrics.csv`` (every numeric column, known ones first)."""
    run_dir = Path(run_dir)
    cols = load_metrics(run_dir)
    numeric = {k: v for k, v in cols.items() if v.dtype != object and np.isfinite(v).any()}
    x_name = next((c for c in _X_COLUMNS if c in numeric), None)
    n_rows = len(next(iter(cols.values())))
    x = numeric[x_name] if x_name else np.arange(1, n_rows + 1, dtype=float)
    skip = set(_X_COLUMNS) | {"time", "seconds", "wall_s", "timestamp", "seed"}
    names = [c for c in _METRIC_ORDER if c in numeric] + sorted(
        c for c in numeric if c not in _METRIC_ORDER and c not in skip)
    if not names:
        raise DataError(f"{run_dir / 'metrics.csv'}: no numeric metric columns to plot (found: {', '.join(cols)})")
    ncols = min(3, len(names))
    nrows = math.ceil(len(names) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.2 * ncols, 2.9 * nrows + 0.6), squeeze=False)
    for ax, name in zip(axes.flat, names):
        y = numeric[name]
        pct = name == "coverage" and np.nanmax(y) <= 1.0
        ax.plot(x, y * 100 if pct else y, lw=1.4, marker="." if n_rows <= 40 else None)
        ax.set_title(name + (" (%)" if pct else ""), fontsize=9)
        ax.set_xlabel(x_name or "iteration", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(names):]:
        ax.set_visible(False)
    title = run_dir.name
    try:
        title = _run_title(load_run(run_dir))
    except DataError:
        pass
    fig.suptitle(f"Metrics per iteration — {title}", fontsize=10)
    fig.tight_layout()
    return save_figure(fig, Path(out) if out is not None else run_dir / "metrics.png")


# --------------------------------------------------------------------------- critic agreement

def plot_critic_agreement(run_dir: str | os.PathLike, *, out: str | os.PathLike | None = None) -> Path:
    """Searcher vs critic per dimension, one scatter per dimension, coloured by agreement.

    Points far from the diagonal are elites the critic disagrees with: images that
    fool only the searcher. Dotted lines mark the cell edges.
    """
    run = load_run(run_dir)
    if not run.has_critic():
        raise DataError(f"{run.run_dir / 'archive.csv'}: critic columns are empty; run the critic "
                        f"confirmation first")
    levels = critic_agreement_levels(run)
    dims = run.grid.dims
    fig, axes = plt.subplots(1, len(dims), figsize=(4.0 * len(dims), 4.6), squeeze=False)
    for d, (ax, dim) in enumerate(zip(axes.flat, dims)):
        s = run.columns.get(dim)
        c = run.columns.get(CRITIC_COLUMNS[d])
        if s is None or c is None:
            ax.set_visible(False)
            continue
        ok = np.isfinite(s) & np.isfinite(c)
        lo, hi = run.grid.ranges[d]
        for e in run.grid.edges(d)[1:-1]:
            ax.axvline(e, color="#e0e0e0", lw=0.5, ls=":", zorder=0)
            ax.axhline(e, color="#e0e0e0", lw=0.5, ls=":", zorder=0)
        ax.plot([lo, hi], [lo, hi], color="#777777", lw=0.8, zorder=1)
        for lev, label in enumerate(AGREEMENT_LABELS):
            sel = ok & (levels == lev)
            if sel.any():
                ax.scatter(s[sel], c[sel], s=10, color=AGREEMENT_CMAP(lev), alpha=0.75, lw=0,
                           label=f"{label} ({int(sel.sum())})", zorder=2)
        r = np.corrcoef(s[ok], c[ok])[0, 1] if ok.sum() > 2 and np.std(s[ok]) > 0 and np.std(c[ok]) > 0 else np.nan
        proxy = " (proxy)" if dim in run.proxy_dims() else ""
        ax.set_title(f"{dim}{proxy}: r = {r:.2f}, n = {int(ok.sum())}", fontsize=9)
        ax.set_xlabel(f"searcher {dim} [-1, 1]", fontsize=8)
        ax.set_ylabel(f"critic {dim} [-1, 1]", fontsize=8)
        ax.set_xlim(lo, hi)
        ax.set_ylim(-1, 1)
        ax.set_aspect("equal", adjustable="box")
        ax.tick_params(labelsize=7)
        if d == 0:
            ax.legend(fontsize=7, loc="upper left", title="critic places the elite\n(cell over all dims)", title_fontsize=7)
    scored = np.isfinite(levels)
    same = float((levels[scored] == 2).mean()) if scored.any() else float("nan")
    within = float((levels[scored] >= 1).mean()) if scored.any() else float("nan")
    fig.suptitle(f"Searcher vs critic — {_run_title(run)}\n"
                 f"critic confirms {same:.0%} in the same cell, {within:.0%} within one cell "
                 f"(off-diagonal points fool only the searcher)", fontsize=9)
    fig.tight_layout()
    return save_figure(fig, Path(out) if out is not None else run.run_dir / "critic_agreement.png")


# --------------------------------------------------------------------------- all

def plot_all(run_dir: str | os.PathLike) -> dict[str, list[Path]]:
    """Every plot that the run's files allow; returns ``name -> paths``.

    Plots needing files a run does not have yet (metrics, critic scores, elite images)
    are skipped with a log message instead of failing the run.
    """
    run = load_run(run_dir)  # raises for a broken archive: nothing else can be drawn
    out: dict[str, list[Path]] = {}
    if run.grid.ndim >= 2:
        out["heatmaps"] = plot_heatmap_slices(run.run_dir, value="objective")
        if run.has_critic():
            out["heatmaps"] += plot_heatmap_slices(run.run_dir, value="critic_agreement", slices=False)
        if run.n and "image" in run.columns:
            out["montage"] = [plot_montage(run.run_dir)]
    if (run.run_dir / "metrics.csv").exists():
        try:
            out["metrics"] = [plot_metrics(run.run_dir)]
        except DataError as exc:
            log.warning("metrics plot skipped: %s", exc)
    if run.has_critic():
        out["critic_agreement"] = [plot_critic_agreement(run.run_dir)]
    return out
