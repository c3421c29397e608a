"""``qdemo stimuli export RUN --out DIR [--db ratings.sqlite]``: a run as a normed stimulus set.

    DIR/images/qd001.png ...   the images (the study's PNGs as rated, or the run's elites)
    DIR/norms.csv              one row per image (qdemo.stimuli.norms)
    DIR/DATASHEET.md           how the set was made and rated, written from the data
    DIR/contact_sheet.png      every image with its id
    DIR/export.json            the datasheet's facts, machine-readable

The folder is built beside DIR under a temporary name and renamed into place at the end, so
an error leaves nothing half-written; an existing DIR is refused unless ``--force`` is given
and it holds an earlier export.
"""

from __future__ import annotations

import math
import os
import shutil
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from qdemo import DIMS
from qdemo.errors import ConfigError, DataError
from qdemo.stimuli.collect import Item, run_items, study_items
from qdemo.stimuli.config import StimuliConfig

PROCEDURAL = ("pixels", "fourier", "cppn", "shapes")
"""Renderers that draw from their parameters alone (no third-party image material)."""


def _check_out(cfg: StimuliConfig) -> Path:
    if not cfg.out:
        raise ConfigError("qdemo stimuli export: give --out DIR (the folder to create)")
    out = Path(cfg.out)
    if out.exists():
        earlier = (out / "norms.csv").is_file() and (out / "DATASHEET.md").is_file()
        if not cfg.force:
            raise DataError(f"{out}: already exists (use --force to replace an earlier export)")
        if not earlier:
            raise DataError(f"{out}: exists and is not an earlier stimulus export (no norms.csv / DATASHEET.md); "
                            f"choose another --out")
    return out


def _rescore(items: list[Item], files: list[Path], manifest: dict[str, Any], run: Path,
             roles: tuple[str, ...]) -> list[str]:
    """Set the ``roles``' predictions of ``items`` to the run's models' predictions of ``files``
    (the exported images); returns the roles scored (a manifest without a model spec: skipped)."""
    import torch

    from qdemo.emotion.zoo import load_emotion_model
    from qdemo.io import load_image

    done = []
    for role in roles:
        spec = ((manifest.get("models") or {}).get(role) or {}).get("spec")
        if not spec or str(spec).lower() == "none":
            continue
        try:
            model = load_emotion_model(spec, role=role)
        except Exception as exc:  # noqa: BLE001 - any failure: say which model of which run
            raise DataError(f"{run}/manifest.json: cannot load the run's {role} {spec!r} to score the exported "
                            f"images ({exc})") from None
        with torch.no_grad():
            for s in range(0, len(files), 16):
                x = torch.stack([load_image(f) for f in files[s:s + 16]])
                for it, p in zip(items[s:s + 16], model(x).numpy()):
                    setattr(it, role, [float(v) for v in p])
        done.append(role)
    return done


