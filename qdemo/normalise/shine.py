"""SHINE-style low-level equalisation with ``shinier``, sharded over Ray tasks.

SHINE equalises across the whole SET: the target luminance mean/contrast, histogram and
amplitude spectrum are averages over all images. So the work is done in two sharded
passes: (1) every shard measures its images (sums of histograms and spectra, per-image
luminance moments) in exactly the colour space shinier works in; the driver reduces them
to set-wide targets once; (2) every shard runs shinier's own matching
(:class:`shinier.ImageProcessor`) on its images against those explicit targets. Because
the targets are explicit and per-image steps do not look at other images (shinier's
set-level options — rescaling to the set's min/max, set-wide gamut constraints — are not
used), a shard's output does not depend on how the set was cut into shards. Each shard's
result is cached, so an interrupted run redoes only the shards that had not finished.

    summary = run_shine(images, out_dir, cfg)   # writes images/, manifest.csv, shine.json
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from qdemo.errors import DataError, QdemoError
from qdemo.io import atomic_path, atomic_write_json, atomic_write_text

from qdemo.normalise.config import NormaliseConfig, ShineConfig
from qdemo.normalise.data import ImageSet, check_same_size, load_batch

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


def _b64(a: np.ndarray) -> dict[str, Any]:
    a = np.ascontiguousarray(a, dtype=np.float64)
    return {"shape": list(a.shape), "b64": base64.b64encode(a.tobytes()).decode("ascii")}


def _unb64(d: dict[str, Any]) -> np.ndarray:
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
        "hist_sum": None if hist_sum is None else _b64(hist_sum),
        "spec_sum": None if spec_sum is None else _b64(spec_sum),
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
    hist = sum(_unb64(r["hist_sum"]) for r in results if r["n"])
    spec = sum(_unb64(r["spec_sum"]) for r in results if r["n"])
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
    targets = ShineTargets(lum=tuple(targets_dict["lum"]), hist=_unb64(targets_dict["hist"]),
                           spectrum=_unb64(targets_dict["spectrum"]), n_images=targets_dict["n_images"])
    arrays, ok, skipped = load_batch(paths, size, fit, on_error="skip")
    matched = match_arrays(arrays, cfg, targets)
    written = []
    for i, im in zip(ok, matched):
        with atomic_path(outs[i]) as tmp:
            Image.fromarray(im, "RGB").save(tmp, format="PNG")
        written.append(outs[i])
    return {"written": written, "skipped": skipped}


# ----------------------------------------------------------------------------- driver

def _shards(n: int, size: int) -> list[list[int]]:
    if size < 1:
        raise QdemoError(f"shine.shard_size={size}: must be at least 1")
    return [list(range(i, min(n, i + size))) for i in range(0, n, size)]


def _digest(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:10]


def out_name(images: ImageSet, i: int) -> Path:
    """Output path (relative) of image ``i``: its path under the set's root, as PNG."""
    return images.rel(i).with_suffix(".png")


def compute_targets(images: ImageSet, cfg: NormaliseConfig, cache: Path | None, *, address: str | None = None,
                    backend: str = "ray", num_cpus: int | None = None, cpus_per_task: float = 1.0
                    ) -> tuple[ShineTargets, list[int], list[tuple[str, str]]]:
    """Pass 1: set-wide targets. Returns (targets, indices of readable images, skipped)."""
    from qdemo.parallel import run_tasks

    d, s = cfg.data, cfg.shine
    paths = [str(p) for p in images.paths]
    tasks = {}
    for k, idx in enumerate(_shards(len(paths), s.shard_size)):
        sp = [paths[i] for i in idx]
        tasks[f"stats-{_digest(sp, d.size, d.fit, s.color)}-{k:04d}"] = (sp, d.size, d.fit, s.color, d.on_error)
    results = run_tasks(shine_stats_shard, tasks, cache_dir=cache, address=address, backend=backend,
                        num_cpus=num_cpus, cpus_per_task=cpus_per_task, desc="SHINE stats")
    res = list(results.values())
    skipped = [tuple(x) for r in res for x in r["skipped"]]
    _refuse_unreadable(skipped, d.on_error)
    ok_paths = {p for r in res for p in r["ok"]}
    ok = [i for i, p in enumerate(paths) if p in ok_paths]
    if d.size is None:
        shapes = [tuple(s) for r in res for s in r["shapes"]]
        ok_p = [p for r in res for p in r["ok"]]
        check_same_size([np.empty(sh + (3,), np.uint8) for sh in shapes], ok_p)
    return reduce_targets(res, safe_lum=s.safe_lum), ok, skipped


