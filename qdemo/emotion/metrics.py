"""Metrics for VAD regression and Emotion6-style emotion distributions, and their tables.

Regression (per dimension, masked, NaN-safe): Pearson ``r``, Lin's concordance ``ccc``,
mean absolute error ``mae`` (canonical units; x4 for SAM 1–9 points) and ``n``.

Distributions (Emotion6 measures used by Peng et al. 2015 and by Lai, Lam & Ling):
KL divergence KL(target || pred), Chebyshev distance, Bhattacharyya coefficient and
max-emotion accuracy (the most probable emotion agrees).
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

import numpy as np

from qdemo import DIMS

REGRESSION_KEYS = ("r", "ccc", "mae", "n")
DISTRIBUTION_KEYS = ("kl", "chebyshev", "bhattacharyya", "max_emotion_accuracy")


def pearson_r(x: np.ndarray, y: np.ndarray) -> float:
    """Pearson correlation of two 1-D arrays; NaN with fewer than 3 pairs or no variance."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    if x.size < 3:
        return math.nan
    dx, dy = x - x.mean(), y - y.mean()
    sxx, syy = float(dx @ dx), float(dy @ dy)
    if x.std() <= 1e-12 * (1.0 + abs(x.mean())) or y.std() <= 1e-12 * (1.0 + abs(y.mean())):
        return math.nan  # constant predictions or targets
    return float(np.clip((dx @ dy) / math.sqrt(sxx * syy), -1.0, 1.0))


