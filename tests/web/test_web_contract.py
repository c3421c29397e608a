"""Contract with the explorer: a run folder written by the real `qdemo evolve` (tiny models)
is read by `qdemo browse` exactly as docs/formats.md says."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from qdemo.web import BrowseApp

TINY = ["--searcher", "tiny", "--critic", "tiny:1", "--resolution", "16", "--batch-size", "8",
        "--set", "emitter.num_emitters=2", "--no-dataset", "--quiet", "--device", "cpu", "--no-plots"]


def test_browse_reads_a_real_evolve_run(tmp_path: Path, serve):
    from qdemo.cli import main

    rc = main(["evolve", *TINY, "--iterations", "2", "--grid", "vad", "--cells", "4,4,2", "--emitter", "map-elites",
               "--renderer", "pixels", "--out", str(tmp_path), "--name", "real", "--seed", "1"])
    if rc != 0:
        pytest.fail(f"qdemo evolve failed (rc {rc}): the archive contract cannot be checked")
    run = tmp_path / "real"
    _, client = serve(BrowseApp([run]))
    status, info = client.json("GET", "/api/archives")
    assert status == 200
    man = json.loads((run / "manifest.json").read_text())
    a = info["archives"][0]
    assert a["grid"]["cells"] == man["grid"]["cells"] == [4, 4, 2] and not a["grid"]["binned"]
    with open(run / "archive.csv", newline="") as f:
        rows = {int(r["index"]): r for r in csv.DictReader(f)}
    assert rows and a["n_elites"] == len(rows)
    cells = client.json("GET", "/api/archive/0/cells")[1]["cells"]
    assert {c["index"] for c in cells} == set(rows)
    for c in cells:
        r = rows[c["index"]]
        assert c["coords"] == [int(r["cell_v"]), int(r["cell_a"]), int(r["cell_d"])]
        assert c["objective"] == pytest.approx(float(r["objective"]))
        assert c["critic"] is not None and c["spread"] is not None  # critic confirmation ran
        status, body, ctype = client.request("GET", c["url"])
        assert status == 200 and ctype == "image/png" and body[:4] == b"\x89PNG"
    status, cell = client.json("GET", f"/api/archive/0/cell/{cells[0]['index']}")
    assert status == 200 and cell["elite"]["index"] == cells[0]["index"]