def _contact_sheet(files: list[Path], ids: list[str], path: Path, columns: int, thumb: int = 96) -> None:
    """Every image with its id under it, ``columns`` per row (PNG)."""
    from PIL import Image, ImageDraw

    from qdemo.io import atomic_path, open_rgb

    cols = max(1, min(columns, len(files)))
    rows = math.ceil(len(files) / cols)
    label = 14
    sheet = Image.new("RGB", (cols * (thumb + 4) + 4, rows * (thumb + label + 4) + 4), (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    for i, (f, name) in enumerate(zip(files, ids)):
        x, y = 4 + (i % cols) * (thumb + 4), 4 + (i // cols) * (thumb + label + 4)
        sheet.paste(open_rgb(f).resize((thumb, thumb), Image.BILINEAR), (x, y))
        draw.text((x + 2, y + thumb + 1), name, fill=(0, 0, 0))
    with atomic_path(path) as tmp:
        sheet.save(tmp, format="PNG")


def _study_facts(study, items: list[Item], sinfo: dict[str, Any], seed: int) -> dict[str, Any]:
    from qdemo.web.reliability import split_half

    ids = {it.stimulus_id for it in items}
    ratings = [r for r in study.db.ratings if r["stimulus_id"] in ids]
    ns = [it.human["n_raters"] if it.human else 0 for it in items]
    size = None
    if items:
        from PIL import Image

        with Image.open(items[0].image) as im:
            size = im.size[0]
    return {"db": Path(study.db_path).name, "seed": study.db.meta.get("seed"), "size": size,
            "critic": (sinfo.get("study") or {}).get("critic"),
            "n_study": len(study.stimuli), "matched": sinfo["matched"], "other": sinfo["other_stimuli"],
            "n_raters": len({r["participant"] for r in ratings}), "n_ratings": len(ratings),
            "n_min": int(min(ns)), "n_max": int(max(ns)), "n_median": float(np.median(ns)),
            "quality": {k: v for k, v in study.db.quality.items() if k != "raters"}, "excluded": study.db.excluded,
            "reliability": split_half(ratings, seed=seed)["all"]}


def _licence_note(manifest: dict[str, Any]) -> str:
    name = (manifest.get("renderer") or {}).get("name", "?")
    if name in PROCEDURAL:
        return (f"The images are renders of qdemo's procedural `{name}` renderer from searched parameters; they "
                "contain no third-party image material.")
    return (f"The images come from the `{name}` renderer; if it was trained on photos (the qdemo generator "
            "learns from rated photo sets), check the licences of its training data before sharing.")


def export_stimuli(cfg: StimuliConfig, *, progress: bool = True) -> dict[str, Any]:  # long: one linear recipe
    """Write the stimulus set of ``cfg`` (see the module docstring); returns ``export.json``'s facts."""
    from tqdm import tqdm

    from qdemo.io import atomic_write_json, atomic_write_text
    from qdemo.runfolder import read_run
    from qdemo.stimuli.datasheet import datasheet
    from qdemo.stimuli.norms import NORM_COLUMNS, lowlevel_stats, norm_row, region_counts
    from qdemo.tables import table_text

    t0 = time.perf_counter()
    out = _check_out(cfg)
    if cfg.db and cfg.equalise:
        raise ConfigError("--equalise with --db: the norms are for the images that were rated; equalise the "
                          "study's images when exporting it (qdemo export-study --equalise MODE)")
    run = read_run(cfg.run, require=("image",), check_images=True)
    study, sinfo = None, {}
    if cfg.db:
        from qdemo.web.reliability import read_study

        study = read_study(cfg.db, exclude_flagged=cfg.exclude_flagged, threshold=cfg.flag_below)
        items, sinfo = study_items(run, study)
    else:
        items = run_items(run)
    tmp = out.parent / f".{out.name}.part-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / "images").mkdir(parents=True)
    try:
        files = [Path(it.image) for it in items]
        equalised = (sinfo.get("study") or {}).get("equalised")
        if cfg.equalise:
            from qdemo.normalise.equalise import equalise_files

            files, equalised = equalise_files(files, tmp / "work", cfg.equalise, seed=cfg.seed)
        roles = ("searcher",) if study is not None else ("searcher", "critic") if equalised else ()
        scored = _rescore(items, files, run.manifest, run.path, roles)
        width = max(3, len(str(len(items))))
        ids = [f"{cfg.prefix}{i + 1:0{width}d}" for i in range(len(items))]
        rows = []
        for it, f, name in tqdm(list(zip(items, files, ids)), desc="stimuli", disable=not progress, unit="img"):
            shutil.copyfile(f, tmp / "images" / f"{name}.png")
            rows.append(norm_row(name, f"images/{name}.png", it, lowlevel_stats(f)))
        atomic_write_text(tmp / "norms.csv", table_text(NORM_COLUMNS, rows))
        _contact_sheet([tmp / "images" / f"{n}.png" for n in ids], ids, tmp / "contact_sheet.png", cfg.contact_columns)
        facts = {"name": f"{run.path.name} ({len(items)} images)", "n": len(items), "run": run.path.name,
                 "created": datetime.now(timezone.utc).isoformat(timespec="seconds"), "rated": study is not None,
                 "manifest": run.manifest, "equalised": equalised, "licence": cfg.licence,
                 "licence_note": _licence_note(run.manifest), "regions": region_counts(items), "scored": scored,
                 "study": _study_facts(study, items, sinfo, cfg.seed) if study is not None else None}
        atomic_write_text(tmp / "DATASHEET.md", datasheet(facts))
        shutil.rmtree(tmp / "work", ignore_errors=True)
        facts["seconds"] = round(time.perf_counter() - t0, 2)
        atomic_write_json(tmp / "export.json", {k: v for k, v in facts.items() if k != "manifest"})
        if out.exists():
            shutil.rmtree(out)  # --force over an earlier export (checked above)
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return facts


__all__ = ["PROCEDURAL", "export_stimuli"]
