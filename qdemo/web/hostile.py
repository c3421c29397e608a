"""A seeded hostile client of both servers: ``python -m qdemo.web.load_bench --hostile N``.

Starts ``qdemo browse`` (a demo archive and comparison folder) and ``qdemo rate`` (a demo
stimulus set) on 127.0.0.1 and sends ``N`` requests from a few keep-alive clients, as a
hostile but realistic user would: every route with its real field names, numbers past
float and int range (also inside arrays and objects), nesting thousands deep, strings for
numbers, Unicode digits, over-long and traversing path segments, unknown methods, foreign
``Host`` headers, wrong content types, ``Content-Length`` with ``Transfer-Encoding`` and
malformed request lines, mixed with valid requests. Reported: the status histogram, the
slowest answer, and every 5xx or answer slower than :data:`SLOW_S` (a failure).
"""

from __future__ import annotations

import http.client
import json
import random
import socket
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import quote

SLOW_S = 5.0
"""An answer slower than this is a failure."""
PARTICIPANTS = ("p1", "p2", "p3")

_LITERALS = ("1e400", "-1e400", "1e-400", "9" * 5000, "1" * 31, "-0", "5.0", "5e0", "0.5", "-5", "NaN", "Infinity",
             '"5"', '"\u0663"', '"\u00b2"', "true", "null", '""', '"' + "a" * 70 + '"', "[]", "{}", "4", "0", "9")
_SEGMENTS = ("0", "1", "2", "p1", "9" * 5000, "\u0663", "%C2%B2", "%D9%A3", "-1", "1e3", "0x1", "..", "%2e%2e",
             "%00", "%ff%fe", "a" * 300, "%C3%A9" * 200, "%2F", "", "%2F%2Fetc", "elites", "cell_0.png", "common.css",
             ".", "..%5c..", "COM1", "x.png", "reference", "%252e%252e")
_METHODS = ("GET", "POST", "HEAD", "PUT", "DELETE", "OPTIONS", "PATCH", "TRACE", "CONNECT", "FOO", "M-SEARCH")
_RAW = (b"GET / HTTP/9.9\r\nHost: HOST\r\n\r\n", b"GET\r\n\r\n", b"GET / HTTP/1.1 x\r\nHost: HOST\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: HOST\r\nX: " + b"a" * 70000 + b"\r\n\r\n", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\r\n\r\n",
        b"POST /api/rate HTTP/1.1\r\nHost: HOST\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n{}",
        b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\nHost: HOST\r\n\r\n",
        "GET /image/p1/\u0663 HTTP/1.1\r\nHost: HOST\r\n\r\n".encode(),  # raw UTF-8 in the request line
        "GET /static/\u00e9\u00e9 HTTP/1.1\r\nHost: HOST\r\n\r\n".encode())
"""Requests no ordinary client library writes (bad versions, lines, framing, a TLS hello)."""


def _value(rng: random.Random) -> str:
    """A JSON value as text: valid scores, strings for numbers, out-of-range numbers (bare or in
    containers), nesting up to 3000 deep."""
    r = rng.random()
    if r < 0.35:
        return str(rng.randint(-1, 10))
    lit = rng.choice(_LITERALS)
    if r < 0.7:
        return lit
    if r < 0.85:
        return rng.choice(("[%s]", '{"a": %s}', "[[%s, 2]]", '{"x": {"y": [%s]}}')) % lit
    depth = rng.choice((rng.randint(1, 100), rng.randint(900, 1000), rng.randint(1000, 3000)))
    return "[" * depth + lit + "]" * depth


def _rate_body(rng: random.Random) -> bytes:
    """A rating with one or two real fields changed, sometimes one dropped or an unknown one added."""
    from qdemo.web.rate import RATE_FIELDS

    fields = {"participant": json.dumps(rng.choice(PARTICIPANTS)), "position": str(rng.randint(0, 5)),
              "valence": str(rng.randint(1, 9)), "arousal": str(rng.randint(1, 9)), "dominance": "5"}
    if rng.random() < 0.5:
        fields["rt_ms"] = str(rng.randint(0, 5000))
    for _ in range(rng.randint(0, 2)):
        fields[rng.choice((*RATE_FIELDS, "rt_ms"))] = _value(rng)
    if rng.random() < 0.1:
        fields.pop(rng.choice(list(fields)))
    if rng.random() < 0.1:
        fields[rng.choice(("extra", "Position", "valence ", ""))] = _value(rng)
    return ("{" + ", ".join(f"{json.dumps(k)}: {v}" for k, v in fields.items()) + "}").encode()


