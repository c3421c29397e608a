"""The JSON APIs of browse and rate, the rating store, export and validate (no browser)."""

from __future__ import annotations

import csv
import json
import math
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from qdemo.errors import DataError
from qdemo.web import BrowseApp, RateApp, RatingStore, export_csv, run_validate
from qdemo.web.demo import make_demo_archive, make_demo_compare


def _archive_rows(run: Path) -> dict[int, dict[str, str]]:
    with open(run / "archive.csv", newline="") as f:
        return {int(r["index"]): r for r in csv.DictReader(f)}


def test_browse_api_matches_the_archive(run_dir: Path, tmp_path: Path, serve):
    comp = make_demo_compare(tmp_path / "cmp", run_dir, k=2)
    other = make_demo_archive(tmp_path / "runs" / "run_b", cells=(5, 5), seed=9, critic=False, reference=0,
                              image_size=16)
    _, client = serve(BrowseApp([run_dir, other], compare=[comp]))
    status, info = client.json("GET", "/api/archives")
    assert status == 200
    a, b = info["archives"]
    rows = _archive_rows(run_dir)
    assert a["name"] == "run_a" and a["n_elites"] == len(rows) and a["grid"]["cells"] == [4, 4, 2]
    assert a["n_samples"] == 2 * len(rows) and a["n_photos"] == 5
    assert b["grid"]["cells"] == [5, 5] and b["n_samples"] == 0
    # which dimensions are human-rated (the page marks dominance as a proxy from this)
    assert a["proxy"] == ["dominance"] and a["human_rated"] == ["valence", "arousal"]

    status, cells = client.json("GET", "/api/archive/0/cells")
    assert status == 200 and len(cells["cells"]) == len(rows)
    for c in cells["cells"]:
        r = rows[c["index"]]
        assert c["coords"] == [int(r["cell_v"]), int(r["cell_a"]), int(r["cell_d"])]
        assert int(np.ravel_multi_index(c["coords"], (4, 4, 2))) == c["index"]
        assert c["objective"] == pytest.approx(float(r["objective"]))
        assert c["vad"] == pytest.approx([float(r[d]) for d in ("valence", "arousal", "dominance")])
        crit = [float(r[f"critic_{d}"]) for d in ("valence", "arousal", "dominance")]
        dist = math.dist(crit, c["vad"])
        assert c["critic_distance"] == pytest.approx(dist)
        assert c["agreement"] == pytest.approx(max(0.0, 1 - min(dist, 1.0)))
        assert c["url"] == f"/files/archive/0/elites/cell_{c['index']}.png"

    idx = cells["cells"][0]["index"]
    status, cell = client.json("GET", f"/api/archive/0/cell/{idx}")
    assert status == 200 and cell["elite"]["index"] == idx
    assert len(cell["samples"]) == 2 and all(s["url"].startswith("/files/compare/0/samples/") for s in cell["samples"])
    assert client.request("GET", cell["samples"][0]["url"])[0] == 200
    # nearest photos really are the nearest by searcher VAD
    with open(run_dir / "reference.csv", newline="") as f:
        ref = list(csv.DictReader(f))
    vad = cell["elite"]["vad"]
    want = sorted(ref, key=lambda p: math.dist(vad, [float(p[d]) for d in ("valence", "arousal", "dominance")]))
    assert [p["url"].rsplit("/", 1)[1] for p in cell["photos"]] == [p["image"].rsplit("/", 1)[1] for p in want[:4]]
    assert client.request("GET", cell["photos"][0]["url"])[0] == 200

    status, data = client.json("GET", "/api/archive/1/cells")
    assert status == 200 and all(c["critic"] is None and c["agreement"] is None for c in data["cells"])
    empty = next(i for i in range(32) if i not in rows)
    status, data = client.json("GET", f"/api/archive/0/cell/{empty}")
    assert status == 404 and "empty" in data["error"]
    assert client.json("GET", "/api/archive/7/cells")[0] == 404
    assert client.request("POST", "/api/archives")[0] == 405
    status, body, ctype = client.request("GET", "/")
    assert status == 200 and ctype.startswith("text/html") and b"browse.js" in body
    for asset in ("browse.js", "browse_slots.js", "browse.css", "common.css"):
        assert client.request("GET", f"/static/{asset}")[0] == 200


