"""qdemo.runfolder: the one reader of ``archives/<run>/`` folders (docs/formats.md), on tiny
run folders written by hand here; and its three users (compare, viz, web) agree on them."""

from __future__ import annotations

import csv
import itertools
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from qdemo.errors import DataError
from qdemo.measure_space import MeasureSpace
from qdemo.runfolder import read_history, read_manifest, read_reference, read_run

HEADER = ["index", "cell_v", "cell_a", "cell_d", "objective", "valence", "arousal", "dominance",
          "valence_sd", "arousal_sd", "dominance_sd", "critic_valence", "critic_arousal", "critic_dominance",
          "critic_same_cell", "critic_within_one", "image"]


def write_run(root: Path, *, cells=(4, 3, 2), filled=((0, 0, 0), (3, 2, 1), (1, 2, 0)), name="run",
              grid_name=None, critic=True, newline="\n") -> Path:
    """A run folder as `qdemo evolve` writes it: manifest, archive.csv (elites at their cell
    centres), one PNG per elite."""
    run = root / name
    (run / "elites").mkdir(parents=True)
    ndim = len(cells)
    dims = ["valence", "arousal", "dominance"][:ndim]
    manifest = {"status": "complete", "seed": 0,
                "grid": {"name": grid_name or ("vad" if ndim == 3 else "va"), "dims": dims, "cells": list(cells),
                         "ranges": [[-1, 1]] * ndim},
                "models": {"searcher": {"name": "tiny", "proxy": ["dominance"]}}}
    (run / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    header = [h for h in HEADER if h != "cell_d"] if ndim == 2 else HEADER
    lines = [",".join(header)]
    for k, cell in enumerate(filled):
        idx = int(np.ravel_multi_index(cell, cells))
        centre = [-1 + (c + 0.5) * 2 / n for c, n in zip(cell, cells)] + [0.25] * (3 - ndim)
        Image.fromarray(np.full((8, 8, 3), 40 * k, np.uint8)).save(run / "elites" / f"cell_{idx}.png")
        row = {"index": idx, "objective": 10.0 + k, "image": f"elites/cell_{idx}.png"}
        for d, dim in enumerate(["valence", "arousal", "dominance"]):
            if d < ndim:
                row[f"cell_{dim[0]}"] = cell[d]
            row[dim] = round(centre[d], 6)
            row[f"{dim}_sd"] = 0.1
            row[f"critic_{dim}"] = round(centre[d] + 0.05, 6) if critic else ""
        row["critic_same_cell"] = 1 if critic else ""
        row["critic_within_one"] = 1 if critic else ""
        lines.append(",".join(str(row[h]) for h in header))
    with open(run / "archive.csv", "w", encoding="utf-8", newline="") as f:
        f.write(newline.join(lines) + newline)
    return run


def _set_table(run: Path, text: str) -> None:
    (run / "archive.csv").write_text(text, encoding="utf-8")


def _listing(run: Path) -> list[tuple[str, int]]:
    return sorted((str(p.relative_to(run)), p.stat().st_size) for p in run.rglob("*"))


def test_good_run_folder(tmp_path):
    run_dir = write_run(tmp_path)
    run = read_run(run_dir, require=("objective", "image"), check_images=True)
    assert run.name == "run" and run.n == 3 and run.notes == []
    assert run.grid.name == "vad" and run.grid.cells == [4, 3, 2] and not run.grid.binned
    assert run.grid.dims == ["valence", "arousal", "dominance"] and run.grid.ranges == [(-1.0, 1.0)] * 3
    assert run.coords == [[0, 0, 0], [3, 2, 1], [1, 2, 0]]
    assert run.indices == [int(np.ravel_multi_index(c, (4, 3, 2))) for c in run.coords]
    assert run.lines == [2, 3, 4]
    assert run.value("objective", 1) == 11.0 and math.isnan(run.value("no_such_column", 0))
    assert run.image_path(2) == run_dir / "elites" / f"cell_{run.indices[2]}.png" and run.image_path(2).is_file()
    assert run.columns["image"][0] == f"elites/cell_{run.indices[0]}.png"
    assert run.grid.centre(run.coords[1]) == pytest.approx([0.75, 2 / 3, 0.5])
    assert run.proxy_dims() == ["dominance"]
    assert read_manifest(run_dir)["grid"]["cells"] == [4, 3, 2]


def test_grid_geometry_matches_numpy():
    grid = MeasureSpace("vad", ["valence", "arousal", "dominance"], [4, 3, 2], [(-1.0, 1.0), (0.0, 3.0), (-1.0, 1.0)])
    for cell in itertools.product(range(4), range(3), range(2)):
        index = grid.ravel(cell)
        assert index == int(np.ravel_multi_index(cell, (4, 3, 2)))
        assert grid.unravel(index) == list(cell)
        assert grid.locate(grid.centre(cell)) == list(cell)
    assert grid.locate([5.0, -5.0, 0.0]) == [3, 0, 1]  # clipped into the grid
    assert grid.locate([0.0, None, 0.0]) is None and grid.locate([0.0, math.nan, 0.0]) is None


def test_crlf_bom_csv_reads_the_same(tmp_path):
    plain = read_run(write_run(tmp_path, name="lf"))
    crlf = write_run(tmp_path, name="crlf", newline="\r\n")
    raw = (crlf / "archive.csv").read_bytes()
    assert b"\r\n" in raw
    (crlf / "archive.csv").write_bytes(b"\xef\xbb\xbf" + raw + b"\r\n\r\n")  # BOM and trailing blank lines
    other = read_run(crlf)
    assert other.coords == plain.coords and other.columns == plain.columns and other.lines == plain.lines


def test_two_d_grid_and_cells_from_measures(tmp_path):
    run = read_run(write_run(tmp_path, cells=(5, 4), filled=((0, 0), (4, 3), (2, 1))))
    assert run.grid.name == "va" and run.grid.cells == [5, 4] and run.coords == [[0, 0], [4, 3], [2, 1]]
    # without cell_* columns the elites are placed by their measures, and that is noted
    path = write_run(tmp_path, name="nocells")
    rows = list(csv.DictReader(open(path / "archive.csv", newline="")))
    with open(path / "archive.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=[h for h in HEADER if not h.startswith("cell_")], extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)
    again = read_run(path)
    assert again.coords == [[0, 0, 0], [3, 2, 1], [1, 2, 0]] and "recomputed from the measures" in again.notes[0]


def test_cvt_run_is_binned_by_its_measures(tmp_path):
    path = write_run(tmp_path)
    man = json.loads((path / "manifest.json").read_text())
    man["grid"] = {"name": "cvt", "dims": ["valence", "arousal", "dominance"], "cells": [200], "ranges": None}
    (path / "manifest.json").write_text(json.dumps(man))
    text = (path / "archive.csv").read_text()
    run = read_run(path)
    assert run.grid.binned and run.grid.cells == [10, 10, 5]
    assert run.coords == [[1, 1, 1], [8, 8, 3], [3, 8, 1]]  # the cell centres of the 4x3x2 grid, binned
    _set_table(path, text.replace("0.75,0.666667,0.5", ",0.666667,0.5"))
    with pytest.raises(DataError, match=r"archive\.csv: line 3: empty or non-finite valence, arousal, dominance"):
        read_run(path)


@pytest.mark.parametrize("manifest, match", [
    (None, r"manifest\.json: missing"),
    ("{not json", r"manifest\.json: not valid JSON"),
    ("[1, 2]", r"manifest\.json: expected a JSON object, got list"),
    ({"status": "complete"}, r"manifest\.json: missing 'grid'"),
    ({"grid": {"name": "hex"}}, r"grid\.name must be one of vad, va, cvt"),
    ({"grid": {"name": "vad", "dims": ["valence", "joy"]}}, r"grid\.dims must list some of"),
    ({"grid": {"name": "vad", "cells": [4, 3]}}, r"grid\.cells must be 3 positive integers"),
    ({"grid": {"name": "vad", "cells": [4, 0, 2]}}, r"grid\.cells must be 3 positive integers"),
    ({"grid": {"name": "vad", "cells": [4, 3, 2], "ranges": [[1, -1]] * 3}}, r"lo < hi"),
    ({"grid": {"name": "vad", "cells": [4, 3, 2], "ranges": "wide"}}, r"grid\.ranges must be \[\[lo, hi\]"),
])
def test_corrupt_manifest_names_file_and_problem(tmp_path, manifest, match):
    path = write_run(tmp_path)
    target = path / "manifest.json"
    if manifest is None:
        target.unlink()
    else:
        target.write_text(manifest if isinstance(manifest, str) else json.dumps(manifest), encoding="utf-8")
    before = _listing(path)
    with pytest.raises(DataError, match=match) as err:
        read_run(path)
    assert str(target) in str(err.value)
    assert _listing(path) == before  # nothing written


def test_missing_folder_and_table(tmp_path):
    with pytest.raises(DataError, match="nope: run folder not found"):
        read_run(tmp_path / "nope")
    path = write_run(tmp_path)
    (path / "archive.csv").unlink()
    with pytest.raises(DataError, match=r"archive\.csv: missing .*has not saved its archive yet"):
        read_run(path)
    (path / "manifest.json").unlink()
    with pytest.raises(DataError, match=r"archive\.csv: missing .*a run folder written by `qdemo evolve`"):
        read_run(path)


@pytest.mark.parametrize("table, require, match", [
    ("", (), r"empty file \(expected a header row"),
    ("idx,objective\n0,5\n", (), r"missing column\(s\) 'index' \(found: idx, objective\)"),
    ("index,cell_v,cell_a,cell_d\n0,0,0,0\n", ("objective", "image"), r"missing column\(s\) 'objective', 'image'"),
    ("index,objective\n0,5\n", (), r"missing column\(s\) 'cell_v', 'cell_a', 'cell_d' \(and no valence"),
    ("index,cell_v,cell_a,cell_d,objective\n0,0,0\n", (), r"line 2 has 3 fields, the header has 5"),
    ("index,index,objective\n0,0,5\n", (), r"duplicate column\(s\) 'index'"),
    ("index,cell_v,cell_a,cell_d,objective\n0,0,0,0,abc\n", (), r"line 2, column 'objective': not a number"),
    ("index,cell_v,cell_a,cell_d,objective\n0,0,0,0,\n", (), r"line 2: objective is empty or not finite"),
    ("index,cell_v,cell_a,cell_d,objective\n1.5,0,0,0,5\n", (), r"line 2: 'index' is not an integer \('1.5'\)"),
    ("index,cell_v,cell_a,cell_d,objective\n24,0,0,0,5\n", (), r"line 2: index 24 outside the grid \[4, 3, 2\]"),
    ("index,cell_v,cell_a,cell_d,objective\n0,0,0,0,5\n\n0,0,0,0,6\n", (), r"line 4: index 0 already on line 2"),
    ("index,cell_v,cell_a,cell_d,objective\n0,4,0,0,5\n", (), r"line 2: cell_v=4 outside the grid \(0\.\.3"),
    ("index,cell_v,cell_a,cell_d,objective\n0,0,,0,5\n", (), r"line 2: empty cell coordinate"),
    ("index,cell_v,cell_a,cell_d,objective\n0,0,0.5,0,5\n", (), r"must be whole numbers"),
    ("index,cell_v,cell_a,cell_d,objective\n5,0,0,0,5\n", (), r"line 2: index 5 is not the cell .*\(flat index 0\)"),
])
def test_bad_archive_table_names_file_line_and_problem(tmp_path, table, require, match):
    path = write_run(tmp_path)
    _set_table(path, table)
    before = _listing(path)
    with pytest.raises(DataError, match=match) as err:
        read_run(path, require=require)
    assert str(path / "archive.csv") in str(err.value)
    assert _listing(path) == before


def test_not_utf8_table(tmp_path):
    path = write_run(tmp_path)
    (path / "archive.csv").write_bytes("index,objective\n0,caf\xe9\n".encode("latin-1"))
    with pytest.raises(DataError, match=r"archive\.csv: not UTF-8 text"):
        read_run(path)


def test_missing_or_corrupt_elite_image(tmp_path):
    path = write_run(tmp_path)
    run = read_run(path)
    victim = run.image_path(1)
    victim.unlink()
    read_run(path)  # images are only checked when asked
    with pytest.raises(DataError, match=rf"{victim.name}: elite image missing \(cell {run.indices[1]}, archive\.csv line 3"):
        read_run(path, check_images=True)
    victim.write_bytes(b"GIF89a not a png")
    with pytest.raises(DataError, match=rf"{victim.name}: not a PNG file"):
        read_run(path, check_images=True)
    text = (path / "archive.csv").read_text()
    _set_table(path, text.replace(f"elites/cell_{run.indices[1]}.png", ""))
    with pytest.raises(DataError, match=rf"archive\.csv: line 3: no image for cell {run.indices[1]}"):
        read_run(path, check_images=True)


def test_history_and_reference(tmp_path):
    run = write_run(tmp_path)
    assert read_history(run, missing_ok=True) is None and read_reference(run) == []
    with pytest.raises(DataError, match=r"metrics\.csv: missing"):
        read_history(run)
    (run / "metrics.csv").write_bytes(b"\xef\xbb\xbfiteration,evaluations,coverage,note\r\n1,10,0.25,a\r\n\r\n2,20,,b\r\n")
    hist = read_history(run)
    assert hist["iteration"] == [1.0, 2.0] and hist["evaluations"] == [10.0, 20.0] and hist["note"] == ["a", "b"]
    assert hist["coverage"][0] == 0.25 and math.isnan(hist["coverage"][1])
    (run / "metrics.csv").write_text("iteration,coverage\n1,0.1\n2,lots\n")
    with pytest.raises(DataError, match=r"metrics\.csv: line 3, column 'coverage': not a number \('lots'\)"):
        read_history(run)
    (run / "reference.csv").write_text("source,image,index,valence\nphotos/a.jpg,reference/0000.jpg,3,0.5\n")
    assert read_reference(run) == [{"source": "photos/a.jpg", "image": "reference/0000.jpg", "index": "3",
                                    "valence": "0.5"}]
    (run / "reference.csv").write_text("source,image\na.jpg\n")
    with pytest.raises(DataError, match=r"reference\.csv: line 2 has 1 fields, the header has 2"):
        read_reference(run)


def test_compare_viz_and_web_read_the_same_cells(tmp_path):
    """The three users of the reader see the same elites in the same cells."""
    from qdemo.compare.archive_io import read_archive
    from qdemo.viz.rundata import load_run
    from qdemo.web.archive import RunArchive

    path = write_run(tmp_path, cells=(4, 3, 2), filled=((0, 0, 0), (3, 2, 1), (1, 2, 0), (2, 1, 1)))
    shared = read_run(path)
    by_index = dict(zip(shared.indices, shared.coords))

    viz = load_run(path)
    assert viz.cells.tolist() == shared.coords and viz.grid.cells == [4, 3, 2]
    assert viz.columns["objective"].tolist() == shared.columns["objective"]

    web = RunArchive.open(path)
    assert {i: e["coords"] for i, e in web.elites.items()} == by_index
    assert web.grid.to_json()["cells"] == [4, 3, 2]

    cmp = read_archive(path)
    assert [c.index for c in cmp.cells] == shared.indices and cmp.cells_shape == [4, 3, 2]
    for c in cmp.cells:
        assert list(c.target) == pytest.approx(shared.grid.centre(by_index[c.index]))
        assert c.image.is_file()
    (path / "elites" / f"cell_{shared.indices[0]}.png").unlink()
    with pytest.raises(DataError, match="elite image missing"):  # compare needs every elite image
        read_archive(path)
    assert load_run(path).n == 4  # the plots mark a missing thumbnail instead


def test_reader_is_standard_library_only():
    code = "import sys, qdemo.runfolder; print(sorted(m for m in ('numpy', 'torch', 'PIL') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.strip() == "[]", out.stderr