def _session_body(rng: random.Random) -> bytes:
    if rng.random() < 0.5:
        return json.dumps({"participant": rng.choice(PARTICIPANTS)}).encode()
    extra = ', "extra": 1' if rng.random() < 0.3 else ""
    return ('{"participant": %s%s}' % (_value(rng) if rng.random() < 0.8 else '"p1"', extra)).encode()


def _path(rng: random.Random, server: str) -> str:
    seg = lambda: rng.choice(_SEGMENTS) if rng.random() < 0.6 else str(rng.randint(0, 40))  # noqa: E731
    if server == "rate":
        pos, pid = seg(), rng.choice((*PARTICIPANTS, seg()))
        return rng.choice((f"/api/trial?participant={pid}&position={pos}", f"/image/{pid}/{pos}", "/api/study",
                           "/api/session", "/api/rate", "/", f"/static/{seg()}", f"/{seg()}",
                           f"/api/trial?participant={pid}&position={pos}&position=1&x={seg()}"))
    tail = "/".join(seg() for _ in range(rng.randint(1, 3))) + rng.choice(("", ".png", ".json", ".js"))
    return rng.choice(("/api/archives", f"/api/archive/{seg()}/cells", f"/api/archive/0/cell/{seg()}", "/",
                       f"/files/archive/{seg()}/{tail}", f"/files/archive/0/elites/{tail}",
                       f"/files/compare/0/{tail}", f"/static/{tail}", f"/static/{seg()}"))


def hostile_request(rng: random.Random, server: str, port: int) -> tuple[str, str, dict[str, str], bytes]:
    """(method, path, headers, body) of one request to ``server`` ('browse' or 'rate'); the path
    is ASCII (other characters percent-encoded as a browser does)."""
    path = quote(_path(rng, server), safe="/?&=%")
    method = "POST" if path in ("/api/rate", "/api/session") else "GET"
    if rng.random() < 0.15:  # mostly the route's own method, sometimes any other
        method = rng.choice(_METHODS)
    headers = {"Host": f"127.0.0.1:{port}"}
    body = b""
    if method == "POST" or rng.random() < 0.05:
        body = _rate_body(rng) if path == "/api/rate" or rng.random() < 0.3 else _session_body(rng)
        headers["Content-Type"] = rng.choice(("application/json",) * 8 + ("text/plain", "", "APPLICATION/JSON"))
    r = rng.random()
    if r < 0.04:
        headers["Host"] = rng.choice(("evil.example", f"evil.example:{port}", "", f"localhost:{port + 1}"))
    elif r < 0.06 and body:
        headers["Transfer-Encoding"] = "chunked"  # with the Content-Length http.client adds: refused
    elif r < 0.08:
        headers[rng.choice(("Expect", "Connection", "Origin", "Range"))] = rng.choice(
            ("100-continue", "close", "http://evil.example", "bytes=0-1"))
    return method, path, headers, body


def _raw(port: int, data: bytes) -> int:
    """Send ``data`` on a fresh connection; the status answered (0 when none)."""
    with socket.create_connection(("127.0.0.1", port), timeout=SLOW_S) as s:
        try:
            s.sendall(data.replace(b"HOST", b"127.0.0.1:%d" % port))
        except OSError:  # the server may close before all of a too-long line is sent
            pass
        resp = http.client.HTTPResponse(s)
        try:
            resp.begin()
            resp.read()
        except (http.client.HTTPException, OSError):
            return 0
        return resp.status


def _client(k: int, n: int, seed: int, ports: dict[str, int], out: dict[str, Any], lock: threading.Lock) -> None:
    try:
        _requests(k, n, seed, ports, out, lock)
    except Exception as exc:  # noqa: BLE001 - a broken client must fail the benchmark, not vanish
        with lock:
            out["bad"].append(f"client {k} stopped: {type(exc).__name__}: {exc}")


