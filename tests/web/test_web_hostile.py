"""A hostile client (issue 25): no HTTP 500, no hang, no held thread, no leaked detail."""

from __future__ import annotations

import json
import socket
import threading
import time
from pathlib import Path

import pytest

from qdemo.web import BrowseApp, RateApp
from qdemo.web import server as web_server
from qdemo.web import wire
from qdemo.web.demo import make_demo_compare

FIELDS = ("participant", "position", "valence", "arousal", "dominance", "rt_ms")


def _rating_with(field: str, literal: str) -> bytes:
    fields = {"participant": '"p1"', "position": "0", "valence": "5", "arousal": "5", "dominance": "5"}
    fields[field] = literal
    return ("{" + ", ".join(f'"{k}": {v}' for k, v in fields.items()) + "}").encode()


@pytest.fixture()
def rate(stim_dir: Path, tmp_path: Path, serve):
    srv, client = serve(RateApp(stim_dir, tmp_path / "r.sqlite"))
    assert client.json("POST", "/api/session", {"participant": "p1"})[0] == 200
    return srv, client


@pytest.mark.parametrize("field", FIELDS)
@pytest.mark.parametrize("literal", ["[1e400]", '{"a": 1e400}', "[" + "1" * 31 + "]", '[[-1e999, 2]]',
                                     '{"x": {"y": [' + "9" * 5000 + "]}}"])
def test_out_of_range_numbers_inside_containers_are_refused(rate, field, literal):
    """Was HTTP 500 'Object of type OutOfRange is not JSON serializable'."""
    _, client = rate
    status, raw, ctype = client.request("POST", "/api/rate", _rating_with(field, literal),
                                        {"Content-Type": "application/json"})
    assert status == 400 and ctype.startswith("application/json"), (status, raw[:200])
    assert json.loads(raw)["error"].startswith(f"{field} must be" if field != "participant" else "participant id")


@pytest.mark.parametrize("field", FIELDS)
def test_deeply_nested_arrays_are_refused(rate, field):
    """Every depth up to what the JSON parser takes (980 was HTTP 500 RecursionError), then past it."""
    _, client = rate
    for depth in [*range(900, 1001), 1500, 5000]:
        status, raw, _ = client.request("POST", "/api/rate", _rating_with(field, "[" * depth + "]" * depth),
                                        {"Content-Type": "application/json"})
        assert status == 400, (field, depth, raw[:200])
        assert "internal" not in json.loads(raw)["error"]
    status, raw, _ = client.request("POST", "/api/session", ('{"participant": ' + "[" * 980 + "]" * 980 + "}").encode(),
                                    {"Content-Type": "application/json"})
    assert status == 400 and json.loads(raw)["error"].startswith("participant id must be")


