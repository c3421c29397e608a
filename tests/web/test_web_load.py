"""Load on loopback: 20 raters at once, 100 ratings each -> every rating stored exactly once."""

from __future__ import annotations

import http.client
import json
import sqlite3
import threading
import time
from pathlib import Path

import numpy as np
from PIL import Image

from qdemo.web import RateApp

N_RATERS, N_RATINGS = 20, 100


def test_twenty_simultaneous_raters(tmp_path: Path, serve):
    folder = tmp_path / "imgs"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(N_RATINGS):
        Image.fromarray((rng.random((4, 4, 3)) * 255).astype(np.uint8)).save(folder / f"i{i:03d}.png")
    db = tmp_path / "load.sqlite"
    srv, _ = serve(RateApp(folder, db))
    host, port = srv.httpd.server_address[:2]
    assert host == "127.0.0.1"
    expected: dict[tuple[str, int], tuple[int, int, int]] = {}
    errors: list[str] = []
    start = threading.Barrier(N_RATERS)

    def rater(k: int) -> None:
        pid = f"rater{k:02d}"
        conn = http.client.HTTPConnection(host, port, timeout=30)  # keep-alive, like a browser
        try:
            def post(path: str, body: dict) -> dict:
                conn.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
                resp = conn.getresponse()
                data = json.loads(resp.read())
                if resp.status != 200:
                    raise AssertionError(f"{pid}: {resp.status} {data}")
                return data

            start.wait(timeout=30)
            post("/api/session", {"participant": pid})
            for pos in range(N_RATINGS):
                v, a, d = 1 + (k + pos) % 9, 1 + (k * 3 + pos) % 9, 1 + (pos * 7) % 9
                post("/api/rate", {"participant": pid, "position": pos, "valence": v, "arousal": a,
                                   "dominance": d, "rt_ms": 100 + pos})
                expected[(pid, pos)] = (v, a, d)
                if pos % 10 == 0:  # a double submit (impatient double click): must not duplicate
                    post("/api/rate", {"participant": pid, "position": pos, "valence": v, "arousal": a,
                                       "dominance": d})
        except Exception as exc:  # reported below
            errors.append(repr(exc))
        finally:
            conn.close()

    t0 = time.perf_counter()
    threads = [threading.Thread(target=rater, args=(k,)) for k in range(N_RATERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    elapsed = time.perf_counter() - t0
    assert not any(t.is_alive() for t in threads), "raters still running after 120 s"
    assert not errors, errors[:3]
    con = sqlite3.connect(db)
    rows = con.execute("SELECT participant, position, valence, arousal, dominance, revisions FROM ratings").fetchall()
    assert len(rows) == N_RATERS * N_RATINGS
    assert len({(p, pos) for p, pos, *_ in rows}) == len(rows)
    dup = con.execute("SELECT COUNT(*) FROM (SELECT participant, stimulus_id FROM ratings "
                      "GROUP BY participant, stimulus_id HAVING COUNT(*) > 1)").fetchone()[0]
    assert dup == 0
    for p, pos, v, a, d, rev in rows:
        assert (v, a, d) == expected[(p, pos)]
        assert rev == (1 if pos % 10 == 0 else 0)
    # every participant rated each of the 100 stimuli once
    per = con.execute("SELECT participant, COUNT(DISTINCT stimulus_id) FROM ratings GROUP BY participant").fetchall()
    assert sorted(per) == [(f"rater{k:02d}", N_RATINGS) for k in range(N_RATERS)]
    print(f"{N_RATERS * N_RATINGS * 1.1:.0f} requests in {elapsed:.1f} s "
          f"({N_RATERS * N_RATINGS * 1.1 / elapsed:.0f}/s)")


def test_bench_reports_latency_throughput_and_the_hostile_histogram(capsys):
    """The benchmark command itself, at tiny sizes: every part prints, the hostile client meets no 5xx."""
    from qdemo.web.load_bench import main

    assert main(["--single", "5", "--raters", "2", "--ratings", "3", "--repeats", "1", "--hostile", "400"]) == 0
    out = capsys.readouterr().out
    assert "one client, one keep-alive connection: GET /api/trial  x 5: latency median" in out
    assert "one client, one keep-alive connection: POST /api/rate  x 5: latency median" in out
    assert "repeat 1: 2 raters x 3 ratings" in out and "all 6 stored once" in out
    assert "hostile: 400 requests to browse and rate" in out and "status  requests" in out
    counts = {int(line.split()[0]): int(line.split()[1]) for line in out.splitlines()
              if line.strip() and line.split()[0].isdigit() and len(line.split()) == 2}
    assert sum(counts.values()) == 400 and counts.get(200, 0) > 0 and counts.get(400, 0) > 0
    assert max(counts) < 500 and "no 5xx, every request answered" in out


def test_hostile_client_is_seeded():
    import random

    from qdemo.web.hostile import hostile_request

    def draw(seed: int) -> list:
        rng = random.Random(seed)
        return [hostile_request(rng, server, 8000) for server in ("rate", "browse") * 20]

    a = draw(7)
    assert a == draw(7) and a != draw(8)
    assert all(path.isascii() for _, path, _, _ in a)
    assert {m for m, *_ in a} >= {"GET", "POST"} and any(b"position" in body for *_, body in a)
