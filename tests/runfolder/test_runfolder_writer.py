"""The run-folder writer: the schema's columns, atomic writes, what the reader reads back;
its other users (qdemo confirm, the web demo) go through it."""

from __future__ import annotations

import csv
import json
import subprocess
import sys

import numpy as np
import pytest

from qdemo.errors import DataError, QdemoError
from qdemo.runfolder import archive_columns, read_reference, read_run
from qdemo.runfolder.writer import (ArchiveTable, format_cell, prepare_run_dir, update_archive_columns,
                                    write_archive, write_elite_images, write_manifest)
from qdemo.tables import read_output_table


def _table(n=3, cells=True, critic=False) -> ArchiveTable:
    coords = np.array([[0, 0, 0], [1, 2, 1], [3, 0, 1]])[:n]
    idx = np.array([int(np.ravel_multi_index(c, (4, 3, 2))) for c in coords])
    vad = -1 + (coords + 0.5) * 2 / np.array([4, 3, 2])  # cell centres
    return ArchiveTable(index=idx, cells=coords if cells else None, objective=np.array([10.0, 55.5, 99.25])[:n],
                        vad=vad, vad_sd=np.full((n, 3), 0.1),
                        critic_vad=vad + 0.01 if critic else None,
                        critic_same_cell=np.array([True, False, True])[:n] if critic else None,
                        critic_within_one=np.array([True, True, True])[:n] if critic else None,
                        image=[f"elites/cell_{i}.png" for i in idx])


def _manifest(run, cells=(4, 3, 2), name="vad"):
    write_manifest(run, {"grid": {"name": name, "cells": list(cells), "ranges": [[-1, 1]] * len(cells)}})


def test_format_cell():
    assert format_cell("index", np.int32(7)) == "7" and format_cell("critic_same_cell", np.True_) == "1"
    assert format_cell("objective", np.float32(0.5)) == "0.500000" and format_cell("valence", -1 / 3) == "-0.333333"
    assert format_cell("critic_valence", None) == "" and format_cell("critic_valence", float("nan")) == ""
    assert format_cell("human_arousal", 0.25) == "0.250000" and format_cell("image", "elites/a.png") == "elites/a.png"


@pytest.mark.parametrize("critic", [False, True])
def test_archive_round_trip_through_the_reader(tmp_path, critic):
    t = _table(critic=critic)
    path = write_archive(tmp_path, t)
    _manifest(tmp_path)
    lines = path.read_text().splitlines()
    assert lines[0].split(",") == archive_columns(3)
    assert lines[1].startswith("0,0,0,0,10.000000,-0.750000,")
    run = read_run(tmp_path)
    assert run.indices == t.index.tolist() and run.coords == t.cells.tolist()
    assert [run.value("objective", i) for i in range(3)] == [10.0, 55.5, 99.25]
    crit = [run.value("critic_same_cell", i) for i in range(3)]
    assert crit == [1.0, 0.0, 1.0] if critic else all(np.isnan(crit))
    assert run.columns["image"] == [f"elites/cell_{i}.png" for i in t.index]


def test_cvt_and_va_tables_have_the_schema_columns(tmp_path):
    write_archive(tmp_path, _table(cells=False))
    assert read_output_table(tmp_path / "archive.csv").header == archive_columns(0)
    t = _table()
    t.cells = t.cells[:, :2]
    write_archive(tmp_path, t)
    assert read_output_table(tmp_path / "archive.csv").header == archive_columns(2)


def test_a_failed_write_leaves_the_previous_file(tmp_path):
    path = write_archive(tmp_path, _table())
    before = path.read_bytes()
    bad = _table()
    bad.index = np.array([1, 2, "x"], dtype=object)  # fails while formatting row 3
    with pytest.raises(ValueError):
        write_archive(tmp_path, bad)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["archive.csv"]  # no temporary file left


def test_update_archive_columns_keeps_every_other_cell(tmp_path):
    path = write_archive(tmp_path, _table())
    text = path.read_text()
    text = text.replace("elites/cell_0.png", "elites/renamed by hand.png")  # an edit the update must keep
    path.write_bytes(("\ufeff" + text.replace("\n", "\r\n")).encode())  # saved on Windows
    update_archive_columns(tmp_path, {"critic_valence": [0.1, 0.2, 0.3], "critic_same_cell": [True, False, True]})
    rows = list(csv.DictReader(path.open(newline="")))
    old = list(csv.DictReader(text.splitlines()))
    for new, was in zip(rows, old):
        for col in was:
            if col not in ("critic_valence", "critic_same_cell"):
                assert new[col] == was[col]
    assert [r["critic_valence"] for r in rows] == ["0.100000", "0.200000", "0.300000"]
    assert [r["critic_same_cell"] for r in rows] == ["1", "0", "1"] and rows[0]["image"].startswith("elites/renamed")
    with pytest.raises(QdemoError, match="not archive.csv columns"):
        update_archive_columns(tmp_path, {"mood": [1, 2, 3]})
    with pytest.raises(DataError, match="2 values"):
        update_archive_columns(tmp_path, {"critic_valence": [0.1, 0.2]})


def test_elite_images_from_tensors_and_pil(tmp_path):
    import torch
    from PIL import Image

    rels = write_elite_images(tmp_path, [3, 8], torch.rand(2, 3, 6, 6))
    rels += write_elite_images(tmp_path, [9], [Image.new("RGB", (5, 5), (255, 0, 0))])
    assert rels == ["elites/cell_3.png", "elites/cell_8.png", "elites/cell_9.png"]
    for rel in rels:
        assert (tmp_path / rel).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_prepare_run_dir(tmp_path):
    out = prepare_run_dir(tmp_path / "a" / "run", force=False)
    assert out.is_dir()
    (out / "manifest.json").write_text("{}")
    with pytest.raises(QdemoError, match="--force"):
        prepare_run_dir(out, force=False)
    prepare_run_dir(out, force=True)
    assert list(out.iterdir()) == []
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep")
    with pytest.raises(QdemoError, match="not a qdemo run folder"):
        prepare_run_dir(tmp_path / "mine", force=True)


def test_the_web_demo_writes_through_the_writer(tmp_path):
    from qdemo.web.demo import make_demo_archive, make_demo_compare

    run = make_demo_archive(tmp_path / "demo", cells=(3, 3, 2), seed=1, reference=4, image_size=8)
    assert read_output_table(run / "archive.csv").header == archive_columns(3)
    folder = read_run(run, require=("objective", "image"), check_images=True)
    assert folder.n > 0 and json.loads((run / "manifest.json").read_text())["metrics"]["coverage"] == folder.n / 18
    ref = read_reference(run)
    assert list(ref[0])[:3] == ["source", "image", "index"] and len(ref) == 4
    assert all((run / r["image"]).is_file() for r in ref)
    va = make_demo_archive(tmp_path / "va", cells=(4, 4), seed=2, critic=False, reference=0, image_size=8)
    assert read_output_table(va / "archive.csv").header == archive_columns(2)
    samples = read_output_table(make_demo_compare(tmp_path / "cmp", run, k=2) / "samples.csv")
    assert len(samples) == 2 * folder.n


def test_reading_stays_light():
    code = ("import sys, qdemo.runfolder\nfrom qdemo.runfolder import read_run, read_history, read_reference, TABLE, "
            "archive_columns\n"
            "print(sorted(m for m in ('numpy', 'torch', 'PIL', 'ribs', 'yaml') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
