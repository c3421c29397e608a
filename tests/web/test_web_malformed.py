"""Malformed numbers and requests get a 4xx naming the problem, never HTTP 500 (issue 19)."""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

import pytest

from qdemo.web import BrowseApp, RateApp
from qdemo.web.params import OutOfRange, ParamError, json_number_hooks, parse_index, parse_number, parse_whole

BIG = "9" * 5000  # more digits than int() converts (4300): ValueError before the fix


@pytest.mark.parametrize("value", ["\u00b2", "\u0663", "\uff13", "1\u00b9", "", " 3", "3 ", "+3", "-1", "0x1", "3.0",
                                   "1_000", BIG, "1" * 10, None, True, -1, 2.0, 10 ** 9, [3], {"a": 1}])
def test_parse_index_refuses(value):
    with pytest.raises(ParamError, match=r"^cell index must be a whole number >= 0 written with the digits 0-9"):
        parse_index(value, "cell index")


def test_parse_index_accepts_ascii_digits_and_json_integers():
    assert parse_index("0", "i") == 0 and parse_index("007", "i") == 7 and parse_index("9" * 9, "i") == 999_999_999
    assert parse_index(12, "i") == 12
    assert parse_index("1" * 18, "Content-Length", digits=18) == int("1" * 18)


@pytest.mark.parametrize("value, message", [
    (5.0, "an integer from 1 to 9 (a whole number, written without a decimal point), got 5.0"),
    (4.5, "an integer from 1 to 9 (a whole number, written without a decimal point), got 4.5"),
    (float("inf"), "got Infinity"), (float("nan"), "got NaN"), ("5", "got '5'"), (True, "got true"),
    (None, "got nothing"), (OutOfRange("1e400"), "got 1e400 (out of range)"),
    (0, "must be from 1 to 9, got 0"), (10 ** 5000, "must be from 1 to 9, got an integer of about 5001 digits"),
], ids=lambda v: "huge-int" if isinstance(v, int) and v > 10 ** 15 else None)
def test_parse_whole_refuses_with_the_field_name(value, message):
    with pytest.raises(ParamError) as info:
        parse_whole(value, "valence", 1, 9)
    assert str(info.value).startswith("valence must be") and message in str(info.value)


def test_parse_number_and_json_hooks():
    assert parse_number(812, "rt_ms", 0, 1e8) == 812.0 and parse_number(0.5, "rt_ms", 0, 1e8) == 0.5
    for bad in (-1, 1e9, float("inf"), "3", False, 10 ** 400, OutOfRange("-1e999")):
        with pytest.raises(ParamError, match="^rt_ms must be a number"):
            parse_number(bad, "rt_ms", 0, 1e8)
    data = json.loads('{"a": 1e400, "b": -1e400, "c": 1e-400, "d": %s, "e": 12, "f": 2.5}' % BIG, **json_number_hooks())
    assert isinstance(data["a"], OutOfRange) and data["a"].text == "1e400" and isinstance(data["b"], OutOfRange)
    assert data["c"] == 0.0 and isinstance(data["d"], OutOfRange) and data["e"] == 12 and data["f"] == 2.5


def test_routes_parse_numbers_in_one_place():
    """No route converts numbers itself: int() / isdigit / Unicode \\d patterns stay out of the apps."""
    root = Path(__file__).resolve().parents[2] / "qdemo" / "web"
    for name in ("browse.py", "rate.py"):
        src = (root / name).read_text()
        assert not re.search(r"\bint\(req|\.isdigit\(|\\d", src), name
        assert "parse_index(" in src, name


def _raw(client, method: str, path: str, body: bytes | None = None, ctype: str = "application/json"):
    headers = {"Content-Type": ctype} if body is not None else {}
    return client.request(method, path, body, headers)


def _rating(**change) -> bytes:
    body = {"participant": "p1", "position": 0, "valence": 5, "arousal": 5, "dominance": 5}
    body.update(change)
    return json.dumps(body).encode()


