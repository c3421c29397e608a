"""Property-based fuzzing of every endpoint of both servers with the real field names (issue 25).

Hypothesis draws request lines, methods, headers, path segments, query values and JSON bodies
(numbers past float and int range, nesting thousands deep, the fields the apps really read,
unknown ones, wrong types); each request must be answered below HTTP 500 within 5 s, errors as
JSON. Derandomised (same examples every run) and small: a few seconds in all.
"""

from __future__ import annotations

import http.client
import json
import socket
import time
from collections import Counter
from pathlib import Path
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qdemo.web import BrowseApp, RateApp
from qdemo.web.demo import make_demo_archive, make_demo_compare, make_demo_stimuli
from qdemo.web.rate import RATE_FIELDS, SESSION_FIELDS
from qdemo.web.server import Server

SLOW_S = 5.0
HISTOGRAM: Counter = Counter()
"""Statuses answered in this module (printed at its end with ``pytest -s``)."""
FIELDS = (*RATE_FIELDS, "rt_ms", *SESSION_FIELDS)
FUZZ = settings(max_examples=80, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                       HealthCheck.data_too_large])


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("fuzz")
    run = make_demo_archive(tmp / "runs" / "run_a", cells=(4, 4, 2), fill=0.8, seed=3, reference=3, image_size=8)
    comp = make_demo_compare(tmp / "cmp", run, k=1)
    stim = make_demo_stimuli(tmp / "study", n=4, size=8)
    browse = Server(BrowseApp([run], compare=[comp])).start()
    rate = Server(RateApp(stim, tmp / "r.sqlite")).start()
    addr = {"browse": browse.httpd.server_address[:2], "rate": rate.httpd.server_address[:2]}
    assert send(addr["rate"], "POST", "/api/session", body=b'{"participant": "p1"}')[0] == 200
    yield addr
    browse.stop()
    rate.stop()
    print(f"\nfuzz: {sum(HISTOGRAM.values())} requests, status histogram: {dict(sorted(HISTOGRAM.items()))}")


def send(addr, method: str, target: str, *, body: bytes = b"", ctype: str = "application/json",
         headers: tuple[tuple[str, str], ...] = (), host: str | None = None) -> tuple[int, bytes]:
    """One request on a fresh connection: (status, body); fails past 5 s, on 5xx and on non-JSON errors."""
    lines = [f"{method} {target} HTTP/1.1", f"Host: {host or '%s:%d' % addr}", f"Content-Length: {len(body)}"]
    lines += [f"Content-Type: {ctype}"] if ctype else []
    lines += [f"{k}: {v}" for k, v in headers]
    t0 = time.monotonic()
    with socket.create_connection(addr, timeout=SLOW_S) as s:
        s.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("utf-8") + body)
        resp = http.client.HTTPResponse(s, method=method)
        resp.begin()
        data = resp.read()
    elapsed = time.monotonic() - t0
    HISTOGRAM[resp.status] += 1
    what = (method, target[:80], body[:80])
    assert resp.status < 500, (what, resp.status, data[:200])
    assert elapsed < SLOW_S, (what, elapsed)
    if resp.status >= 400 and method != "HEAD":
        assert resp.getheader("Content-Type", "").startswith("application/json"), (what, data[:200])
        assert json.loads(data)["error"], what
    assert resp.getheader("Cross-Origin-Resource-Policy") == "same-origin", what
    return resp.status, data


class Raw(str):
    """A JSON literal written as is (``1e400``, a 5000-digit integer, ``[[[...]]]``)."""


def render(v) -> str:
    if isinstance(v, Raw):
        return str(v)
    if isinstance(v, list):
        return "[" + ", ".join(render(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{json.dumps(k)}: {render(x)}" for k, x in v.items()) + "}"
    return json.dumps(v)  # NaN / Infinity included: refused by the server


LITERALS = st.sampled_from(["1e400", "-1e400", "1e-400", "9" * 5000, "1" * 31, "-0", "5.0", "5e0", "0.5", "1E2",
                            "-5", "4.999999999999999999", "NaN", "-Infinity", "0" * 40 + "5"]).map(Raw)
LEAF = st.one_of(st.none(), st.booleans(), st.integers(), st.integers(-10 ** 40, 10 ** 40), st.floats(),
                 st.text(max_size=30), st.sampled_from(["p1", "", "../x", "\u0663", "\u00b2", "5", "0", "a" * 65]),
                 st.integers(0, 9), LITERALS)
VALUE = st.recursive(LEAF, lambda inner: st.lists(inner, max_size=4)
                     | st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=8), inner, max_size=4), max_leaves=12)
NESTED = st.builds(lambda depth, v: Raw("[" * depth + render(v) + "]" * depth), st.integers(1, 3000), VALUE)
CONTAINED = st.builds(lambda v, wrap: [v] if wrap else {"a": v}, LITERALS, st.booleans())  # [1e400], {"a": 1e400}
FIELD_VALUE = st.one_of(VALUE, NESTED, CONTAINED)
GOOD = {"participant": "p1", "position": 0, "valence": 5, "arousal": 5, "dominance": 5, "rt_ms": 900}


@st.composite
def bodies(draw) -> bytes:
    kind = draw(st.sampled_from(["mutate"] * 4 + ["fields", "raw", "other"]))
    if kind == "mutate":  # a good rating with one real field changed (so its own check is reached) ...
        body = dict(GOOD)
        body[draw(st.sampled_from(FIELDS))] = draw(FIELD_VALUE)
        if draw(st.integers(0, 3)) == 0:  # ... and sometimes one dropped or one unknown added
            name = draw(st.sampled_from(FIELDS) | st.text(max_size=6))
            body.pop(name, None) if draw(st.booleans()) else body.setdefault(name, draw(FIELD_VALUE))
        return render(body).encode()
    if kind == "fields":
        return render(draw(st.dictionaries(st.sampled_from(FIELDS), FIELD_VALUE, max_size=7))).encode()
    if kind == "raw":
        return draw(st.binary(max_size=120))
    return render(draw(FIELD_VALUE)).encode()