def test_browse_cell_names_what_the_critic_sees(run_dir: Path, serve):
    """classes.json (written by the confirmation) reaches the cell panel; a cell without an entry gets []."""
    from qdemo.runfolder import write_classes

    rows = _archive_rows(run_dir)
    first, *rest = sorted(rows)
    parts = [{"backbone": "efficientnet-lite1", "resolution": 240, "semantic": True, "norms_from": "stored",
              "classes": [{"class": "tarantula", "index": 76, "probability": 0.41, "norms": [-0.52, 0.61, -0.3]}]}]
    app = BrowseApp([run_dir])
    _, client = serve(app)
    assert client.json("GET", f"/api/archive/0/cell/{first}")[1]["classes"] == []  # no classes.json yet
    write_classes(run_dir, [first], [parts], model="critic-x")
    status, cell = client.json("GET", f"/api/archive/0/cell/{first}")
    assert status == 200 and cell["classes"] == parts  # re-read when the file appears
    assert client.json("GET", f"/api/archive/0/cell/{rest[0]}")[1]["classes"] == []


def test_browse_rereads_a_run_being_written(run_dir: Path, serve):
    app = BrowseApp([run_dir])
    _, client = serve(app)
    n0 = len(client.json("GET", "/api/archive/0/cells")[1]["cells"])
    lines = (run_dir / "archive.csv").read_text().splitlines()
    (run_dir / "archive.csv").write_text("\n".join(lines[:-2]) + "\n")
    assert len(client.json("GET", "/api/archive/0/cells")[1]["cells"]) == n0 - 2


def test_browse_bad_folders_name_the_problem(tmp_path: Path, run_dir: Path):
    with pytest.raises(DataError, match="no archive.csv"):
        BrowseApp([tmp_path])
    with pytest.raises(DataError, match="no samples.csv"):
        BrowseApp([run_dir], compare=[tmp_path])
    (run_dir / "archive.csv").write_text("index,cell_v,objective\n1,2,3\n")
    with pytest.raises(DataError, match=r"archive\.csv: missing column\(s\) 'valence', 'arousal', 'image'"):
        BrowseApp([run_dir])


def test_cvt_archive_is_binned_by_vad(tmp_path: Path, serve):
    run = make_demo_archive(tmp_path / "cvt", cells=(3, 3, 3), seed=1, reference=0, image_size=8)
    man = json.loads((run / "manifest.json").read_text())
    man["grid"] = {"name": "cvt", "dims": ["valence", "arousal", "dominance"], "cells": 27, "ranges": None}
    (run / "manifest.json").write_text(json.dumps(man))
    _, client = serve(BrowseApp([run]))
    data = client.json("GET", "/api/archive/0/cells")[1]
    assert data["grid"]["binned"] and data["grid"]["cells"] == [10, 10, 5]
    for c in data["cells"]:
        assert c["coords"] == [min(n - 1, int((x + 1) / 2 * n)) for x, n in zip(c["vad"], (10, 10, 5))]


