"""Trust boundaries of both servers (issue 25): methods, headers, Host allow-list, framing, one rule."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import socketserver
import subprocess
import sys
from pathlib import Path

import pytest

from qdemo.web import BrowseApp, RateApp
from qdemo.web.server import Server
from qdemo.web.hosts import allowed_host_names, host_allowed
from qdemo.web.wire import SECURITY_HEADERS

ROOT = Path(__file__).resolve().parents[2]


def _exchange(host: str, port: int, method: str, path: str, *, host_header: str | None = None, body=None,
              headers=None):
    conn = http.client.HTTPConnection(host, port, timeout=10)
    try:
        conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        conn.putheader("Host", host_header or f"{host}:{port}")
        for k, v in (headers or {}).items():
            conn.putheader(k, v)
        if body is not None:
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        resp = conn.getresponse()
        return resp.status, dict(resp.getheaders()), resp.read()
    finally:
        conn.close()


def _assert_secure(headers: dict[str, str], what) -> None:
    for k, v in SECURITY_HEADERS.items():
        assert headers.get(k) == v, (what, k, headers)
    assert headers["Cross-Origin-Resource-Policy"] == "same-origin"


@pytest.fixture()
def both(run_dir: Path, stim_dir: Path, tmp_path: Path, serve):
    b, _ = serve(BrowseApp([run_dir]))
    r, rc = serve(RateApp(stim_dir, tmp_path / "r.sqlite"))
    assert rc.json("POST", "/api/session", {"participant": "p1"})[0] == 200
    return {"browse": b.httpd.server_address[:2], "rate": r.httpd.server_address[:2]}


PATHS = {"browse": ["/", "/api/archives", "/api/archive/0/cells", "/files/archive/0/elites/x.png", "/static/common.css",
                    "/nope"],
         "rate": ["/", "/api/study", "/api/session", "/api/rate", "/api/trial?participant=p1&position=0",
                  "/image/p1/0", "/nope"]}


@pytest.mark.parametrize("method", ["OPTIONS", "PATCH", "TRACE", "PUT", "DELETE", "CONNECT", "FOO", "M-SEARCH"])
def test_any_other_method_is_405_with_allow_and_security_headers(both, method):
    """Was HTTP 501 with the standard library's HTML page and no security headers."""
    for name, paths in PATHS.items():
        for path in paths:
            status, headers, body = _exchange(*both[name], method, path)
            assert status == 405, (name, method, path, status, body[:100])
            assert headers["Content-Type"].startswith("application/json") and json.loads(body)["error"]
            allow = set(headers["Allow"].split(", "))
            assert method not in allow and allow <= {"GET", "HEAD", "POST"}, (path, allow)
            _assert_secure(headers, (name, method, path))


def test_allow_names_the_methods_of_the_path(both):
    assert _exchange(*both["rate"], "GET", "/api/rate")[1]["Allow"] == "POST"
    assert _exchange(*both["rate"], "POST", "/api/study")[1]["Allow"] == "GET, HEAD"
    assert _exchange(*both["browse"], "POST", "/static/common.css")[1]["Allow"] == "GET, HEAD"
    status, headers, body = _exchange(*both["rate"], "HEAD", "/api/study")
    assert status == 200 and body == b"" and int(headers["Content-Length"]) > 0