def run_shine(images: ImageSet, out: str | Path, cfg: NormaliseConfig, *, address: str | None = None,
              backend: str = "ray", num_cpus: int | None = None, cpus_per_task: float = 1.0,
              use_cache: bool = True) -> dict[str, Any]:
    """Equalise ``images`` into ``out`` (``images/``, ``manifest.csv``, ``shine.json``, and for
    ``shine.scope=image`` ``targets.npz``); finished shards are reused from ``out/cache``."""
    from qdemo.config import to_dict
    from qdemo.parallel import run_tasks

    out = Path(out)
    if len(images) == 0:
        raise DataError("no images to normalise (the set or group is empty)")
    if cfg.shine.scope == "group":
        return run_shine_groups(images, out, cfg, address=address, backend=backend, num_cpus=num_cpus,
                                cpus_per_task=cpus_per_task, use_cache=use_cache)
    out.mkdir(parents=True, exist_ok=True)
    cache = out / "cache" if use_cache else None
    t0 = time.perf_counter()
    targets, ok, skipped = compute_targets(images, cfg, cache, address=address, backend=backend,
                                           num_cpus=num_cpus, cpus_per_task=cpus_per_task)
    t_stats = time.perf_counter() - t0
    targets.save(out / "targets.npz")
    tdict = {"lum": list(targets.lum), "hist": _b64(targets.hist), "spectrum": _b64(targets.spectrum),
             "n_images": targets.n_images}
    d, s = cfg.data, cfg.shine
    scfg = to_dict(s)
    names = _output_names(images, ok)
    tasks = {}
    tag = _digest(targets.digest(), scfg)
    for k, idx in enumerate(_shards(len(ok), s.shard_size)):
        sp = [str(images.paths[ok[j]]) for j in idx]
        so = [str(out / "images" / names[ok[j]]) for j in idx]
        tasks[f"match-{s.mode}-{tag}-{_digest(sp, d.size, d.fit)}-{k:04d}"] = (sp, so, d.size, d.fit, scfg, tdict)
    t1 = time.perf_counter()
    results = run_tasks(shine_match_shard, tasks, cache_dir=cache, address=address, backend=backend,
                        num_cpus=num_cpus, cpus_per_task=cpus_per_task, desc=f"SHINE {s.mode}")
    t_match = time.perf_counter() - t1
    _check_written(results, names, out, "SHINE")
    _write_manifest(images, ok, names, out)
    summary = {
        "mode": s.mode, "steps": steps_for(s), "color": s.color, "n_images": len(ok),
        "n_skipped": len(skipped), "skipped": [{"file": f, "reason": r} for f, r in skipped],
        "size": d.size, "fit": d.fit, "data_root": str(images.root), "set": images.name,
        "targets": {"lum_mean": targets.lum[0], "lum_sd": targets.lum[1], "n_images": targets.n_images},
        "shards": len(tasks), "seconds": {"stats": t_stats, "match": t_match},
        "config": {"data": to_dict(d), "shine": scfg},
    }
    atomic_write_json(out / "shine.json", summary)
    return summary


def _refuse_unreadable(skipped: Sequence[tuple[str, str]], on_error: str) -> None:
    if skipped and on_error == "raise":
        listed = "; ".join(reason for _, reason in skipped[:5])
        more = f" (and {len(skipped) - 5} more)" if len(skipped) > 5 else ""
        raise DataError(f"{len(skipped)} unreadable image(s): {listed}{more}. "
                        f"Fix or remove them, or pass --skip-bad to leave them out")