def test_rating_session_order_resume_and_resubmission(stim_dir: Path, tmp_path: Path, serve):
    db = tmp_path / "r.sqlite"
    _, client = serve(RateApp(stim_dir, db, seed=4))
    s1 = client.json("POST", "/api/session", {"participant": "alice"})[1]
    assert s1 == {"participant": "alice", "total": 6, "done": 0, "next": 0, "resumed": False}
    order_a = RatingStore(db).order("alice")
    client.json("POST", "/api/session", {"participant": "bob"})
    assert sorted(order_a) == [f"s{i:04d}" for i in range(6)]
    assert RatingStore(db).order("bob") != order_a  # seeded per participant
    for pos in (0, 1):
        st, res = client.json("POST", "/api/rate", {"participant": "alice", "position": pos,
                                                    "valence": 2 + pos, "arousal": 7, "dominance": 5, "rt_ms": 812})
        assert st == 200 and res["new"] and res["done"] == pos + 1 and res["next"] == pos + 1
    # resubmission updates the same row
    st, res = client.json("POST", "/api/rate", {"participant": "alice", "position": 0,
                                                "valence": 9, "arousal": 1, "dominance": 1})
    assert st == 200 and not res["new"] and res["done"] == 2
    rows = sqlite3.connect(db).execute(
        "SELECT stimulus_id, valence, arousal, dominance, revisions FROM ratings WHERE participant='alice' "
        "ORDER BY position").fetchall()
    assert rows == [(order_a[0], 9, 1, 1, 1), (order_a[1], 3, 7, 5, 0)]
    trial = client.json("GET", "/api/trial?participant=alice&position=0")[1]
    assert trial["rating"] == {"valence": 9, "arousal": 1, "dominance": 1} and trial["image"] == "/image/alice/0"
    # a new server on the same database continues the same order where alice stopped
    _, client2 = serve(RateApp(stim_dir, db, seed=4))
    s2 = client2.json("POST", "/api/session", {"participant": "alice"})[1]
    assert s2["resumed"] and s2["done"] == 2 and s2["next"] == 2
    assert RatingStore(db).order("alice") == order_a
    assert sqlite3.connect(db).execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    # the image at each position is the stimulus of that position
    _, body, _ = client2.request("GET", "/image/alice/3")
    assert body == (stim_dir / "stimuli" / f"{order_a[3]}.png").read_bytes()


def test_database_belongs_to_one_study(stim_dir: Path, tmp_path: Path, image_dir: Path):
    db = tmp_path / "r.sqlite"
    RateApp(stim_dir, db).close()
    with pytest.raises(DataError, match="another stimulus set"):
        RateApp(image_dir, db)
    with pytest.raises(DataError, match="--seed 0, not 3"):
        RateApp(stim_dir, db, seed=3)
    bad = tmp_path / "junk.sqlite"
    bad.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(DataError, match="junk.sqlite: not a usable SQLite database"):
        RateApp(stim_dir, bad)


def test_plain_image_folder_is_a_study(image_dir: Path, tmp_path: Path, serve):
    (image_dir / "notes.txt").write_text("not an image")
    outside = tmp_path / "outside.png"
    outside.write_bytes((image_dir / "img0.png").read_bytes())
    import os

    os.symlink(outside, image_dir / "escape.png")  # leads out of the folder: not a stimulus
    app = RateApp(image_dir, tmp_path / "r.sqlite")
    assert sorted(s.id for s in app.stimuli) == [f"img{i}.png" for i in range(6)]
    _, client = serve(app)
    client.json("POST", "/api/session", {"participant": "x"})
    st, body, ctype = client.request("GET", "/image/x/5")
    assert st == 200 and ctype == "image/png"


def _fill(db: Path, stim_dir: Path, key: dict[str, dict[str, str]], noise: float, n_participants: int = 3):
    from qdemo.web.ratings import load_stimuli

    rng = np.random.default_rng(0)
    ids = [s.id for s in load_stimuli(stim_dir)]
    store = RatingStore(db)
    store.bind_study(stim_dir, ids, 0)
    given = []
    for p in range(n_participants):
        order, _ = store.session(f"p{p}", ids, 0)
        for i, sid in enumerate(order):
            sc = {d: int(np.clip(round(float(key[sid][f"intended_{d}"]) * 4 + 5 + rng.normal(0, noise)), 1, 9))
                  for d in ("valence", "arousal", "dominance")}
            store.rate(f"p{p}", sid, i, sc, 500.0)
            given.append((f"p{p}", sid, sc))
    store.close()
    return given


