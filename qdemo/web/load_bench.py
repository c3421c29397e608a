"""Loopback benchmarks of the web servers: latency, load, a hostile client.

    python -m qdemo.web.load_bench [--single 500] [--raters 20] [--ratings 100] [--repeats 3]
                              [--hostile 10000] [--seed 0]

Starts a :class:`~qdemo.web.rate.RateApp` on 127.0.0.1 over a temporary folder of tiny
images and a fresh database. First one client on one keep-alive connection (as a browser
uses) sends ``--single`` ``GET /api/trial`` and as many ``POST /api/rate``, one after the
other: median and 95th-percentile latency of each. Then ``--raters`` threads (one
keep-alive connection each) submit ``--ratings`` ratings each at the same time; printed per
repeat: wall time, ratings/s, median and 95th-percentile latency of one rating; then the
median over repeats. Checks afterwards that every rating is stored exactly once. Last,
``--hostile`` requests of a seeded hostile client (:mod:`qdemo.web.hostile`) to both
servers: the status histogram; it fails on any 5xx, unanswered or slower-than-5-s request.
"""

from __future__ import annotations

import argparse
import http.client
import json
import sqlite3
import statistics
import tempfile
import threading
import time
from pathlib import Path


def _image_folder(work: Path, n: int) -> Path:
    """``work/imgs`` with ``n`` tiny seeded PNGs (made once)."""
    import numpy as np
    from PIL import Image

    folder = work / "imgs"
    if not folder.exists():
        folder.mkdir()
        rng = np.random.default_rng(0)
        for i in range(n):
            Image.fromarray((rng.random((4, 4, 3)) * 255).astype(np.uint8)).save(folder / f"i{i:04d}.png")
    return folder


def _rate(host: str, port: int, k: int, ratings: int, barrier: threading.Barrier) -> tuple[list[float], list[str]]:
    """Rater ``k``: opens a session, waits for the others, posts ``ratings`` ratings; (latencies s, errors)."""
    conn = http.client.HTTPConnection(host, port, timeout=60)
    latencies: list[float] = []
    errors: list[str] = []
    try:
        conn.request("POST", "/api/session", json.dumps({"participant": f"r{k}"}),
                     {"Content-Type": "application/json"})
        conn.getresponse().read()
        barrier.wait()
        for pos in range(ratings):
            body = json.dumps({"participant": f"r{k}", "position": pos, "valence": 1 + pos % 9,
                               "arousal": 1 + k % 9, "dominance": 5})
            t0 = time.perf_counter()
            conn.request("POST", "/api/rate", body, {"Content-Type": "application/json"})
            resp = conn.getresponse()
            resp.read()
            latencies.append(time.perf_counter() - t0)
            if resp.status != 200:
                errors.append(f"r{k}: HTTP {resp.status}")
    finally:
        conn.close()
    return latencies, errors


def _pct(values: list[float], q: float) -> float:
    """The ``q`` quantile (0-1) of ``values`` in milliseconds (nearest rank)."""
    ordered = sorted(values)
    return 1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def single_client(n: int, work: Path) -> dict[str, dict[str, float]]:
    """One client, one keep-alive connection: ``n`` trials and ``n`` ratings in turn;
    per request kind its median and p95 latency (ms)."""
    from qdemo.web.rate import RateApp
    from qdemo.web.server import Server

    folder = _image_folder(work, 100)
    times: dict[str, list[float]] = {"GET /api/trial": [], "POST /api/rate": []}
    with Server(RateApp(folder, work / f"single_{time.time_ns()}.sqlite")) as srv:
        conn = http.client.HTTPConnection(*srv.httpd.server_address[:2], timeout=60)
        json_header = {"Content-Type": "application/json"}
        conn.request("POST", "/api/session", json.dumps({"participant": "solo"}), json_header)
        conn.getresponse().read()
        for i in range(n):
            pos = i % 100
            for kind, args in (
                ("GET /api/trial", ("GET", f"/api/trial?participant=solo&position={pos}")),
                ("POST /api/rate", ("POST", "/api/rate", json.dumps(
                    {"participant": "solo", "position": pos, "valence": 1 + i % 9, "arousal": 5, "dominance": 5}),
                    json_header)),
            ):
                t0 = time.perf_counter()
                conn.request(*args)
                resp = conn.getresponse()
                resp.read()
                times[kind].append(time.perf_counter() - t0)
                if resp.status != 200:
                    raise SystemExit(f"bench: FAILED: {kind} answered HTTP {resp.status}")
        conn.close()
    return {k: {"median_ms": _pct(v, 0.5), "p95_ms": _pct(v, 0.95), "n": len(v)} for k, v in times.items()}