def _output_names(images: ImageSet, ok: Sequence[int]) -> dict[int, Path]:
    names = {i: out_name(images, i) for i in ok}
    if len(set(names.values())) != len(names):
        raise DataError(f"{images.root}: two images map to the same output name (e.g. a.jpg and a.png); rename one")
    return names


def _check_written(results: dict[str, Any], names: dict[int, Path], out: Path, what: str) -> None:
    written = {p for r in results.values() for p in r["written"]}
    missing = [str(out / "images" / n) for n in names.values()
               if str(out / "images" / n) not in written or not (out / "images" / n).exists()]
    if missing:
        raise QdemoError(f"{len(missing)} output image(s) missing after {what} (e.g. {missing[0]}); "
                         f"delete {out / 'cache'} and run again")


def _write_manifest(images: ImageSet, ok: Sequence[int], names: dict[int, Path], out: Path) -> None:
    rows = []
    for i in ok:
        t = images.targets[i] if images.targets is not None else [float("nan")] * 3
        rows.append([str(images.paths[i]), images.groups[i], f"images/{names[i].as_posix()}",
                     *(("" if not np.isfinite(x) else f"{float(x):.6f}") for x in t)])
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["source", "group", "output", "valence", "arousal", "dominance"])
    w.writerows(rows)
    atomic_write_text(out / "manifest.csv", buf.getvalue())


# ----------------------------------------------------------------------------- group scope

def group_stats_task(paths: Sequence[str], size: int | None, fit: str) -> dict[str, Any]:
    """Ray task: statistics of one group (:func:`qdemo.normalise.groupwise.group_stats`)."""
    from qdemo.normalise.groupwise import group_stats

    arrays, ok, skipped = load_batch(paths, size, fit, on_error="skip")  # the driver refuses them unless --skip-bad
    if arrays:
        check_same_size(arrays, [paths[i] for i in ok])
    return {"ok": [paths[i] for i in ok], "skipped": skipped,
            "stats": group_stats(arrays) if arrays else None}


def group_match_task(paths: Sequence[str], outs: Sequence[str], size: int | None, fit: str,
                     targets: dict[str, Any], iterations: int, seed: int) -> dict[str, Any]:
    """Ray task: equalise one group towards the set-wide targets and write PNGs (atomically)."""
    from PIL import Image

    from qdemo.normalise.groupwise import equalise_group

    arrays, ok, _ = load_batch(paths, size, fit, on_error="skip")
    written: list[str] = []
    if not arrays:  # every file of the group became unreadable since it was measured
        return {"written": written}
    for i, im in zip(ok, equalise_group(arrays, targets, iterations, seed)):
        with atomic_path(outs[i]) as tmp:
            Image.fromarray(im, "RGB").save(tmp, format="PNG")
        written.append(outs[i])
    return {"written": written}


