"""The HTTP wire of ``qdemo browse`` and ``qdemo rate``: requests in, responses out.

What every request and response of both servers goes through (the routes live in
:mod:`qdemo.web.server` and the apps):

- **Deadlines.** A request (its line, headers and body) must arrive within
  :data:`REQUEST_TIMEOUT_S` of the server starting to wait for it; a body that stops short
  of its ``Content-Length`` gets HTTP 408 and the connection is closed. A keep-alive
  connection idle that long is closed. Writing a response may take :data:`WRITE_TIMEOUT_S`.
- **Bounded connections.** At most :data:`MAX_CONNECTIONS` connections are served at once
  (one thread each); one more is answered HTTP 503 with ``Retry-After`` at once and closed.
- **One send per response.** Status line, headers and body leave in a single write, with
  ``TCP_NODELAY``: a small second write would otherwise wait for the client's delayed ACK
  (about 40 ms per request on a keep-alive connection).
- **Every method answered.** A method that no route takes (``OPTIONS``, ``TRACE``,
  ``PATCH``, anything) is HTTP 405 with an ``Allow`` header; every response, errors included,
  is JSON (or the file asked for) and carries :data:`SECURITY_HEADERS`.
- **Host check.** Only requests whose ``Host`` names the server by an allowed name and its
  port are answered (DNS rebinding gets HTTP 403); see :mod:`qdemo.web.hosts`.
- **No detail leaks.** A bug is HTTP 500 ``internal server error``; the exception and the
  request go to the server's log (stderr), never to the client.
"""

from __future__ import annotations

import io
import json
import socket
import sys
import threading
import time
import traceback
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from qdemo.web.hosts import LOOPBACK_NAMES, host_allowed
from qdemo.web.params import ParamError, json_number_hooks, parse_index

REQUEST_TIMEOUT_S = 10.0
"""Seconds a request (line, headers, body) may take to arrive; also the keep-alive idle limit."""
WRITE_TIMEOUT_S = 10.0
"""Seconds the client may take to accept a response."""
MAX_CONNECTIONS = 64
"""Connections served at once (a thread each); more are answered HTTP 503."""
MAX_BODY = 64 * 1024
"""Largest request body accepted (bytes); bigger ones get HTTP 413."""

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Resource-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
                               "connect-src 'self'; frame-ancestors 'none'",
}
"""Headers of every response (errors and refusals included)."""


class HTTPError(Exception):
    """An error sent to the client as ``{"error": message}`` with ``status`` (and ``headers``).

    A :class:`~qdemo.web.params.ParamError` (a malformed number or id) is sent as HTTP 400.
    """

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = int(status)
        self.message = message
        self.headers = dict(headers or {})


@dataclass
class Request:
    """One parsed HTTP request."""

    method: str
    path: str
    """The raw (still percent-encoded) path, without the query string."""
    query: dict[str, list[str]]
    body: bytes
    headers: Any
    match: Any = None

    def arg(self, name: str, default: str | None = None) -> str | None:
        vals = self.query.get(name)
        return vals[0] if vals else default

    def json(self) -> Any:
        """The body parsed as a JSON object, or HTTP 400 / 415 saying what is wrong with it.

        The request must say ``Content-Type: application/json``: another site's page cannot
        send that cross-origin without a CORS preflight, which this server never grants.
        """
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if ctype != "application/json":
            shown = ctype[:40] if ctype.isprintable() else "unprintable"
            raise HTTPError(415, f"send the body as Content-Type: application/json (got {shown or 'none'!r})")
        if not self.body:
            raise HTTPError(400, "request body is empty: expected a JSON object")
        try:
            data = json.loads(self.body.decode("utf-8"), parse_constant=_reject_constant, **json_number_hooks())
        except UnicodeDecodeError:
            raise HTTPError(400, "request body is not UTF-8") from None
        except RecursionError:
            raise HTTPError(400, "request body is nested too deeply") from None
        except json.JSONDecodeError as exc:
            raise HTTPError(400, f"request body is not valid JSON (line {exc.lineno}, column {exc.colno})") from None
        except ValueError as exc:  # NaN / Infinity (our own message)
            raise HTTPError(400, f"request body is not valid JSON ({exc})") from None
        if not isinstance(data, dict):
            raise HTTPError(400, f"expected a JSON object, got {type(data).__name__}")
        return data


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name[:20]} is not allowed")


@dataclass
class Response:
    """What a handler returns."""

    status: int = 200
    body: bytes = b""
    content_type: str = "application/json; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)