def concordance(x: np.ndarray, y: np.ndarray) -> float:
    """Lin's concordance correlation coefficient (population moments); NaN if undefined."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    if x.size < 2:
        return math.nan
    mx, my = x.mean(), y.mean()
    vx, vy = x.var(), y.var()
    cov = float(((x - mx) * (y - my)).mean())
    den = vx + vy + (mx - my) ** 2
    if den <= 0:
        return math.nan
    return float(2.0 * cov / den)


def _paired(pred, target) -> tuple[np.ndarray, np.ndarray]:
    """``pred`` and ``target`` as float64 (N, D) arrays of one shape (a 1-D pair becomes (N, 1))."""
    pred = np.asarray(_to_numpy(pred), dtype=np.float64)
    target = np.asarray(_to_numpy(target), dtype=np.float64)
    if pred.ndim == 1:
        pred, target = pred[:, None], target.reshape(-1, 1)
    if pred.shape != target.shape:
        raise ValueError(f"pred {pred.shape} and target {target.shape} differ in shape")
    return pred, target


def regression_metrics(pred: np.ndarray, target: np.ndarray, mask: np.ndarray | None = None,
                       dims: Sequence[str] = DIMS) -> dict[str, dict[str, float]]:
    """Per-dimension ``{"r", "ccc", "mae", "sd_ratio", "n"}`` of ``pred`` vs ``target``, both ``(N, D)``
    (``sd_ratio`` = sd(pred) / sd(target): below 1 the predictions are compressed towards the mean).

    Only pairs where ``mask`` (N, D) is True and both values are finite count; ``r`` is
    NaN with n < 3 or zero variance, ``ccc`` with n < 2, ``mae`` with n = 0.
    """
    pred, target = _paired(pred, target)
    if pred.shape[1] != len(dims):
        raise ValueError(f"{pred.shape[1]} columns but {len(dims)} dims ({', '.join(dims)})")
    ok = np.isfinite(pred) & np.isfinite(target)
    if mask is not None:
        mask = np.asarray(_to_numpy(mask), dtype=bool)
        if mask.shape != pred.shape:
            raise ValueError(f"mask {mask.shape} does not match pred {pred.shape}")
        ok &= mask
    out: dict[str, dict[str, float]] = {}
    for j, d in enumerate(dims):
        m = ok[:, j]
        p, t = pred[m, j], target[m, j]
        out[d] = {
            "r": pearson_r(p, t),
            "ccc": concordance(p, t),
            "mae": float(np.abs(p - t).mean()) if m.any() else math.nan,
            "sd_ratio": float(p.std() / t.std()) if m.sum() > 1 and t.std() > 0 else math.nan,
            "n": int(m.sum()),
        }
    return out


def _normalise(p: np.ndarray, eps: float) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=np.float64), 0.0, None) + eps
    return p / p.sum(axis=1, keepdims=True)


def distribution_metrics(p: np.ndarray, q: np.ndarray, eps: float = 1e-8) -> dict[str, float]:
    """Emotion-distribution measures of predicted ``p`` (N, K) against target ``q`` (N, K).

    Rows are clipped at 0, smoothed by ``eps`` and renormalised (so KL stays finite).
    Returns means over images of: ``kl`` = KL(q || p) (lower better), ``chebyshev`` =
    max_k |p_k - q_k| (lower better), ``bhattacharyya`` = the coefficient sum_k sqrt(p_k q_k)
    (higher better, 1 = identical), and ``max_emotion_accuracy`` = share of images whose most
    probable emotion is the same (higher better). Rows with a NaN are left out; ``n`` counts
    the rows used.
    """
    p = np.asarray(_to_numpy(p), dtype=np.float64)
    q = np.asarray(_to_numpy(q), dtype=np.float64)
    if p.shape != q.shape or p.ndim != 2:
        raise ValueError(f"p {p.shape} and q {q.shape} must be the same (N, K) shape")
    ok = np.isfinite(p).all(axis=1) & np.isfinite(q).all(axis=1)
    p, q = p[ok], q[ok]
    if not len(p):
        return {"kl": math.nan, "chebyshev": math.nan, "bhattacharyya": math.nan,
                "max_emotion_accuracy": math.nan, "n": 0}
    ps, qs = _normalise(p, eps), _normalise(q, eps)
    kl = (qs * (np.log(qs) - np.log(ps))).sum(axis=1)
    pn, qn = _normalise(p, 0.0 if (p.sum(1) > 0).all() else eps), _normalise(q, 0.0 if (q.sum(1) > 0).all() else eps)
    cheb = np.abs(pn - qn).max(axis=1)
    bc = np.sqrt(pn * qn).sum(axis=1)
    acc = (pn.argmax(axis=1) == qn.argmax(axis=1)).astype(np.float64)
    return {"kl": float(kl.mean()), "chebyshev": float(cheb.mean()), "bhattacharyya": float(bc.mean()),
            "max_emotion_accuracy": float(acc.mean()), "n": int(len(p))}


def bootstrap_ci(pred: np.ndarray, target: np.ndarray, mask: np.ndarray | None = None, *,
                 groups: Sequence | np.ndarray | None = None, n_boot: int = 1000, level: float = 0.95,
                 seed: int = 0, dims: Sequence[str] = DIMS) -> dict[str, dict[str, tuple[float, float]]]:
    """Percentile bootstrap intervals of ``r``, ``ccc`` and ``mae`` per dimension.

    Resamples whole groups when ``groups`` is given (OASIS themes: images of one theme are
    not independent), else single items. Returns ``{dim: {"r": (lo, hi), "ccc": ..., "mae": ...}}``.
    """
    pred, target = _paired(pred, target)
    ok = np.isfinite(pred) & np.isfinite(target)
    if mask is not None:
        ok &= np.asarray(_to_numpy(mask), dtype=bool)
    n = len(pred)
    if groups is None:
        members = [np.array([i]) for i in range(n)]
    else:
        g = np.asarray(groups).astype(str)
        _, inv = np.unique(g, return_inverse=True)
        members = [np.flatnonzero(inv == k) for k in range(inv.max() + 1)] if n else []
    rng = np.random.default_rng(seed)
    stats = {d: {"r": [], "ccc": [], "mae": []} for d in dims}
    for _ in range(n_boot):
        pick = rng.integers(0, len(members), size=len(members)) if members else np.array([], int)
        idx = np.concatenate([members[k] for k in pick]) if len(pick) else np.array([], int)
        for j, d in enumerate(dims):
            m = idx[ok[idx, j]]
            p, t = pred[m, j], target[m, j]
            stats[d]["r"].append(pearson_r(p, t))
            stats[d]["ccc"].append(concordance(p, t))
            stats[d]["mae"].append(float(np.abs(p - t).mean()) if m.size else math.nan)
    lo_q, hi_q = 100 * (1 - level) / 2, 100 * (1 + level) / 2
    out: dict[str, dict[str, tuple[float, float]]] = {}
    for d in dims:
        out[d] = {}
        for k, vals in stats[d].items():
            v = np.asarray(vals, dtype=np.float64)
            v = v[np.isfinite(v)]
            out[d][k] = (float(np.percentile(v, lo_q)), float(np.percentile(v, hi_q))) if v.size else (math.nan, math.nan)
    return out


def describe_sources(sources: Mapping[str, str]) -> str:
    """One line for reports: 'human-rated: valence, arousal; proxy: dominance (warriner-theme-words)'."""
    human = [d for d in DIMS if sources.get(d) == "human"]
    proxy = [f"{d} ({sources[d].split(':', 1)[1]})" for d in DIMS if str(sources.get(d, "")).startswith("proxy:")]
    other = [f"{d} ({sources[d]})" for d in DIMS
             if sources.get(d) not in (None, "human", "missing") and not str(sources.get(d)).startswith("proxy:")]
    missing = [d for d in DIMS if sources.get(d, "missing") == "missing"]
    parts = []
    if human:
        parts.append("human-rated: " + ", ".join(human))
    if proxy:
        parts.append("proxy: " + ", ".join(proxy))
    if other:
        parts.append("other: " + ", ".join(other))
    if missing:
        parts.append("not rated: " + ", ".join(missing))
    return "; ".join(parts)


def _to_numpy(x: Any) -> Any:
    if hasattr(x, "detach"):
        return x.detach().cpu().numpy()
    return x


def _fmt(v: Any, width: int = 7) -> str:
    if isinstance(v, (int, np.integer)) and not isinstance(v, bool):
        return f"{int(v):>{width}d}"
    try:
        f = float(v)
    except (TypeError, ValueError):
        return f"{str(v):>{width}}"
    return f"{'nan':>{width}}" if math.isnan(f) else f"{f:>{width}.3f}"


def format_metrics_table(results: Mapping[str, Any], *, sources: Mapping[str, str] | None = None,
                         split: str | None = None, title: str | None = None) -> str:
    """A plain-text table of metrics for printing.

    ``results`` is either one :func:`regression_metrics` result (``{dim: {...}}``), one
    :func:`distribution_metrics` result, or a mapping ``{row label: either of those}``
    (e.g. ``{"model": ..., "lowlevel+ridge": ..., "lite0+ridge": ...}``). ``sources`` (a
    RatedSet's ``sources``) labels each dimension human-rated or proxy; ``split`` says how
    the data were split. Both belong in every report.
    """
    def is_reg(x: Any) -> bool:
        return isinstance(x, Mapping) and x and all(isinstance(v, Mapping) and "r" in v for v in x.values())

    def is_dist(x: Any) -> bool:
        return isinstance(x, Mapping) and "kl" in x

    if is_reg(results) or is_dist(results):
        results = {"": results}
    lines = []
    if title:
        lines.append(title)
    if split:
        lines.append(f"split: {split}")
    if sources:
        lines.append(describe_sources(sources))
    reg_rows = {k: v for k, v in results.items() if is_reg(v)}
    dist_rows = {k: v for k, v in results.items() if is_dist(v)}
    other = [k for k in results if k not in reg_rows and k not in dist_rows]
    if other:
        raise ValueError(f"cannot format metrics for {other}: expected regression or distribution metrics")
    if reg_rows:
        lw = max([len("model")] + [len(k) for k in reg_rows])
        show_src = sources is not None
        head = f"{'model':<{lw}}  {'dim':<9}" + (f"  {'source':<26}" if show_src else "") + \
            "".join(f"  {k:>7}" for k in REGRESSION_KEYS)
        lines += [head, "-" * len(head)]
        for label, res in reg_rows.items():
            for d, m in res.items():
                src = (sources or {}).get(d, "")
                lines.append(f"{label:<{lw}}  {d:<9}" + (f"  {src:<26}" if show_src else "")
                             + "".join(f"  {_fmt(m.get(k))}" for k in REGRESSION_KEYS))
    if dist_rows:
        if reg_rows:
            lines.append("")
        lw = max([len("model")] + [len(k) for k in dist_rows])
        head = f"{'model':<{lw}}" + "".join(f"  {k:>20}" for k in DISTRIBUTION_KEYS) + f"  {'n':>6}"
        lines += ["emotion distribution (kl, chebyshev: lower better; bhattacharyya, "
                  "max_emotion_accuracy: higher better)", head, "-" * len(head)]
        for label, m in dist_rows.items():
            lines.append(f"{label:<{lw}}" + "".join(f"  {_fmt(m.get(k), 20)}" for k in DISTRIBUTION_KEYS)
                         + f"  {_fmt(m.get('n', ''), 6)}")
    return "\n".join(lines)


__all__ = ["DISTRIBUTION_KEYS", "REGRESSION_KEYS", "bootstrap_ci", "concordance", "describe_sources",
           "distribution_metrics",
           "format_metrics_table", "pearson_r", "regression_metrics"]