@pytest.mark.parametrize("length", [256, 300, 5000])
def test_overlong_path_segments_are_not_found(run_dir: Path, tmp_path: Path, serve, length, capfd):
    """Was HTTP 500 'OSError: File name too long' showing the install and run-folder paths."""
    comp = make_demo_compare(tmp_path / "cmp", run_dir, k=1)
    _, client = serve(BrowseApp([run_dir], compare=[comp]))
    name = "a" * length
    for path in (f"/static/{name}", f"/static/{name}.js", f"/files/archive/0/{name}.png",
                 f"/files/archive/0/elites/{name}.png", f"/files/compare/0/{name}.png",
                 f"/files/compare/0/samples/{name}/x.png", "/files/archive/0/" + "%C3%A9" * (length // 2) + ".png"):
        status, raw, ctype = client.request("GET", path)
        assert status == 404 and ctype.startswith("application/json"), (path[:40], status, raw[:200])
        for leak in (str(run_dir), str(tmp_path), str(web_server.STATIC_DIR), "Errno", "OSError"):
            assert leak.encode() not in raw, (path[:40], raw[:200])
    assert "Traceback" not in capfd.readouterr().err


def test_a_bug_answers_500_without_detail_and_logs_it(stim_dir: Path, tmp_path: Path, serve, capfd):
    """Error bodies never echo exception text: the client gets a short message, the log the detail."""
    app = RateApp(stim_dir, tmp_path / "r.sqlite")

    def broken(req):
        raise OSError(2, "No such file or directory", str(tmp_path / "secret" / "place.png"))

    app.api_study = broken
    _, client = serve(app)
    status, raw, ctype = client.request("GET", "/api/study")
    assert status == 500 and ctype.startswith("application/json")
    assert json.loads(raw) == {"error": "internal server error (the details are in the server's log)"}
    err = capfd.readouterr().err
    assert "secret/place.png" in err and "GET /api/study" in err  # the detail goes to the log


def _connect(srv) -> socket.socket:
    host, port = srv.httpd.server_address[:2]
    return socket.create_connection((host, port), timeout=10)


def _stall(srv, body: bytes = b"{") -> socket.socket:
    """A request whose Content-Length (100) is larger than the body it sends."""
    s = _connect(srv)
    port = srv.httpd.server_address[1]
    s.sendall(b"POST /api/rate HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nContent-Type: application/json\r\n"
              b"Content-Length: 100\r\n\r\n%s" % (port, body))
    return s


def _read_all(s: socket.socket, limit: float) -> tuple[bytes, float]:
    t0 = time.monotonic()
    s.settimeout(limit)
    reply = b""
    try:
        while chunk := s.recv(4096):
            reply += chunk
    except socket.timeout:
        pass
    return reply, time.monotonic() - t0


def test_a_stalled_body_times_out_and_frees_its_thread(stim_dir: Path, tmp_path: Path, serve, monkeypatch):
    """Was: the thread waited for the missing 99 bytes forever (300 such connections held 301 threads)."""
    monkeypatch.setattr(wire, "REQUEST_TIMEOUT_S", 1.0, raising=False)
    srv, client = serve(RateApp(stim_dir, tmp_path / "r.sqlite"))
    before = threading.active_count()
    socks = [_stall(srv) for _ in range(5)]
    replies = [_read_all(s, 6.0) for s in socks]
    for reply, waited in replies:
        assert reply.startswith(b"HTTP/1.1 408") and b"Connection: close" in reply, reply[:200]
        assert waited < 5.0
    for s in socks:
        s.close()
    deadline = time.monotonic() + 5
    while threading.active_count() > before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert threading.active_count() <= before
    # headers dripped a byte at a time are cut off at the same deadline
    s = _connect(srv)
    t0 = time.monotonic()
    try:
        for ch in b"GET /api/study HTTP/1.1\r\nX-Slow: " + b"a" * 100:
            s.sendall(bytes([ch]))
            time.sleep(0.05)
    except OSError:  # the server closed the connection under our feet: what we want
        pass
    reply, _ = _read_all(s, 3.0)
    s.close()
    assert time.monotonic() - t0 < 6.0 and not reply.startswith(b"HTTP/1.1 200"), reply[:200]
    assert client.request("GET", "/api/study")[0] == 200  # and the server still answers


def test_connections_are_bounded(stim_dir: Path, tmp_path: Path, serve, monkeypatch):
    """More stalled connections than MAX_CONNECTIONS: the extra ones get 503 at once, threads stay bounded."""
    monkeypatch.setattr(wire, "MAX_CONNECTIONS", 8, raising=False)
    monkeypatch.setattr(wire, "REQUEST_TIMEOUT_S", 30.0, raising=False)
    srv, client = serve(RateApp(stim_dir, tmp_path / "r.sqlite"))
    before = threading.active_count()
    socks = [_stall(srv) for _ in range(8)]
    time.sleep(0.3)
    extra = [_stall(srv) for _ in range(20)]
    for s in extra:
        reply, waited = _read_all(s, 5.0)
        assert reply.startswith(b"HTTP/1.1 503") and b"Retry-After" in reply and waited < 4.0, reply[:200]
        s.close()
    assert threading.active_count() <= before + 8
    for s in socks:
        s.close()
    deadline = time.monotonic() + 5
    while client.request("GET", "/api/study")[0] != 200 and time.monotonic() < deadline:
        time.sleep(0.1)  # the stalled ones are gone: a slot frees up
    assert client.request("GET", "/api/study")[0] == 200
