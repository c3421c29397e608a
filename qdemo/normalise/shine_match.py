"""SHINE with ``shinier``, per shard: measuring images, set-wide targets, matching to them.

Pass 1 (:func:`shine_stats_shard`) measures a shard's images in exactly the colour space
shinier works in; :func:`reduce_targets` combines the shards into explicit set-wide
:class:`ShineTargets`; pass 2 (:func:`shine_match_shard`) runs shinier's own matching
against those targets. The driver is :func:`qdemo.normalise.shine.run_shine`.
"""

from __future__ import annotations

import base64
import hashlib
import io
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from qdemo.errors import DataError, QdemoError
from qdemo.io import atomic_path

from qdemo.normalise.config import ShineConfig
from qdemo.normalise.data import load_batch

MODE_STEPS: dict[str, tuple[int, ...]] = {"lum": (1,), "hist": (2,), "sf": (3,), "spec": (4,)}
"""Our mode names -> shinier modes (1 lum_match, 2 hist_match, 3 sf_match, 4 spec_match)."""


def _color_flags(color: str) -> tuple[bool, bool]:
    """(as_gray, linear_luminance) of shinier for our colour choice."""
    return {"luminance": (False, False), "gray": (True, False), "rgb": (False, True)}[color]


def steps_for(cfg: ShineConfig) -> list[int]:
    """The shinier modes run one after another for ``cfg.mode``."""
    if cfg.mode == "full":
        fourier = 3 if cfg.full_fourier == "sf" else 4
        if cfg.iterations < 1:
            raise QdemoError(f"shine.iterations={cfg.iterations}: must be at least 1")
        return [fourier, 2] * cfg.iterations
    return list(MODE_STEPS[cfg.mode])


# ----------------------------------------------------------------------------- measuring

def forward_buffer(image: np.ndarray, color: str) -> np.ndarray:
    """uint8 ``(H, W, 3)`` -> the float [0, 255] buffer shinier matches: ``(H, W)`` CIE Y
    (luminance / gray) or ``(H, W, 3)`` sRGB channels (rgb)."""
    if color == "rgb":
        return image.astype(np.float64)
    from shinier.color import ColorConverter

    return ColorConverter(rec_standard="rec709").sRGB_to_xyY(image / 255.0)[:, :, 2] * 255.0  # (H, W)


def to_b64(a: np.ndarray) -> dict[str, Any]:
    a = np.ascontiguousarray(a, dtype=np.float64)
    return {"shape": list(a.shape), "b64": base64.b64encode(a.tobytes()).decode("ascii")}


def from_b64(d: dict[str, Any]) -> np.ndarray:
    return np.frombuffer(base64.b64decode(d["b64"]), dtype=np.float64).reshape(d["shape"]).copy()


def shine_stats_shard(paths: Sequence[str], size: int | None, fit: str, color: str,
                      on_error: str) -> dict[str, Any]:
    """Ray task: measure a shard. Returns sums of histograms and amplitude spectra and each
    image's luminance (mean, sd, min, max), JSON-serialisable."""
    from shinier.utils import image_spectrum, imhist

    arrays, ok, skipped = load_batch(paths, size, fit, on_error="skip")
    hist_sum = spec_sum = None
    lum = []
    for a in arrays:
        buf = forward_buffer(a, color)
        h = imhist(buf, n_bins=256)  # (256, C) counts
        h = h / np.maximum(h.sum(axis=0, keepdims=True), 1e-12)
        mag, _ = image_spectrum(buf / 255.0, rescale=False)  # (H, W, C)
        hist_sum = h if hist_sum is None else hist_sum + h
        if spec_sum is not None and spec_sum.shape != mag.shape:
            spec_sum = None  # sizes differ: reported by the driver
            break
        spec_sum = mag if spec_sum is None else spec_sum + mag
        lum.append([float(buf.mean()), float(buf.std()), float(buf.min()), float(buf.max())])
    return {
        "ok": [paths[i] for i in ok], "skipped": skipped,
        "shapes": [list(a.shape[:2]) for a in arrays],
        "lum": lum, "n": len(arrays),
        "hist_sum": None if hist_sum is None else to_b64(hist_sum),
        "spec_sum": None if spec_sum is None else to_b64(spec_sum),
    }