def _raw_rating(field: str, literal: str) -> bytes:
    fields = {"participant": '"p1"', "position": "0", "valence": "5", "arousal": "5", "dominance": "5"}
    fields[field] = literal
    return ("{" + ", ".join(f'"{k}": {v}' for k, v in fields.items()) + "}").encode()


BROWSE_MALFORMED = [  # (path, expected status)
    (f"/api/archive/{BIG}/cells", 400), (f"/api/archive/0/cell/{BIG}", 400),
    (f"/files/archive/{BIG}/elites/cell_0.png", 400), (f"/files/compare/{BIG}/x.png", 400),
    ("/api/archive/1234567890/cells", 400), ("/api/archive/999999999/cells", 404),
    ("/api/archive/%C2%B2/cells", 404), ("/api/archive/%D9%A3/cells", 404), ("/api/archive/-1/cells", 404),
    ("/api/archive/0/cell/-3", 404), ("/api/archive/0/cell/1e3", 404), ("/api/archive/0/cell/999999999", 404),
    ("/files/archive/0/%ff%fe.png", 404), ("/files/archive/0/elites/%00.png", 403), ("//[", 404),
    ("/api/archive/0x1/cells", 404),
]

RATE_MALFORMED = [  # (method, path, body, expected status)
    ("GET", "/api/trial?participant=p1&position=%C2%B2", None, 400),
    ("GET", "/api/trial?participant=p1&position=%D9%A3", None, 400),
    ("GET", f"/api/trial?participant=p1&position={BIG}", None, 400),
    ("GET", "/api/trial?participant=p1&position=", None, 400),
    ("GET", "/api/trial?participant=p1", None, 400),
    ("GET", "/api/trial?participant=p1&position=6", None, 400),
    ("GET", "/api/trial?participant=%C2%B2&position=0", None, 400),
    ("GET", f"/image/p1/{BIG}", None, 400), ("GET", "/image/p1/999999999", None, 400),
    ("GET", "/image/p1/%C2%B2", None, 404), ("GET", "/image/nobody/0", None, 400),
    ("POST", "/api/rate", _raw_rating("valence", "1e400"), 400),
    ("POST", "/api/rate", _raw_rating("arousal", "-1e400"), 400),
    ("POST", "/api/rate", _raw_rating("dominance", BIG), 400),
    ("POST", "/api/rate", _raw_rating("position", BIG), 400),
    ("POST", "/api/rate", _raw_rating("position", "1e400"), 400),
    ("POST", "/api/rate", _raw_rating("valence", "5.0"), 400),
    ("POST", "/api/rate", _raw_rating("valence", "5e0"), 400),
    ("POST", "/api/rate", _rating(position="\u00b2"), 400),
    ("POST", "/api/rate", _rating(position="\u0663"), 400),
    ("POST", "/api/rate", _rating(rt_ms=1e300), 400),
    ("POST", "/api/rate", _raw_rating("participant", BIG), 400),
    ("POST", "/api/rate", b"[" * 30000, 400), ("POST", "/api/rate", b'{"a": ' * 5000, 400),
    ("POST", "/api/session", b'{"participant": 1e400}', 400),
    ("POST", "/api/session", ("{\"participant\": %s}" % BIG).encode(), 400),
]


