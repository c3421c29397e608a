"""A small JSON + static-file HTTP server on the standard library.

Apps (:class:`~qdemo.web.browse.BrowseApp`, :class:`~qdemo.web.rate.RateApp`) declare
routes as ``(method, regex, handler)``; the handler gets a :class:`Request` and returns a
:class:`Response`. Errors a client can act on are raised as :class:`HTTPError` and sent as
JSON ``{"error": "..."}`` with their status code. Static assets ship in
``qdemo/web/static`` and are served from ``/static/<name>`` (no CDN, no network). How
requests are read and answered (deadlines, bounded connections, the Host check, security
headers) is :mod:`qdemo.web.wire`.
"""

from __future__ import annotations

import mimetypes
import re
import sys
import threading
from pathlib import Path
from typing import Any, Callable

from qdemo.web.hosts import allowed_host_names
from qdemo.web.safepath import PathRefused, resolve_under
from qdemo.web.wire import (
    MAX_BODY, BoundedHTTPServer, BoundedHTTPServer6, Handler, HTTPError, Request, Response, json_response,
)

STATIC_DIR = Path(__file__).resolve().parent / "static"
"""The page assets shipped with the package."""

mimetypes.add_type("text/javascript", ".js")
mimetypes.add_type("text/css", ".css")
mimetypes.add_type("image/svg+xml", ".svg")


def file_response(root: Path, relpath: str, *, decoded: bool = False, cache: bool = True) -> Response:
    """Serve ``root/relpath`` (refusing anything outside ``root``)."""
    try:
        target = resolve_under(root, relpath, decoded=decoded)
    except PathRefused as exc:
        raise HTTPError(403, f"refused: {exc}") from None
    except (FileNotFoundError, UnicodeDecodeError):
        raise HTTPError(404, "no such file") from None
    try:
        body = target.read_bytes()
    except OSError as exc:  # unreadable, or gone since: the detail to the log only
        sys.stderr.write(f"qdemo: cannot read {target}: {exc}\n")
        raise HTTPError(404, "no such file") from None
    ctype = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
    if ctype.startswith("text/") or ctype.endswith("javascript"):
        ctype += "; charset=utf-8"
    headers = {"Cache-Control": "max-age=300" if cache else "no-store"}
    return Response(status=200, body=body, content_type=ctype, headers=headers)


Route = tuple[str, "re.Pattern[str]", Callable[[Request], Response]]
SERVED_METHODS = ("GET", "HEAD", "POST")
"""The methods any route takes; another one is HTTP 405 on every path."""


def _not_allowed(methods: set[str]) -> HTTPError:
    if "GET" in methods:
        methods = methods | {"HEAD"}
    allow = ", ".join(sorted(methods))
    return HTTPError(405, f"method not allowed (use {allow})", headers={"Allow": allow})


class App:
    """Base of the web apps: a route table plus the shipped static assets."""

    title = "qdemo"

    def routes(self) -> list[Route]:  # pragma: no cover - overridden
        return []

    def dispatch(self, req: Request) -> Response:
        """The handler of the route matching ``req``; HTTP 405 (with ``Allow``) for a method
        the path does not take, 404 for a path no route has."""
        if req.path.startswith("/static/"):
            if req.method not in ("GET", "HEAD"):
                raise _not_allowed({"GET"})
            return file_response(STATIC_DIR, req.path[len("/static/"):])
        allowed = set()
        for method, pattern, handler in self.routes():
            m = pattern.fullmatch(req.path)
            if m is None:
                continue
            if method != req.method and not (method == "GET" and req.method == "HEAD"):
                allowed.add(method)
                continue
            req.match = m
            return handler(req)
        if allowed:
            raise _not_allowed(allowed)
        if req.method not in SERVED_METHODS:
            raise _not_allowed(set(SERVED_METHODS))
        raise HTTPError(404, f"no such page: {req.path[:100]}")

    def page(self, name: str) -> Response:
        """A static HTML page from the package (never cached: pages change with versions)."""
        return file_response(STATIC_DIR, name, cache=False)


def make_handler(app: App, *, quiet: bool = True) -> type[Handler]:
    """A request-handler class serving ``app`` (``quiet``: no access log on stderr)."""
    return type("Handler", (Handler,), {"app": app, "quiet": quiet})


class Server:
    """A running app: ``Server(app, host, port).start()`` in a thread, or ``serve_forever()``."""

    def __init__(self, app: App, host: str = "127.0.0.1", port: int = 0, *, quiet: bool = True,
                 allow_hosts: tuple[str, ...] | list[str] = ()):
        self.app = app
        cls = BoundedHTTPServer6 if ":" in host else BoundedHTTPServer
        self.httpd = cls((host, port), make_handler(app, quiet=quiet))
        # Only requests that name this server (loopback names, the bound address, --allow-host)
        # are answered, on any bind: another site's name rebound to this address gets HTTP 403.
        self.httpd.allowed_hosts = allowed_host_names(host, tuple(allow_hosts))
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
    "App", "HTTPError", "MAX_BODY", "Request", "Response", "SERVED_METHODS", "STATIC_DIR", "Server",
    "file_response", "json_response", "make_handler",
]