def _requests(k: int, n: int, seed: int, ports: dict[str, int], out: dict[str, Any], lock: threading.Lock) -> None:
    rng = random.Random(seed * 1000 + k)
    conns = {name: http.client.HTTPConnection("127.0.0.1", port, timeout=SLOW_S) for name, port in ports.items()}
    hist: Counter = Counter()
    bad: list[str] = []
    slowest = 0.0
    for _ in range(n):
        server = rng.choice(("browse", "rate"))
        t0 = time.perf_counter()
        if rng.random() < 0.01:
            data = rng.choice(_RAW)
            status, what = _raw(ports[server], data), repr(data[:60])
        else:
            method, path, headers, body = hostile_request(rng, server, ports[server])
            what = f"{method} {path[:80]} {body[:80]!r}"
            conn = conns[server]
            try:
                conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
                for key, value in headers.items():
                    conn.putheader(key, value)
                conn.putheader("Content-Length", str(len(body)))
                conn.endheaders(body)
                resp = conn.getresponse()
                resp.read()
                status = resp.status
                if resp.will_close:
                    conn.close()
            except (http.client.HTTPException, OSError) as exc:
                status, what = 0, f"{what}: {type(exc).__name__}"
                conn.close()
        elapsed = time.perf_counter() - t0
        slowest = max(slowest, elapsed)
        hist[status] += 1
        if status >= 500 or status == 0 or elapsed > SLOW_S:
            bad.append(f"{server}: {what} -> {status or 'no answer'} in {elapsed:.2f} s")
    for conn in conns.values():
        conn.close()
    with lock:
        out["hist"].update(hist)
        out["bad"].extend(bad)
        out["slowest_s"] = max(out["slowest_s"], slowest)


def run_hostile(n: int, work: Path, *, seed: int = 0, clients: int = 4) -> dict[str, Any]:
    """Send ``n`` hostile requests to both servers; {"hist", "bad", "slowest_s", "wall_s", "n"}."""
    from qdemo.web.browse import BrowseApp
    from qdemo.web.demo import make_demo_archive, make_demo_compare, make_demo_stimuli
    from qdemo.web.rate import RateApp
    from qdemo.web.server import Server

    run = make_demo_archive(work / "runs" / "run_a", cells=(4, 4, 2), fill=0.8, seed=3, reference=3, image_size=8)
    comp = make_demo_compare(work / "cmp", run, k=1)
    stim = make_demo_stimuli(work / "study", n=6, size=8)
    out: dict[str, Any] = {"hist": Counter(), "bad": [], "slowest_s": 0.0, "n": n}
    lock = threading.Lock()
    with Server(BrowseApp([run], compare=[comp])) as browse, Server(RateApp(stim, work / "r.sqlite")) as rate:
        ports = {"browse": browse.httpd.server_address[1], "rate": rate.httpd.server_address[1]}
        for pid in PARTICIPANTS[:2]:  # p3 never gets a session
            conn = http.client.HTTPConnection("127.0.0.1", ports["rate"], timeout=SLOW_S)
            conn.request("POST", "/api/session", json.dumps({"participant": pid}), {"Content-Type": "application/json"})
            conn.getresponse().read()
            conn.close()
        shares = [n // clients + (1 if k < n % clients else 0) for k in range(clients)]
        threads = [threading.Thread(target=_client, args=(k, shares[k], seed, ports, out, lock)) for k in range(clients)]
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        out["wall_s"] = time.perf_counter() - t0
    if sum(out["hist"].values()) != n:
        out["bad"].append(f"{sum(out['hist'].values())} of {n} requests sent")
    return out


def format_hostile(res: dict[str, Any]) -> str:
    """The status histogram and the verdict, as printed by the benchmark."""
    lines = [f"hostile: {res['n']} requests to browse and rate in {res['wall_s']:.1f} s "
             f"({res['n'] / res['wall_s']:.0f}/s); slowest answer {1000 * res['slowest_s']:.1f} ms",
             "status  requests"]
    for status, count in sorted(res["hist"].items()):
        lines.append(f"{status or 'none':>6}  {count:>8}")
    if res["bad"]:
        lines.append(f"FAILED: {len(res['bad'])} answers were 5xx, missing or slower than {SLOW_S:g} s:")
        lines += ["  " + b for b in res["bad"][:20]]
    else:
        lines.append(f"no 5xx, every request answered, none slower than {SLOW_S:g} s")
    return "\n".join(lines)


__all__ = ["SLOW_S", "format_hostile", "hostile_request", "run_hostile"]