CTYPES = st.sampled_from(["application/json", "application/json; charset=utf-8", "APPLICATION/JSON", "text/plain",
                          "", "multipart/form-data; boundary=x", "application/x-www-form-urlencoded"])
SEGMENT = st.one_of(
    st.integers(0, 10 ** 12).map(str),
    st.sampled_from(["0", "1", "p1", "9" * 5000, "\u0663", "%C2%B2", "%D9%A3", "-1", "1e3", "0x1", "..", "%2e%2e",
                     "%00", "%ff%fe", "a" * 300, "%2F", "", "%2F%2Fetc", "elites", "cell_0.png", "common.css", "."]),
    st.text(max_size=24).map(lambda t: quote(t, safe="")),
    st.builds(lambda n, c: c * n, st.integers(200, 600), st.sampled_from(["a", "%C3%A9", "."])),  # past NAME_MAX
)
QUERY_VALUE = st.one_of(SEGMENT, st.text(max_size=12).map(lambda t: quote(t, safe="")))


BATCH = {"min_size": 1, "max_size": 8}  # requests per example: more distinct requests for the same examples


@FUZZ
@given(st.lists(st.tuples(st.sampled_from(["/api/rate", "/api/session"]), bodies(),
                          st.sampled_from(["application/json", "application/json; charset=utf-8"])), **BATCH))
def test_fuzz_rate_bodies(servers, requests):
    for path, body, ctype in requests:
        send(servers["rate"], "POST", path, body=body, ctype=ctype)


@st.composite
def rate_urls(draw) -> str:
    a, b = draw(QUERY_VALUE), draw(QUERY_VALUE)
    extra = draw(st.lists(st.tuples(st.sampled_from(["participant", "position", "x"]), QUERY_VALUE), max_size=3))
    query = "&".join(f"{k}={v}" for k, v in extra)
    return {"trial": f"/api/trial?participant={a}&position={b}" + (f"&{query}" if query else ""),
            "trial1": f"/api/trial?participant=p1&position={b}", "image": f"/image/{a}/{b}",
            "image1": f"/image/p1/{b}", "study": f"/api/study?{query}",
            "page": f"/?{query}"}[draw(st.sampled_from(["trial", "trial1", "image", "image1", "study", "page"]))]


@FUZZ
@given(st.lists(rate_urls(), **BATCH))
def test_fuzz_rate_urls(servers, targets):
    for target in targets:
        send(servers["rate"], "GET", target, ctype="")


@st.composite
def browse_urls(draw) -> str:
    a = draw(st.sampled_from(["0", "1"]) | SEGMENT)
    tail = "/".join(draw(st.lists(SEGMENT, min_size=1, max_size=4)))
    tail += draw(st.sampled_from(["", ".png", ".PNG", ".json", ".js"]))
    return {"cells": f"/api/archive/{a}/cells", "cell": f"/api/archive/0/cell/{a}",
            "farchive": f"/files/archive/{a}/{tail}", "farchive0": f"/files/archive/0/{tail}",
            "fcompare": f"/files/compare/0/{tail}", "static": f"/static/{tail}", "archives": f"/api/archives?{a}",
            }[draw(st.sampled_from(["cells", "cell", "farchive", "farchive0", "fcompare", "static", "archives"]))]


@FUZZ
@given(st.lists(browse_urls(), **BATCH))
def test_fuzz_browse_urls(servers, targets):
    for target in targets:
        send(servers["browse"], "GET", target, ctype="")


ALL_PATHS = {"browse": ["/", "/api/archives", "/api/archive/0/cells", "/api/archive/0/cell/0",
                        "/files/archive/0/elites/cell_0.png", "/files/compare/0/x.png", "/static/browse.js", "/nope"],
             "rate": ["/", "/api/study", "/api/session", "/api/rate", "/api/trial?participant=p1&position=0",
                      "/image/p1/0", "/static/rate.js", "/nope"]}
HEADERS = st.lists(st.sampled_from([
    ("Connection", "close"), ("Connection", "keep-alive"), ("Expect", "100-continue"), ("Accept", "*/*"),
    ("Origin", "http://evil.example"), ("X-Forwarded-Host", "evil.example"), ("Cookie", "a=1"),
    ("Content-Encoding", "gzip"), ("Range", "bytes=0-1"), ("If-None-Match", "*"), ("Upgrade", "websocket"),
]), max_size=3)


METHODS = (st.sampled_from(["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "TRACE", "CONNECT"])
           | st.from_regex(r"[A-Za-z!#$%&'*+.^_`|~-]{1,12}", fullmatch=True))
HOSTS = st.sampled_from([None, None, None, "evil.example", "localhost", "", "[::1]", "127.0.0.1:1"])


@FUZZ
@given(st.lists(st.tuples(st.sampled_from(["browse", "rate"]), st.integers(0, 7), METHODS, HOSTS, HEADERS,
                          st.one_of(st.just(b""), bodies()), CTYPES), **BATCH))
def test_fuzz_methods_hosts_and_headers(servers, requests):
    for server, index, method, host, headers, body, ctype in requests:
        addr = servers[server]
        if host == "localhost":
            host = "localhost:%d" % addr[1]
        send(addr, method, ALL_PATHS[server][index], body=body, ctype=ctype, headers=tuple(headers), host=host)