def run_shine_groups(images: ImageSet, out: Path, cfg: NormaliseConfig, *, address: str | None = None,
                     backend: str = "ray", num_cpus: int | None = None, cpus_per_task: float = 1.0,
                     use_cache: bool = True) -> dict[str, Any]:
    """``shine.scope=group``: between-group equalisation, one Ray task per group and pass
    (measure, then equalise), cached like the image scope. Same output folder layout.
    With ``shine.group_by`` beyond the folder, :func:`_run_groupings` (one process)."""
    from qdemo.config import to_dict
    from qdemo.normalise.data import group_indices
    from qdemo.normalise.groupwise import check_group_by, set_targets
    from qdemo.parallel import run_tasks

    d, s = cfg.data, cfg.shine
    if s.mode != "full" or s.color != "luminance":
        raise QdemoError(f"shine.scope=group runs its own luminance steps (radial spectrum, contrast, tone curve): "
                         f"use mode full and color luminance, not mode {s.mode} / color {s.color}")
    if s.group_iterations < 1:
        raise QdemoError(f"shine.group_iterations={s.group_iterations}: must be at least 1")
    try:
        check_group_by(s.group_by)
    except ValueError as exc:
        raise QdemoError(str(exc)) from None
    if tuple(s.group_by) != ("folder",):
        return _run_groupings(images, out, cfg)
    groups = group_indices(images.groups)
    if len(groups) < 2:
        raise DataError(f"{images.root}: shine.scope=group needs at least two groups (folders / categories); "
                        f"found {len(groups)} ({', '.join(groups) or 'none'})")
    out.mkdir(parents=True, exist_ok=True)
    cache = out / "cache" if use_cache else None
    paths = {g: [str(images.paths[i]) for i in idx] for g, idx in groups.items()}
    t0 = time.perf_counter()
    key_of = {g: f"gstats-{_digest(p, d.size, d.fit)}-{_digest(g)}" for g, p in paths.items()}  # names: any text
    tasks = {key_of[g]: (p, d.size, d.fit) for g, p in paths.items()}
    res = run_tasks(group_stats_task, tasks, cache_dir=cache, address=address, backend=backend,
                    num_cpus=num_cpus, cpus_per_task=cpus_per_task, desc="group stats")
    by_group = {g: res[key_of[g]] for g in paths}
    skipped = [tuple(x) for r in by_group.values() for x in r["skipped"]]
    _refuse_unreadable(skipped, d.on_error)  # in the driver: a cached --skip-bad result must not pass
    empty = [g for g, r in by_group.items() if r["stats"] is None]
    if empty:
        raise DataError(f"{images.root}: group(s) {', '.join(empty)} have no readable image")
    try:
        targets = set_targets([r["stats"] for r in by_group.values()], list(by_group))
    except ValueError as exc:
        raise DataError(f"{images.root}: {exc}; pass --size to work at one size") from None
    t_stats = time.perf_counter() - t0
    ok_paths = {p for r in by_group.values() for p in r["ok"]}
    ok = [i for i, p in enumerate(images.paths) if str(p) in ok_paths]
    names = _output_names(images, ok)
    tag = _digest(targets, s.group_iterations, s.seed)
    tasks = {}
    for g, idx in groups.items():
        keep = [i for i in idx if i in names]
        sp = [str(images.paths[i]) for i in keep]
        so = [str(out / "images" / names[i]) for i in keep]
        tasks[f"gmatch-{tag}-{_digest(sp, d.size, d.fit)}-{_digest(g)}"] = (sp, so, d.size, d.fit, targets,
                                                                   s.group_iterations, s.seed)
    t1 = time.perf_counter()
    results = run_tasks(group_match_task, tasks, cache_dir=cache, address=address, backend=backend,
                        num_cpus=num_cpus, cpus_per_task=cpus_per_task, desc="group equalise")
    t_match = time.perf_counter() - t1
    _check_written(results, names, out, "group equalisation")
    _write_manifest(images, ok, names, out)
    (out / "targets.npz").unlink(missing_ok=True)  # an image-scope run's targets; not this run's
    summary = {
        "mode": "full", "scope": "group", "group_by": ["folder"],
        "steps": ["radial spectrum", "contrast", "tone curve"], "iterations": s.group_iterations,
        "color": s.color, "n_images": len(ok), "n_groups": len(groups),
        "n_skipped": len(skipped), "skipped": [{"file": f, "reason": r} for f, r in skipped],
        "size": d.size, "fit": d.fit, "data_root": str(images.root), "set": images.name,
        "targets": {"contrast": targets["contrast"], "n_images": targets["n_images"]},
        "shards": len(tasks), "seconds": {"stats": t_stats, "match": t_match},
        "config": {"data": to_dict(d), "shine": to_dict(s)},
    }
    atomic_write_json(out / "shine.json", summary)
    return summary


