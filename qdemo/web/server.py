"""A small JSON + static-file HTTP server on the standard library.

Apps (:class:`~qdemo.web.browse.BrowseApp`, :class:`~qdemo.web.rate.RateApp`) declare
routes as ``(method, regex, handler)``; the handler gets a :class:`Request` and returns a
:class:`Response`. Errors a client can act on are raised as :class:`HTTPError` and sent as
JSON ``{"error": "..."}`` with their status code. Static assets ship in
``qdemo/web/static`` and are served from ``/static/<name>`` (no CDN, no network).
"""

from __future__ import annotations

import json
import mimetypes
import re
import sys
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable
from urllib.parse import parse_qs, urlsplit

from qdemo.web.params import ParamError, json_number_hooks, parse_index
from qdemo.web.safepath import PathRefused, resolve_under

STATIC_DIR = Path(__file__).resolve().parent / "static"
"""The page assets shipped with the package."""

MAX_BODY = 64 * 1024
"""Largest request body accepted (bytes); bigger ones get HTTP 413."""

mimetypes.add_type("text/javascript", ".js")
mimetypes.add_type("text/css", ".css")
mimetypes.add_type("image/svg+xml", ".svg")


class HTTPError(Exception):
    """An error sent to the client as ``{"error": message}`` with ``status``.

    A :class:`~qdemo.web.params.ParamError` (a malformed number or id) is sent as HTTP 400.
    """

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = int(status)
        self.message = message


@dataclass
class Request:
    """One parsed HTTP request."""

    method: str
    path: str
    """The raw (still percent-encoded) path, without the query string."""
    query: dict[str, list[str]]
    body: bytes
    headers: Any
    match: re.Match | None = None

    def arg(self, name: str, default: str | None = None) -> str | None:
        vals = self.query.get(name)
        return vals[0] if vals else default

    def json(self) -> Any:
        """The body parsed as a JSON object, or HTTP 400 with the reason.

        The request must say ``Content-Type: application/json``: another site's page cannot
        send that cross-origin without a CORS preflight, which this server never grants.
        """
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if ctype != "application/json":
            raise HTTPError(415, f"send the body as Content-Type: application/json (got {ctype or 'none'!r})")
        if not self.body:
            raise HTTPError(400, "request body is empty: expected a JSON object")
        try:
            data = json.loads(self.body.decode("utf-8"), parse_constant=_reject_constant, **json_number_hooks())
        except UnicodeDecodeError:
            raise HTTPError(400, "request body is not UTF-8") from None
        except RecursionError:
            raise HTTPError(400, "request body is nested too deeply") from None
        except (json.JSONDecodeError, ValueError) as exc:
            raise HTTPError(400, f"request body is not valid JSON ({exc})") from None
        if not isinstance(data, dict):
            raise HTTPError(400, f"expected a JSON object, got {type(data).__name__}")
        return data


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed")


@dataclass
class Response:
    """What a handler returns."""

    status: int = 200
    body: bytes = b""
    content_type: str = "application/json; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)


def json_response(obj: Any, status: int = 200) -> Response:
    data = json.dumps(obj, allow_nan=False, default=_default).encode("utf-8")
    return Response(status=status, body=data, headers={"Cache-Control": "no-store"})


def _default(obj: Any) -> Any:
    if hasattr(obj, "item"):  # numpy scalars
        return obj.item()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def file_response(root: Path, relpath: str, *, decoded: bool = False, cache: bool = True) -> Response:
    """Serve ``root/relpath`` (refusing anything outside ``root``)."""
    try:
        target = resolve_under(root, relpath, decoded=decoded)
    except PathRefused as exc:
        raise HTTPError(403, f"refused: {exc}") from None
    except (FileNotFoundError, UnicodeDecodeError):
        raise HTTPError(404, "no such file") from None
    ctype = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
    if ctype.startswith("text/") or ctype.endswith("javascript"):
        ctype += "; charset=utf-8"
    headers = {"Cache-Control": "max-age=300" if cache else "no-store"}
    return Response(status=200, body=target.read_bytes(), content_type=ctype, headers=headers)


Route = tuple[str, "re.Pattern[str]", Callable[[Request], Response]]


class App:
    """Base of the web apps: a route table plus the shipped static assets."""

    title = "qdemo"

    def routes(self) -> list[Route]:  # pragma: no cover - overridden
        return []

    def dispatch(self, req: Request) -> Response:
        if req.path.startswith("/static/"):
            if req.method not in ("GET", "HEAD"):
                raise HTTPError(405, "method not allowed")
            return file_response(STATIC_DIR, req.path[len("/static/"):])
        allowed = []
        for method, pattern, handler in self.routes():
            m = pattern.fullmatch(req.path)
            if m is None:
                continue
            if method != req.method and not (method == "GET" and req.method == "HEAD"):
                allowed.append(method)
                continue
            req.match = m
            return handler(req)
        if allowed:
            raise HTTPError(405, f"method not allowed (use {', '.join(sorted(set(allowed)))})")
        raise HTTPError(404, f"no such page: {req.path}")

    def page(self, name: str) -> Response:
        """A static HTML page from the package (never cached: pages change with versions)."""
        return file_response(STATIC_DIR, name, cache=False)