def test_export_and_validate(stim_dir: Path, tmp_path: Path, capsys):
    with open(stim_dir / "key.csv", newline="") as f:
        key = {r["stimulus_id"]: r for r in csv.DictReader(f)}
    db = tmp_path / "r.sqlite"
    given = _fill(db, stim_dir, key, noise=0.7)
    out = tmp_path / "ratings.csv"
    assert export_csv(db, out) == len(given) == 18
    with open(out, newline="") as f:
        exported = list(csv.DictReader(f))
    assert {(r["participant"], r["stimulus_id"]) for r in exported} == {(p, s) for p, s, _ in given}
    for r in exported:
        assert float(r["valence_canonical"]) == (int(r["valence"]) - 5) / 4

    res = run_validate(db, out=tmp_path / "val")  # key.csv found through the recorded stimulus folder
    printed = capsys.readouterr().out
    assert "all        intended   valence" in printed
    for name in ("validate.json", "validate.csv", "validate.png"):
        assert (tmp_path / "val" / name).stat().st_size > 100
    # recompute 'all / intended / valence' by hand
    means: dict[str, list[float]] = {}
    for p, sid, sc in given:
        means.setdefault(sid, []).append((sc["valence"] - 5) / 4)
    sids = sorted(means)
    h = np.array([np.mean(means[s]) for s in sids])
    t = np.array([float(key[s]["intended_valence"]) for s in sids])
    a = res["agreement"]["all"]["intended"]["valence"]
    assert a["n"] == 6 and a["r"] == pytest.approx(np.corrcoef(h, t)[0, 1]) and a["mae"] == pytest.approx(np.abs(h - t).mean())
    assert set(res["agreement"]) == {"elite", "generator", "photo", "all"}
    assert res["agreement"]["elite"]["predicted"]["arousal"]["n"] == 2
    saved = json.loads((tmp_path / "val" / "validate.json").read_text())
    assert saved["agreement"]["all"]["intended"]["valence"]["r"] == pytest.approx(a["r"])


def test_validate_errors_name_the_file(tmp_path: Path, stim_dir: Path):
    from qdemo.cli import main

    assert main(["validate", "--db", str(tmp_path / "none.sqlite")]) == 2
    db = tmp_path / "r.sqlite"
    RateApp(stim_dir, db).close()
    with pytest.raises(DataError, match="no ratings yet"):
        run_validate(db)
    with pytest.raises(DataError, match="key file not found"):
        run_validate(db, key=tmp_path / "k.csv")
    (tmp_path / "k.csv").write_text("id,src\n")
    with pytest.raises(DataError, match=r"k\.csv: missing column\(s\) 'stimulus_id', 'source'"):
        run_validate(db, key=tmp_path / "k.csv")


def test_cli_export(stim_dir: Path, tmp_path: Path, capsys):
    from qdemo.cli import main

    with open(stim_dir / "key.csv", newline="") as f:
        key = {r["stimulus_id"]: r for r in csv.DictReader(f)}
    db = tmp_path / "r.sqlite"
    _fill(db, stim_dir, key, noise=1.0, n_participants=1)
    assert main(["rate", "--export", str(tmp_path / "o.csv"), "--db", str(db)]) == 0
    assert "exported 6 ratings" in capsys.readouterr().out
    assert main(["rate", "--export", str(tmp_path / "o.csv"), "--db", str(tmp_path / "missing.sqlite")]) == 2
    assert "ratings database not found" in capsys.readouterr().err


def test_servers_do_not_import_torch():
    """browse / rate start fast and light: the web layer imports no torch at module level."""
    import subprocess
    import sys

    code = ("import sys, qdemo.web, qdemo.cli.web, qdemo.web.browse, qdemo.web.rate; "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"