def _run_groupings(images: ImageSet, out: Path, cfg: NormaliseConfig) -> dict[str, Any]:
    """``shine.group_by`` beyond the folder: several groupings equalised at once. Their groups
    overlap, so the set is equalised in one process (seconds for hundreds of small images),
    not in one Ray task per group; an interrupted run starts again, and no output is written
    before every image is equalised."""
    from PIL import Image

    from qdemo.config import to_dict
    from qdemo.normalise.groupwise import equalise_partitions, groupings_of

    d, s = cfg.data, cfg.shine
    t0 = time.perf_counter()
    arrays, ok, skipped = load_batch(images.paths, d.size, d.fit, on_error="skip")
    _refuse_unreadable(skipped, d.on_error)
    check_same_size(arrays, [images.paths[i] for i in ok])
    ratings = images.targets[ok] if images.targets is not None else None
    t_load = time.perf_counter() - t0
    try:
        parts = groupings_of([images.groups[i] for i in ok], ratings, s.group_by, where=str(images.root))
        eq = equalise_partitions(arrays, parts, s.group_iterations, s.seed, names=list(s.group_by))
    except ValueError as exc:
        raise DataError(f"{images.root}: {exc}") from None
    t_match = time.perf_counter() - t0 - t_load
    names = _output_names(images, ok)
    out.mkdir(parents=True, exist_ok=True)
    for i, im in zip(ok, eq):
        with atomic_path(out / "images" / names[i]) as tmp:
            Image.fromarray(im, "RGB").save(tmp, format="PNG")
    _write_manifest(images, ok, names, out)
    (out / "targets.npz").unlink(missing_ok=True)  # an image-scope run's targets; not this run's
    sizes = {name: {g: sum(1 for x in labels if x == g) for g in sorted({x for x in labels if x is not None})}
             for name, labels in zip(s.group_by, parts)}
    summary = {
        "mode": "full", "scope": "group", "group_by": list(s.group_by), "group_sizes": sizes,
        "steps": ["radial spectrum", "contrast", "tone curve"], "iterations": s.group_iterations,
        "color": s.color, "n_images": len(ok), "n_groups": sum(len(v) for v in sizes.values()),
        "n_skipped": len(skipped), "skipped": [{"file": f, "reason": r} for f, r in skipped],
        "size": d.size, "fit": d.fit, "data_root": str(images.root), "set": images.name,
        "shards": 1, "seconds": {"stats": t_load, "match": t_match},  # stats: loading; equalising measures too
        "config": {"data": to_dict(d), "shine": to_dict(s)},
    }
    atomic_write_json(out / "shine.json", summary)
    return summary


@dataclass
class ShineOutput:
    """A finished ``qdemo normalise shine`` folder, read back."""

    root: Path
    sources: list[Path]
    groups: list[str]
    outputs: list[Path]
    targets: np.ndarray
    """(N, 3) human VAD (NaN where unrated)."""
    summary: dict[str, Any]

    @classmethod
    def read(cls, root: str | Path) -> "ShineOutput":
        root = Path(root)
        man, js = root / "manifest.csv", root / "shine.json"
        if not man.exists() or not js.exists():
            raise DataError(f"{root}: not a SHINE output folder (no manifest.csv / shine.json); "
                            f"make one with `qdemo normalise shine --out {root}`")
        with open(man, newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        need = {"source", "group", "output", "valence", "arousal", "dominance"}
        if not rows or not need <= set(rows[0]):
            raise DataError(f"{man}: expected columns {', '.join(sorted(need))}")

        def num(x: str) -> float:
            return float(x) if x.strip() else float("nan")

        return cls(root=root, sources=[Path(r["source"]) for r in rows], groups=[r["group"] for r in rows],
                   outputs=[root / r["output"] for r in rows],
                   targets=np.array([[num(r["valence"]), num(r["arousal"]), num(r["dominance"])] for r in rows],
                                    dtype=np.float32).reshape(-1, 3),
                   summary=json.loads(js.read_text(encoding="utf-8")))