class _Handler(BaseHTTPRequestHandler):
    """Serves one :class:`App` (bound by :func:`make_handler`): every request becomes a
    :class:`Request` for ``app.dispatch``; errors become JSON answers, a bug a 500."""

    protocol_version = "HTTP/1.1"
    server_version = "qdemo"
    sys_version = ""
    app: App
    quiet: bool = True

    def log_message(self, fmt: str, *args: Any) -> None:  # noqa: D401
        if not self.quiet:
            sys.stderr.write("%s - %s\n" % (self.address_string(), fmt % args))

    def _read_request(self, method: str) -> Request:
        """The request (path, query, body), or HTTPError for a bad path, body size or Host."""
        try:
            parts = urlsplit(self.path)
        except ValueError:  # e.g. '//[' (an unclosed IPv6 bracket)
            self.close_connection = True
            raise HTTPError(400, "malformed request path") from None
        length = self.headers.get("Content-Length")
        body = b""
        if length:
            try:
                n = parse_index(length.strip(), "Content-Length", digits=18)
            except ParamError as exc:
                self.close_connection = True  # the body's end is unknown
                raise HTTPError(400, str(exc)) from None
            if n > MAX_BODY:
                self.close_connection = True
                raise HTTPError(413, f"request body too large ({n} > {MAX_BODY} bytes)")
            body = self.rfile.read(n)
        elif self.headers.get("Transfer-Encoding"):
            self.close_connection = True
            raise HTTPError(411, "send a Content-Length")
        allowed = getattr(self.server, "allowed_hosts", None)
        if allowed is not None and (self.headers.get("Host") or "").lower() not in allowed:
            self.close_connection = True
            raise HTTPError(403, "refused: unexpected Host header (this server answers only "
                                 "to its own loopback address)")
        return Request(method, parts.path, parse_qs(parts.query), body, self.headers)

    def _handle(self, method: str) -> None:
        try:
            resp = self.app.dispatch(self._read_request(method))
        except HTTPError as exc:
            resp = json_response({"error": exc.message}, status=exc.status)
        except ParamError as exc:
            resp = json_response({"error": str(exc)}, status=400)
        except Exception as exc:  # a bug: report it, keep serving
            import traceback

            traceback.print_exc()
            resp = json_response({"error": f"internal error: {type(exc).__name__}: {exc}"}, 500)
        self._send(resp, head=(method == "HEAD"))

    def _send(self, resp: Response, head: bool = False) -> None:
        try:
            self.send_response(resp.status)
            self.send_header("Content-Type", resp.content_type)
            self.send_header("Content-Length", str(len(resp.body)))
            self.send_header("X-Content-Type-Options", "nosniff")
            self.send_header("Referrer-Policy", "no-referrer")
            self.send_header(
                "Content-Security-Policy",
                "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
                "connect-src 'self'",
            )
            for k, v in resp.headers.items():
                self.send_header(k, v)
            self.end_headers()
            if not head:
                self.wfile.write(resp.body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def do_GET(self) -> None:
        self._handle("GET")

    def do_HEAD(self) -> None:
        self._handle("HEAD")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def do_DELETE(self) -> None:
        self._handle("DELETE")


def make_handler(app: App, *, quiet: bool = True) -> type[BaseHTTPRequestHandler]:
    """A request-handler class serving ``app`` (``quiet``: no access log on stderr)."""
    return type("Handler", (_Handler,), {"app": app, "quiet": quiet})


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # many raters may connect at once
    allow_reuse_address = True


class _HTTPServer6(_HTTPServer):
    import socket as _socket

    address_family = _socket.AF_INET6


class Server:
    """A running app: ``Server(app, host, port).start()`` in a thread, or ``serve_forever()``."""

    def __init__(self, app: App, host: str = "127.0.0.1", port: int = 0, *, quiet: bool = True):
        self.app = app
        cls = _HTTPServer6 if ":" in host else _HTTPServer
        self.httpd = cls((host, port), make_handler(app, quiet=quiet))
        bound = self.httpd.server_address[1]
        # On loopback, answer only requests addressed to loopback (defeats DNS rebinding);
        # a server opened to the network with --host accepts any Host header.
        self.httpd.allowed_hosts = (
            {f"127.0.0.1:{bound}", f"localhost:{bound}", f"[::1]:{bound}"}
            if host in ("127.0.0.1", "localhost", "::1") else None
        )
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        if ":" in str(host):
            host = f"[{host}]"
        return f"http://{host}:{port}/"

    def start(self) -> "Server":
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        try:
            self.httpd.serve_forever()
        finally:
            self.httpd.server_close()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        close = getattr(self.app, "close", None)
        if close:
            close()

    def __enter__(self) -> "Server":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


__all__ = [
    "App", "HTTPError", "MAX_BODY", "Request", "Response", "STATIC_DIR", "Server",
    "file_response", "json_response", "make_handler",
]