def _run_once(raters: int, ratings: int, work: Path) -> dict[str, float]:
    from qdemo.web.rate import RateApp
    from qdemo.web.server import Server

    folder = _image_folder(work, ratings)
    db = work / f"bench_{time.time_ns()}.sqlite"
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(raters + 1)
    with Server(RateApp(folder, db)) as srv:
        host, port = srv.httpd.server_address[:2]

        def rater(k: int) -> None:
            mine, bad = _rate(host, port, k, ratings, barrier)
            with lock:
                latencies.extend(mine)
                errors.extend(bad)

        threads = [threading.Thread(target=rater, args=(k,)) for k in range(raters)]
        for t in threads:
            t.start()
        barrier.wait()
        t0 = time.perf_counter()
        for t in threads:
            t.join()
        wall = time.perf_counter() - t0
    _check_db(db, raters * ratings, errors)
    latencies.sort()
    return {
        "wall_s": wall,
        "ratings_per_s": raters * ratings / wall,
        "latency_median_ms": 1000 * statistics.median(latencies),
        "latency_p95_ms": 1000 * latencies[int(0.95 * (len(latencies) - 1))],
    }


def _check_db(db: Path, expected: int, errors: list[str]) -> None:
    """SystemExit unless ``db`` holds ``expected`` distinct ratings and no request failed."""
    con = sqlite3.connect(db)
    n = con.execute("SELECT COUNT(*) FROM ratings").fetchone()[0]
    distinct = con.execute("SELECT COUNT(DISTINCT participant || '/' || stimulus_id) FROM ratings").fetchone()[0]
    con.close()
    if errors or n != expected or distinct != n:
        raise SystemExit(f"bench: FAILED: {len(errors)} errors, {n} rows, {distinct} distinct "
                         f"(expected {expected})")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m qdemo.web.load_bench", description=__doc__.split("\n\n")[0])
    ap.add_argument("--single", type=int, default=500,
                    help="requests of each kind sent by the single keep-alive client (0: skip)")
    ap.add_argument("--raters", type=int, default=20)
    ap.add_argument("--ratings", type=int, default=100)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--hostile", type=int, default=10_000,
                    help="requests of the seeded hostile client to both servers (0: skip)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the hostile client")
    args = ap.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory(prefix="qdemo-web-bench-") as tmp:
        if args.single > 0:
            for kind, r in single_client(args.single, Path(tmp)).items():
                print(f"one client, one keep-alive connection: {kind:<15} x {r['n']}: latency median "
                      f"{r['median_ms']:.2f} ms, p95 {r['p95_ms']:.2f} ms")
        for i in range(args.repeats):
            r = _run_once(args.raters, args.ratings, Path(tmp))
            rows.append(r)
            print(f"repeat {i + 1}: {args.raters} raters x {args.ratings} ratings in {r['wall_s']:.2f} s = "
                  f"{r['ratings_per_s']:.0f} ratings/s; latency median {r['latency_median_ms']:.1f} ms, "
                  f"p95 {r['latency_p95_ms']:.1f} ms; all {args.raters * args.ratings} stored once")
        if rows:
            med = {k: statistics.median(r[k] for r in rows) for k in rows[0]}
            print(f"median of {args.repeats}: {med['ratings_per_s']:.0f} ratings/s, latency median "
                  f"{med['latency_median_ms']:.1f} ms, p95 {med['latency_p95_ms']:.1f} ms (loopback, SQLite WAL, "
                  "one commit per rating)")
        if args.hostile > 0:
            from qdemo.web.hostile import format_hostile, run_hostile

            (Path(tmp) / "hostile").mkdir()
            res = run_hostile(args.hostile, Path(tmp) / "hostile", seed=args.seed)
            print(format_hostile(res))
            if res["bad"]:
                return 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