def test_every_response_carries_the_security_headers(both):
    """Files, JSON, 4xx of the apps and protocol errors of the standard library alike."""
    cases = [("browse", "GET", "/static/common.css", None, {}, 200), ("rate", "GET", "/image/p1/0", None, {}, 200),
             ("rate", "GET", "/api/study", None, {}, 200), ("browse", "GET", "/nope", None, {}, 404),
             ("rate", "POST", "/api/rate", b"{}", {"Content-Type": "text/plain"}, 415),
             ("rate", "POST", "/api/rate", b"x" * 70000, {"Content-Type": "application/json"}, 413)]
    for name, method, path, body, headers, want in cases:
        status, got, _ = _exchange(*both[name], method, path, body=body, headers=headers)
        assert status == want, (path, status)
        _assert_secure(got, path)
    status, got, _ = _exchange(*both["rate"], "GET", "/api/study", host_header="evil.example")
    assert status == 403
    _assert_secure(got, "foreign host")
    for line, want in ((b"GET / HTTP/9.9", 400), (b"GET / HTTP/2.0", 400), (b"GET / HTTP/1.1\r\nX: " + b"a" * 70000, 431),
                       (b"GET", 400), (b"GET / HTTP/1.1 extra", 400)):
        reply = _raw(both["rate"], line + b"\r\nHost: HOST\r\n\r\n")
        assert reply.startswith(b"HTTP/1.1 %d" % want) and b"Cross-Origin-Resource-Policy: same-origin" in reply, \
            reply[:200]
        assert b"<html" not in reply.lower() and b'{"error": "malformed request' in reply


def _raw(addr, data: bytes) -> bytes:
    with socket.create_connection(addr, timeout=10) as s:
        s.sendall(data.replace(b"HOST", b"%s:%d" % (addr[0].encode(), addr[1])))
        reply = b""
        while chunk := s.recv(65536):
            reply += chunk
    return reply


def test_content_length_with_transfer_encoding_is_refused(both):
    """Request smuggling: the pair (and two Content-Lengths) is 400, the connection closed."""
    body = b'{"participant": "p9"}'
    head = b"POST /api/session HTTP/1.1\r\nHost: HOST\r\nContent-Type: application/json\r\n"
    for extra, want in ((b"Content-Length: %d\r\nTransfer-Encoding: chunked\r\n" % len(body), 400),
                        (b"Transfer-Encoding: chunked\r\nContent-Length: %d\r\n" % len(body), 400),
                        (b"Content-Length: %d\r\nContent-Length: 3\r\n" % len(body), 400),
                        (b"Transfer-Encoding: chunked\r\n", 411)):
        reply = _raw(both["rate"], head + extra + b"\r\n" + body)
        assert reply.startswith(b"HTTP/1.1 %d" % want) and b"Connection: close" in reply, (extra, reply[:200])
        _assert_secure({k: v for k, _, v in (ln.decode().partition(": ") for ln in reply.split(b"\r\n")[1:] if ln)},
                       extra)
    assert _exchange(*both["rate"], "GET", "/api/trial?participant=p9&position=0")[0] == 400  # never created


def test_host_allow_list():
    names = allowed_host_names("0.0.0.0", ["Lab-PC.local"])
    assert names == {"localhost", "127.0.0.1", "::1", "lab-pc.local"}  # a wildcard is no name
    assert host_allowed("LAB-PC.local:8765", names, 8765) and host_allowed("[::1]:8765", names, 8765)
    for bad in ("evil.example:8765", "lab-pc.local:8766", "lab-pc.local", "", None, "[::1", "127.0.0.1:8765:1",
                "127.0.0.1:+8765", "127.0.0.1:\u0668\u0667\u0666\u0665"):
        assert not host_allowed(bad, names, 8765), bad
    assert host_allowed("localhost", names, 80)  # the port may be left out on 80 only
    assert "127.0.0.2" in allowed_host_names("127.0.0.2")
    with pytest.raises(ValueError, match="--allow-host 'pc:80': give a host name or an IP address"):
        allowed_host_names("127.0.0.1", ["pc:80"])


@pytest.mark.parametrize("bind", ["0.0.0.0", "127.0.0.2"])
def test_host_check_stays_on_for_other_binds(stim_dir: Path, tmp_path: Path, bind):
    """Was: --host 0.0.0.0 / :: / 127.0.0.2 switched the Host check off (DNS rebinding open)."""
    with Server(RateApp(stim_dir, tmp_path / f"{bind}.sqlite"), bind, 0, allow_hosts=("lab-pc",)) as srv:
        port = srv.httpd.server_address[1]
        addr = "127.0.0.1" if bind == "0.0.0.0" else bind
        assert _exchange(addr, port, "GET", "/api/study", host_header=f"evil.example:{port}")[0] == 403
        for name in ("127.0.0.1", "localhost", "lab-pc") + ((bind,) if bind != "0.0.0.0" else ()):
            assert _exchange(addr, port, "GET", "/api/study", host_header=f"{name}:{port}")[0] == 200, name