@dataclass
class ShineTargets:
    """Set-wide SHINE targets (what every image is matched to)."""

    lum: tuple[float, float]
    """Target mean and SD of luminance (0–255), already made safe set-wide if asked."""
    hist: np.ndarray
    """(256, C) target histogram (the set's average, normalised)."""
    spectrum: np.ndarray
    """(H, W, C) target amplitude spectrum (the set's average; fftshifted)."""
    n_images: int
    """Images the targets were computed from."""

    def digest(self) -> str:
        h = hashlib.sha256()
        h.update(np.asarray(self.lum, dtype=np.float64).tobytes())
        h.update(np.ascontiguousarray(self.hist, dtype=np.float64).tobytes())
        h.update(np.ascontiguousarray(self.spectrum, dtype=np.float64).tobytes())
        return h.hexdigest()

    def save(self, path: str | Path) -> None:
        buf = io.BytesIO()
        np.savez(buf, lum=np.asarray(self.lum), hist=self.hist, spectrum=self.spectrum,
                 n_images=np.asarray(self.n_images))
        with atomic_path(path) as tmp:
            tmp.write_bytes(buf.getvalue())

    @classmethod
    def load(cls, path: str | Path) -> "ShineTargets":
        try:
            with np.load(path, allow_pickle=False) as z:
                return cls(lum=(float(z["lum"][0]), float(z["lum"][1])), hist=z["hist"],
                           spectrum=z["spectrum"], n_images=int(z["n_images"]))
        except (OSError, KeyError, ValueError) as exc:
            raise DataError(f"{path}: not a SHINE targets file ({exc})") from None


def safe_lum_target(lum: np.ndarray) -> tuple[float, float]:
    """Set-wide automatic luminance target, lowered so no image leaves [0, 255].

    ``lum``: (N, 4) per-image (mean, sd, min, max). The target is the average mean and SD;
    like shinier's ``safe_lum_match`` with automatic targets, the SD is scaled down until
    the set's predicted range fits 255 and the mean shifted to fit — but over the whole set.
    """
    m, s, lo, hi = (lum[:, k] for k in range(4))
    tm, ts = float(m.mean()), float(s.mean())
    safe = np.where(s == 0, 1.0, s)

    def predict(tm: float, ts: float) -> tuple[np.ndarray, np.ndarray]:
        pmin = np.where(s == 0, tm, (lo - m) / safe * ts + tm)
        pmax = np.where(s == 0, tm, (hi - m) / safe * ts + tm)
        return pmin, pmax

    pmin, pmax = predict(tm, ts)
    if pmin.min() < 0 or pmax.max() > 255:
        ts *= min(1.0, (255 - 1e-6) / (pmax.max() - pmin.min()))
        pmin, pmax = predict(tm, ts)
        tm = tm + (255 - pmax.max()) if pmax.max() > 255 else tm - min(0.0, pmin.min())
    return tm, ts


def reduce_targets(results: Sequence[dict[str, Any]], *, safe_lum: bool) -> ShineTargets:
    """Combine the shards' measurements into set-wide targets."""
    n = sum(r["n"] for r in results)
    if n == 0:
        raise DataError("no readable images to compute SHINE targets from")
    shapes = {tuple(s) for r in results for s in r["shapes"]}
    if len(shapes) > 1 or any(r["n"] and r["spec_sum"] is None for r in results):
        raise DataError(f"images differ in size ({', '.join(f'{w}x{h}' for h, w in sorted(shapes))}); "
                        f"SHINE needs one size: set data.size (e.g. --size 128)")
    hist = sum(from_b64(r["hist_sum"]) for r in results if r["n"])
    spec = sum(from_b64(r["spec_sum"]) for r in results if r["n"])
    lum = np.array([x for r in results for x in r["lum"]], dtype=np.float64)  # (N, 4)
    hist = hist / n
    hist = hist / np.maximum(hist.sum(axis=0, keepdims=True), 1e-12)
    tl = safe_lum_target(lum) if safe_lum else (float(lum[:, 0].mean()), float(lum[:, 1].mean()))
    return ShineTargets(lum=tl, hist=hist, spectrum=spec / n, n_images=n)