def json_response(obj: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    data = json.dumps(obj, allow_nan=False, default=_default).encode("utf-8")
    return Response(status=status, body=data, headers={"Cache-Control": "no-store", **(headers or {})})


def _default(obj: Any) -> Any:
    if hasattr(obj, "item"):  # numpy scalars
        return obj.item()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


class _DeadlineReader(io.RawIOBase):
    """Socket reads that all end by one deadline (set per request by the handler)."""

    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.deadline = time.monotonic() + REQUEST_TIMEOUT_S

    def readable(self) -> bool:
        return True

    def readinto(self, buf: Any) -> int:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("request deadline passed")
        self.sock.settimeout(left)
        return self.sock.recv_into(buf)


class Handler(BaseHTTPRequestHandler):
    """Serves one app (bound by :func:`qdemo.web.server.make_handler`): every request becomes
    a :class:`Request` for ``app.dispatch``; errors become JSON answers, a bug a bare 500."""

    protocol_version = "HTTP/1.1"
    server_version = "qdemo"
    sys_version = ""
    disable_nagle_algorithm = True
    app: Any
    quiet: bool = True

    def setup(self) -> None:
        super().setup()
        self.rfile.close()  # read through the deadline instead
        self._reader = _DeadlineReader(self.connection)
        self.rfile = io.BufferedReader(self._reader, 64 * 1024)
        self.command, self.path, self.request_version, self.requestline = "", "", "HTTP/0.9", ""

    def log_message(self, fmt: str, *args: Any) -> None:  # noqa: D401
        if not self.quiet:
            sys.stderr.write("%s - %s\n" % (self.address_string(), fmt % args))

    def handle_one_request(self) -> None:
        """Read one request by the deadline and answer it, whatever its method."""
        self._reader.deadline = time.monotonic() + REQUEST_TIMEOUT_S
        try:
            self.raw_requestline = self.rfile.readline(65537)
        except (TimeoutError, ConnectionError):  # idle keep-alive connection, or gone
            self.close_connection = True
            return
        if not self.raw_requestline:
            self.close_connection = True
            return
        try:
            if len(self.raw_requestline) > 65536:
                self.close_connection = True
                self._send(json_response({"error": "request line too long"}, 414))
                return
            if self.parse_request():  # else parse_request has answered (send_error)
                self._handle(self.command)
        except TimeoutError:
            self.close_connection = True
            self._send(json_response({"error": "request timed out: the headers or the body did not arrive "
                                               f"within {REQUEST_TIMEOUT_S:g} s"}, 408))
        except ConnectionError:
            self.close_connection = True

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """The standard library's protocol errors (bad request line, too many headers ...), as
        JSON; an HTTP version other than 1.x (the library's 505) is the client's error: 400."""
        self.close_connection = True
        phrase = self.responses.get(code, ("error",))[0].lower()
        self._send(json_response({"error": f"malformed request ({phrase})"}, code if code < 500 else 400))

    def _read_body(self) -> bytes:
        lengths = self.headers.get_all("Content-Length") or []
        if self.headers.get_all("Transfer-Encoding"):
            self.close_connection = True  # where the body ends is unclear: never guess
            if lengths:
                raise HTTPError(400, "send either Content-Length or Transfer-Encoding, not both")
            raise HTTPError(411, "send the body with a Content-Length (chunked bodies are not accepted)")
        if not lengths:
            return b""
        if len(lengths) > 1:
            self.close_connection = True
            raise HTTPError(400, "send one Content-Length header")
        try:
            n = parse_index(lengths[0].strip(), "Content-Length", digits=18)
        except ParamError as exc:
            self.close_connection = True  # the body's end is unknown
            raise HTTPError(400, str(exc)) from None
        if n > MAX_BODY:
            self.close_connection = True
            raise HTTPError(413, f"request body too large ({n} > {MAX_BODY} bytes)")
        try:
            body = self.rfile.read(n)
        except TimeoutError:
            self.close_connection = True
            raise HTTPError(408, f"request timed out: the body did not arrive within {REQUEST_TIMEOUT_S:g} s, "
                                 f"Content-Length says {n} bytes") from None
        if len(body) < n:
            self.close_connection = True
            raise HTTPError(400, f"request body ended after {len(body)} of {n} bytes")
        return body

    def _read_request(self, method: str) -> Request:
        """The request (path, query, body), or HTTPError for a foreign Host, a bad path or body."""
        server = self.server
        if not host_allowed(self.headers.get("Host"), server.allowed_hosts, server.server_address[1]):
            self.close_connection = True
            raise HTTPError(403, "refused: the Host header does not name this server (the names it answers "
                                 "to are printed when it starts; add one with --allow-host NAME)")
        try:
            parts = urlsplit(self.path)
            query = parse_qs(parts.query, max_num_fields=100)
        except ValueError:  # '//[' (an unclosed IPv6 bracket), too many query fields
            self.close_connection = True
            raise HTTPError(400, "malformed request path or query") from None
        return Request(method, parts.path, query, self._read_body(), self.headers)

    def _handle(self, method: str) -> None:
        try:
            resp = self.app.dispatch(self._read_request(method))
        except HTTPError as exc:
            resp = json_response({"error": exc.message}, status=exc.status, headers=exc.headers)
        except ParamError as exc:
            resp = json_response({"error": str(exc)}, status=400)
        except (TimeoutError, ConnectionError):
            raise
        except Exception:  # a bug: the detail to the log, a bare 500 to the client; keep serving
            sys.stderr.write(f"qdemo: internal error answering {self.requestline[:300]!r}:\n{traceback.format_exc()}")
            resp = json_response({"error": "internal server error (the details are in the server's log)"}, 500)
        self._send(resp, head=(method == "HEAD"))

    def _send(self, resp: Response, head: bool = False) -> None:
        """The whole response (status line, headers, body) in one write."""
        headers = {"Content-Type": resp.content_type, "Content-Length": str(len(resp.body)),
                   **SECURITY_HEADERS, **resp.headers}
        if self.close_connection:
            headers["Connection"] = "close"
        phrase = self.responses.get(resp.status, ("",))[0]
        lines = [f"HTTP/1.1 {resp.status} {phrase}", f"Server: {self.server_version}",
                 f"Date: {self.date_time_string()}", *(f"{k}: {v}" for k, v in headers.items())]
        data = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (b"" if head else resp.body)
        try:
            self.connection.settimeout(WRITE_TIMEOUT_S)
            self.wfile.write(data)
        except OSError:  # the client went away or stopped reading
            self.close_connection = True
        if self.requestline:
            self.log_request(resp.status, len(resp.body))


class BoundedHTTPServer(HTTPServer):
    """An HTTP server with one thread per connection, at most :data:`MAX_CONNECTIONS` of them."""

    request_queue_size = 128  # many raters may connect at once
    allow_reuse_address = True
    allowed_hosts: frozenset[str] = frozenset(LOOPBACK_NAMES)

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.max_connections = MAX_CONNECTIONS
        self._slots = threading.BoundedSemaphore(self.max_connections)

    def server_bind(self) -> None:  # as HTTPServer, without the (slow, unused) reverse DNS lookup
        import socketserver

        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = str(self.server_address[0]), self.server_address[1]

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._slots.acquire(blocking=False):
            self._refuse(request)
            return
        threading.Thread(target=self._serve_one, args=(request, client_address), daemon=True).start()

    def _serve_one(self, request: Any, client_address: Any) -> None:
        try:
            self.finish_request(request, client_address)
        except Exception:  # noqa: BLE001 - as socketserver does: log, close, go on
            self.handle_error(request, client_address)
        finally:
            self.shutdown_request(request)
            self._slots.release()

    def _refuse(self, sock: socket.socket) -> None:
        """HTTP 503 on a connection over the limit, written from the accepting thread without waiting."""
        body = json.dumps({"error": f"server busy ({self.max_connections} connections open); try again"}).encode()
        head = ["HTTP/1.1 503 Service Unavailable", "Content-Type: application/json; charset=utf-8",
                f"Content-Length: {len(body)}", "Retry-After: 1", "Connection: close", "Cache-Control: no-store",
                *(f"{k}: {v}" for k, v in SECURITY_HEADERS.items())]
        try:
            sock.setblocking(False)
            try:
                sock.recv(MAX_BODY)  # what has arrived already (closing on unread data would reset)
            except OSError:
                pass
            sock.send(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body)
        except OSError:
            pass
        finally:
            self.shutdown_request(sock)


class BoundedHTTPServer6(BoundedHTTPServer):
    address_family = socket.AF_INET6


__all__ = [
    "BoundedHTTPServer", "BoundedHTTPServer6", "HTTPError", "Handler", "MAX_BODY", "MAX_CONNECTIONS",
    "REQUEST_TIMEOUT_S", "Request", "Response", "SECURITY_HEADERS", "WRITE_TIMEOUT_S", "json_response",
]