def test_no_malformed_request_is_a_server_error(run_dir: Path, stim_dir: Path, tmp_path: Path, serve, capfd):
    """~40 malformed requests over both servers: each a 4xx with a JSON reason; nothing stored."""
    _, browse = serve(BrowseApp([run_dir]))
    _, rate = serve(RateApp(stim_dir, tmp_path / "r.sqlite"))
    assert rate.json("POST", "/api/session", {"participant": "p1"})[0] == 200
    seen = []
    for path, want in BROWSE_MALFORMED:
        status, raw, ctype = _raw(browse, "GET", path)
        seen.append((path[:60], status, want))
        assert ctype.startswith("application/json") and json.loads(raw)["error"], path[:60]
    for method, path, body, want in RATE_MALFORMED:
        status, raw, ctype = _raw(rate, method, path, body)
        seen.append(((body or path.encode())[:60], status, want))
        assert ctype.startswith("application/json") and json.loads(raw)["error"], path[:60]
        assert "internal error" not in json.loads(raw)["error"]
    assert len(seen) >= 40
    assert [s for s in seen if s[1] >= 500] == []
    assert [s for s in seen if s[1] != s[2]] == []
    assert "Traceback" not in capfd.readouterr().err
    assert sqlite3.connect(tmp_path / "r.sqlite").execute("SELECT COUNT(*) FROM ratings").fetchone()[0] == 0
    # both servers still answer
    assert browse.request("GET", "/api/archives")[0] == 200
    assert rate.json("POST", "/api/rate", json.loads(_rating()))[0] == 200


def test_the_errors_name_the_field(run_dir: Path, stim_dir: Path, tmp_path: Path, serve):
    _, browse = serve(BrowseApp([run_dir]))
    _, rate = serve(RateApp(stim_dir, tmp_path / "r.sqlite"))
    rate.json("POST", "/api/session", {"participant": "p1"})
    cases = [
        (browse, "GET", f"/api/archive/{BIG}/cells", None, "archive number must be a whole number"),
        (browse, "GET", f"/api/archive/0/cell/{BIG}", None, "cell index must be a whole number"),
        (browse, "GET", f"/files/archive/{BIG}/a.png", None, "archive number must be a whole number"),
        (browse, "GET", f"/files/compare/{BIG}/a.png", None, "comparison folder number must be"),
        (rate, "GET", "/api/trial?participant=p1&position=%C2%B2", None, "position must be a whole number"),
        (rate, "GET", f"/image/p1/{BIG}", None, "position must be a whole number"),
        (rate, "POST", "/api/rate", _raw_rating("valence", "1e400"), "valence must be an integer from 1 to 9, got 1e400"),
        (rate, "POST", "/api/rate", _raw_rating("valence", "5.0"), "valence must be an integer from 1 to 9 (a whole"),
        # in a JSON body a number is a JSON number: "٣" and "5" are refused as strings, as for the scores
        (rate, "POST", "/api/rate", _rating(position="\u0663"), "position must be an integer from 0 to 5, got '\u0663'"),
        (rate, "POST", "/api/rate", _rating(position="5"), "position must be an integer from 0 to 5, got '5'"),
        (rate, "POST", "/api/rate", _rating(rt_ms=1e300), "rt_ms must be a number of milliseconds from 0 to"),
    ]
    for client, method, path, body, message in cases:
        status, raw, _ = _raw(client, method, path, body)
        assert status == 400 and message in json.loads(raw)["error"], (path[:50], body and body[:60], raw[:200])


def _send_raw(srv, head: bytes) -> bytes:
    import socket

    host, port = srv.httpd.server_address[:2]
    with socket.create_connection((host, port), timeout=10) as s:
        s.sendall(head.replace(b"HOST", b"127.0.0.1:%d" % port))
        reply = b""
        while chunk := s.recv(4096):  # the server closes the connection after such a request
            reply += chunk
        return reply


def test_bad_content_length_and_request_line_are_refused(run_dir: Path, serve):
    srv, _ = serve(BrowseApp([run_dir]))
    for length in ("\u0663".encode(), b"9" * 5000, b"-1", b"1e3"):
        reply = _send_raw(srv, b"POST /api/archives HTTP/1.1\r\nHost: HOST\r\nContent-Length: %s\r\n\r\n" % length)
        assert reply.startswith(b"HTTP/1.1 400") and b"Content-Length must be a whole number" in reply, reply[:300]
    # absolute form with an unclosed IPv6 bracket: urlsplit raised ValueError (HTTP 500)
    reply = _send_raw(srv, b"GET http://[/api/archives HTTP/1.1\r\nHost: HOST\r\n\r\n")
    assert reply.startswith(b"HTTP/1.1 400") and b"malformed request path" in reply, reply[:300]