# ----------------------------------------------------------------------------- matching

def _options(mode: int, cfg: ShineConfig, targets: ShineTargets, out_folder: Path):
    from shinier import Options

    as_gray, linear = _color_flags(cfg.color)
    kw: dict[str, Any] = dict(
        mode=mode, output_folder=out_folder, verbose=-1, seed=cfg.seed, as_gray=as_gray,
        linear_luminance=linear, conserve_memory=False, rescaling=0,
        gamut_strategy="clip" if (linear or as_gray) else "constrain_image_chrominance",
    )
    if mode == 1:
        kw.update(target_lum=targets.lum, safe_lum_match=False)  # already safe set-wide
    if mode == 2:
        kw.update(target_hist=targets.hist)
    if mode in (3, 4):
        kw.update(target_spectrum=targets.spectrum.squeeze() if targets.spectrum.shape[-1] == 1
                  else targets.spectrum)
    return Options(**kw)


def match_arrays(arrays: Sequence[np.ndarray], cfg: ShineConfig, targets: ShineTargets) -> list[np.ndarray]:
    """Run shinier's matching on uint8 ``(H, W, 3)`` arrays against fixed targets."""
    from shinier import ImageDataset, ImageProcessor

    if not arrays:
        return []
    expected = targets.spectrum.shape[:2]
    if arrays[0].shape[:2] != expected:
        raise DataError(f"image size {arrays[0].shape[1]}x{arrays[0].shape[0]} differs from the "
                        f"targets' {expected[1]}x{expected[0]}")
    current = [np.ascontiguousarray(a) for a in arrays]
    tmp = Path(tempfile.mkdtemp(prefix="qdemo-shine-"))
    try:
        for mode in steps_for(cfg):
            opts = _options(mode, cfg, targets, tmp)
            ds = ImageDataset(images=[a.copy() for a in current], options=opts)
            proc = ImageProcessor(dataset=ds, options=opts, verbose=-1)
            res = proc.get_results()
            current = []
            for i in range(len(res)):
                im = np.asarray(res[i])
                if im.ndim == 2:
                    im = np.repeat(im[:, :, None], 3, axis=2)
                current.append(np.ascontiguousarray(im.astype(np.uint8)))
            ds.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return current


def shine_match_shard(paths: Sequence[str], outs: Sequence[str], size: int | None, fit: str,
                      cfg_dict: dict[str, Any], targets_dict: dict[str, Any]) -> dict[str, Any]:
    """Ray task: match a shard's images to the set-wide targets and write PNGs (atomically)."""
    from PIL import Image

    from qdemo.config import from_dict

    cfg = from_dict(ShineConfig, cfg_dict)
    targets = ShineTargets(lum=tuple(targets_dict["lum"]), hist=from_b64(targets_dict["hist"]),
                           spectrum=from_b64(targets_dict["spectrum"]), n_images=targets_dict["n_images"])
    arrays, ok, skipped = load_batch(paths, size, fit, on_error="skip")
    matched = match_arrays(arrays, cfg, targets)
    written = []
    for i, im in zip(ok, matched):
        with atomic_path(outs[i]) as tmp:
            Image.fromarray(im, "RGB").save(tmp, format="PNG")
        written.append(outs[i])
    return {"written": written, "skipped": skipped}


__all__ = ["MODE_STEPS", "ShineTargets", "forward_buffer", "from_b64", "match_arrays", "reduce_targets",
           "safe_lum_target", "shine_match_shard", "shine_stats_shard", "steps_for", "to_b64"]
