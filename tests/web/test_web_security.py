"""Only files under the served folders are reachable; bad ratings are refused with a reason."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import pytest

from qdemo.errors import DataError
from qdemo.web import BrowseApp, PathRefused, RateApp, resolve_under

SECRET = b"top secret outside the served folder"


@pytest.fixture()
def secret(tmp_path: Path) -> Path:
    p = tmp_path / "secret.png"
    p.write_bytes(SECRET)
    return p


def test_resolve_under_refuses_traversal(tmp_path: Path, secret: Path):
    root = tmp_path / "root"
    (root / "sub").mkdir(parents=True)
    (root / "sub" / "ok.png").write_bytes(b"ok")
    assert resolve_under(root, "sub/ok.png").read_bytes() == b"ok"
    assert resolve_under(root, "sub%2Fok.png").read_bytes() == b"ok"  # decoded once
    for bad in ["../secret.png", "sub/../../secret.png", "%2e%2e/secret.png", "%2E%2E%2Fsecret.png",
                "sub/%2e%2e/%2e%2e/secret.png", str(secret), "%2F" + str(secret).lstrip("/"),
                "..%5csecret.png", "sub/./ok.png", "sub//ok.png", "sub/ok.png%00.png"]:
        with pytest.raises(PathRefused):
            resolve_under(root, bad)
    os.symlink(secret, root / "sub" / "link.png")
    with pytest.raises(PathRefused):
        resolve_under(root, "sub/link.png")
    os.symlink(root / "sub" / "ok.png", root / "inside.png")  # a link that stays inside is fine
    assert resolve_under(root, "inside.png").read_bytes() == b"ok"
    with pytest.raises(FileNotFoundError):
        resolve_under(root, "sub/missing.png")
    with pytest.raises(FileNotFoundError):
        resolve_under(root, "sub")  # a folder is not a file
    # double encoding is decoded once only: '%2e%2e' becomes a literal (missing) name
    with pytest.raises(FileNotFoundError):
        resolve_under(root, "%252e%252e/secret.png")


BROWSE_ATTACKS = [
    "/files/archive/0/../secret.png",
    "/files/archive/0/../../secret.png",
    "/files/archive/0/%2e%2e/%2e%2e/secret.png",
    "/files/archive/0/%2E%2E%2F%2E%2E%2Fsecret.png",
    "/files/archive/0/elites/..%2f..%2f..%2fsecret.png",
    "/files/archive/0/%2F{abs}",
    "/files/archive/0//{abs}",
    "/files/archive/0/elites/escape.png",          # symlink out of the run folder
    "/files/archive/0/..%5c..%5csecret.png",
    "/static/../../secret.png",
    "/static/%2e%2e/%2e%2e/%2e%2e/secret.png",
    "/files/archive/0/manifest.json",              # inside, but not an image: refused too
]


def test_browse_refuses_paths_outside_the_archive(run_dir: Path, secret: Path, serve):
    os.symlink(secret, run_dir / "elites" / "escape.png")
    (run_dir.parent.parent / "secret.png").write_bytes(SECRET)  # next to the runs/ folder too
    _, client = serve(BrowseApp([run_dir]))
    for attack in BROWSE_ATTACKS:
        path = attack.format(abs=str(secret).lstrip("/"))
        status, body, ctype = client.request("GET", path)
        assert status in (403, 404), (path, status)
        assert SECRET not in body and b"qdemo_version" not in body, path
        assert ctype.startswith("application/json"), path
        assert "error" in json.loads(body), path
    # the real files are served
    first = next(p for p in sorted((run_dir / "elites").glob("cell_*.png")))
    status, body, ctype = client.request("GET", f"/files/archive/0/elites/{first.name}")
    assert status == 200 and body == first.read_bytes() and ctype == "image/png"
    status, body, _ = client.request("GET", "/files/archive/1/elites/" + first.name)
    assert status == 404


def test_rate_serves_only_the_stimuli(stim_dir: Path, secret: Path, tmp_path: Path, serve):
    app = RateApp(stim_dir, tmp_path / "r.sqlite")
    _, client = serve(app)
    status, data = client.json("POST", "/api/session", {"participant": "p1"})
    assert status == 200
    for path in ["/static/../key.csv", "/static/%2e%2e/%2e%2e/key.csv", "/key.csv", "/stimuli.csv",
                 "/image/p1/../../key.csv", "/image/..%2fkey.csv/0", "/image/p1/99", "/image/nobody/0",
                 "/files/archive/0/key.csv", "/stimuli/s0000.png"]:
        status, body, _ = client.request("GET", path)
        assert status in (400, 403, 404), (path, status)
        assert b"intended_valence" not in body and b"stimulus_id" not in body, path
    status, body, ctype = client.request("GET", "/image/p1/0")
    assert status == 200 and ctype == "image/png" and body[:4] == b"\x89PNG"


def test_stimulus_list_cannot_point_outside(tmp_path: Path, stim_dir: Path, secret: Path):
    (stim_dir / "stimuli.csv").write_text("stimulus_id,file\ns1,../secret.png\n")
    with pytest.raises(DataError, match=r"stimuli\.csv: line 2: file '\.\./secret\.png' refused"):
        RateApp(stim_dir, tmp_path / "r.sqlite")
    (stim_dir / "stimuli.csv").write_text(f"stimulus_id,file\ns1,{secret}\n")
    with pytest.raises(DataError, match="refused"):
        RateApp(stim_dir, tmp_path / "r.sqlite")
    (stim_dir / "stimuli.csv").write_text("stimulus_id,file\ns1,stimuli/nope.png\n")
    with pytest.raises(DataError, match="not found"):
        RateApp(stim_dir, tmp_path / "r.sqlite")
    (stim_dir / "stimuli.csv").write_text("id,path\ns1,stimuli/s0001.png\n")
    with pytest.raises(DataError, match="missing column"):
        RateApp(stim_dir, tmp_path / "r.sqlite")


BAD_RATINGS = [
    ({"valence": 0}, "valence must be from 1 to 9"),
    ({"arousal": 10}, "arousal must be from 1 to 9"),
    ({"dominance": -3}, "dominance must be from 1 to 9"),
    ({"valence": 4.5}, "valence must be an integer"),
    ({"valence": "5"}, "valence must be an integer"),
    ({"valence": True}, "valence must be an integer"),
    ({"valence": None}, "valence must be an integer"),
    ({"valence": [5]}, "valence must be an integer"),
    ({"arousal": 1e308 * 10}, "not valid JSON"),        # json.dumps writes Infinity
    ({"position": 6}, "position must be from 0 to 5, got 6"),
    ({"position": -1}, "position must be from 0 to 5, got -1"),
    ({"position": "x"}, "position must be an integer from 0 to 5, got 'x'"),
    ({"position": "\u00b2"}, "position must be an integer from 0 to 5, got '\u00b2'"),  # ²
    ({"position": "\u0663"}, "position must be an integer from 0 to 5, got '\u0663'"),  # Arabic-Indic 3
    ({"position": "5"}, "position must be an integer from 0 to 5, got '5'"),  # strings refused, as for scores
    ({"position": 2.0}, "position must be an integer from 0 to 5 (a whole number"),
    ({"position": None}, "position must be an integer from 0 to 5, got nothing"),
    ({"valence": 5.0}, "valence must be an integer from 1 to 9 (a whole number"),
    ({"valence": 10 ** 25}, "valence must be from 1 to 9, got an integer of about 26 digits"),
    ({"valence": 10 ** 400}, "valence must be an integer from 1 to 9, got 100000000000… (401 characters, out of range)"),
    ({"participant": "../../etc"}, "participant id must be"),
    ({"participant": "a" * 65}, "participant id must be"),
    ({"participant": "stranger"}, "has no session"),
    ({"rt_ms": -5}, "rt_ms must be a number of milliseconds from 0 to"),
    ({"rt_ms": "300"}, "rt_ms must be a number of milliseconds"),
    ({"extra": 1}, "unknown field(s): extra (expected participant, position, valence, arousal, dominance, rt_ms)"),
]


def test_bad_ratings_are_rejected_with_a_reason(stim_dir: Path, tmp_path: Path, serve):
    db = tmp_path / "r.sqlite"
    _, client = serve(RateApp(stim_dir, db))
    assert client.json("POST", "/api/session", {"participant": "p1"})[0] == 200
    good = {"participant": "p1", "position": 0, "valence": 5, "arousal": 5, "dominance": 5}
    for change, message in BAD_RATINGS:
        body = {**good, **change}
        status, raw, ctype = client.request("POST", "/api/rate", json.dumps(body),
                                            {"Content-Type": "application/json"})
        assert status == 400, (change, status, raw)
        assert ctype.startswith("application/json")
        assert message in json.loads(raw)["error"], (change, raw)
    for raw_body, message in [(b"", "empty"), (b"{not json", "not valid JSON"), (b"[1, 2]", "expected a JSON object"),
                              (b'{"valence": NaN}', "not valid JSON"), (b"\xff\xfe", "not UTF-8"),
                              (b"[" * 20000, "nested too deeply"),
                              (b'{"participant": "p1", "position": 0, "valence": 1e400, "arousal": 5, "dominance": 5}',
                               "valence must be an integer from 1 to 9, got 1e400 (out of range)")]:
        status, raw, _ = client.request("POST", "/api/rate", raw_body, {"Content-Type": "application/json"})
        assert status == 400 and message in json.loads(raw)["error"], (raw_body, raw)
    missing = {k: v for k, v in good.items() if k != "dominance"}
    status, data = client.json("POST", "/api/rate", missing)
    assert status == 400 and "missing field(s): dominance" in data["error"]
    status, raw, _ = client.request("POST", "/api/rate", b"x" * (70 * 1024), {"Content-Type": "application/json"})
    assert status == 413
    # a cross-site form / text POST (no JSON content type) is refused before anything is read
    status, raw, _ = client.request("POST", "/api/rate", json.dumps(good), {"Content-Type": "text/plain"})
    assert status == 415 and "application/json" in json.loads(raw)["error"]
    # nothing of the above reached the database; the good rating does
    assert sqlite3.connect(db).execute("SELECT COUNT(*) FROM ratings").fetchone()[0] == 0
    status, data = client.json("POST", "/api/rate", good)
    assert status == 200 and data["ok"] and data["done"] == 1
    rows = sqlite3.connect(db).execute("SELECT participant, valence, arousal, dominance FROM ratings").fetchall()
    assert rows == [("p1", 5, 5, 5)]


def test_sql_is_parameterised(stim_dir: Path, tmp_path: Path, serve):
    """Quotes in ids and values never change a statement (ids are validated, values bound)."""
    from qdemo.web.ratings import RatingStore

    store = RatingStore(tmp_path / "q.sqlite")
    ids = ["a'b", 'c"; DROP TABLE ratings; --', "d"]
    order, _ = store.session("p-1", ids, 0)
    for i, sid in enumerate(order):
        store.rate("p-1", sid, i, {"valence": 1, "arousal": 2, "dominance": 3})
    assert store.count() == 3
    assert set(store.ratings_of("p-1")) == set(ids)
    store.close()
    src = (Path(__file__).resolve().parents[2] / "qdemo" / "web" / "ratings.py").read_text()
    assert "execute(f" not in src and '% (' not in src and ".format(" not in src


def test_loopback_server_refuses_foreign_host_headers(run_dir: Path, serve):
    """DNS rebinding: a page of evil.example resolved to 127.0.0.1 must not read the archive."""
    srv, client = serve(BrowseApp([run_dir]))
    port = srv.httpd.server_address[1]
    status, body, _ = client.request("GET", "/api/archives", headers={"Host": f"evil.example:{port}"})
    assert status == 403 and b"Host" in body and b"run_a" not in body
    for host in (f"127.0.0.1:{port}", f"localhost:{port}"):
        assert client.request("GET", "/api/archives", headers={"Host": host})[0] == 200