def _cli_lines(stim_dir: Path, tmp_path: Path, *args: str) -> tuple[str, str]:
    """Start `qdemo rate` with ``args``, wait until it serves, stop it; (stdout, stderr)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "qdemo", "rate", str(stim_dir), "--db", str(tmp_path / "c.sqlite"),
                             "--port", "0", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        out = [proc.stdout.readline() for _ in range(3)]
    finally:
        proc.send_signal(signal.SIGTERM)
        rest, err = proc.communicate(timeout=30)
    return "".join(out) + rest, err


def test_cli_warns_only_for_non_loopback_binds(stim_dir: Path, tmp_path: Path):
    out, err = _cli_lines(stim_dir, tmp_path, "--host", "127.0.0.2")
    assert "serving on http://127.0.0.2:" in out and "reachable from other machines" not in err
    assert "answering requests addressed to 127.0.0.1, 127.0.0.2, ::1, localhost" in out
    out, err = _cli_lines(stim_dir, tmp_path, "--host", "0.0.0.0", "--allow-host", "lab-pc")
    assert "warning: listening on 0.0.0.0, reachable from other machines" in err and "--allow-host" in err
    assert "lab-pc" in out
    proc = subprocess.run([sys.executable, "-m", "qdemo", "rate", str(stim_dir), "--db", str(tmp_path / "c.sqlite"),
                           "--allow-host", "pc:80"], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 2 and "--allow-host 'pc:80': give a host name or an IP address" in proc.stderr


def test_session_and_rate_follow_one_rule(both):
    """Was: /api/session ignored unknown fields and /api/rate took position "5"."""
    addr = both["rate"]
    ctype = {"Content-Type": "application/json"}
    for path, body, message in [
        ("/api/session", {"participant": "p2", "extra": 1}, "unknown field(s): extra (expected participant)"),
        ("/api/session", {}, "missing field(s): participant"),
        ("/api/rate", {"participant": "p1", "position": 0, "valence": 5, "arousal": 5, "dominance": 5, "x": 1},
         "unknown field(s): x"),
        ("/api/rate", {"participant": "p1", "position": "5", "valence": 5, "arousal": 5, "dominance": 5},
         "position must be an integer from 0 to 5, got '5'"),
        ("/api/rate", {"participant": "p1", "position": 0, "valence": "5", "arousal": 5, "dominance": 5},
         "valence must be an integer from 1 to 9, got '5'"),
    ]:
        status, _, raw = _exchange(*addr, "POST", path, body=json.dumps(body).encode(), headers=ctype)
        assert status == 400 and message in json.loads(raw)["error"], (path, body, raw)
    assert _exchange(*addr, "GET", "/api/trial?participant=p2&position=0")[0] == 400  # p2 was never created


def test_each_response_is_one_write_without_nagle(both, monkeypatch):
    """The 44 ms per keep-alive request: headers and body in two writes met the client's
    delayed ACK. Now each response is one write on a TCP_NODELAY socket."""
    writes: list[tuple[bytes, int]] = []
    original = socketserver._SocketWriter.write

    def recording(self, b):
        writes.append((bytes(b), self._sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)))
        return original(self, b)

    monkeypatch.setattr(socketserver._SocketWriter, "write", recording)
    host, port = both["rate"]
    conn = http.client.HTTPConnection(host, port, timeout=10)
    bodies = []
    for path in ("/api/study", "/image/p1/0", "/api/trial?participant=p1&position=1"):
        conn.request("GET", path)
        resp = conn.getresponse()
        bodies.append(resp.read())
        assert resp.status == 200 and not resp.will_close
    conn.close()
    assert len(writes) == 3
    for (data, nodelay), body in zip(writes, bodies):
        assert data.startswith(b"HTTP/1.1 200 OK\r\n") and data.endswith(b"\r\n\r\n" + body) and nodelay
