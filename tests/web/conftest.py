"""Fixtures of the web tests: tiny archives / stimulus sets and a headless Chromium."""

from __future__ import annotations

import http.client
import json
import os
import shutil
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


@pytest.fixture()
def run_dir(tmp_path: Path) -> Path:
    """A 3-D archive run folder (4x4x2 grid) with critic columns, photos and a manifest."""
    from qdemo.web.demo import make_demo_archive

    return make_demo_archive(tmp_path / "runs" / "run_a", cells=(4, 4, 2), fill=0.8, seed=3,
                             reference=5, image_size=16)


@pytest.fixture()
def stim_dir(tmp_path: Path) -> Path:
    from qdemo.web.demo import make_demo_stimuli

    return make_demo_stimuli(tmp_path / "study", n=6, size=16)


class Client:
    """Raw HTTP on loopback (http.client sends the path exactly as given)."""

    def __init__(self, url: str):
        host, port = url.split("//")[1].rstrip("/").rsplit(":", 1)
        self.host, self.port = host, int(port)

    def request(self, method: str, path: str, body=None, headers=None):
        conn = http.client.HTTPConnection(self.host, self.port, timeout=20)
        try:
            data = body
            hdrs = dict(headers or {})
            if body is not None and not isinstance(body, (bytes, str)):
                data = json.dumps(body)
                hdrs.setdefault("Content-Type", "application/json")
            conn.request(method, path, body=data, headers=hdrs)
            resp = conn.getresponse()
            return resp.status, resp.read(), resp.getheader("Content-Type") or ""
        finally:
            conn.close()

    def json(self, method: str, path: str, body=None):
        status, raw, _ = self.request(method, path, body)
        return status, json.loads(raw)


@pytest.fixture()
def serve():
    """Start an app on 127.0.0.1 (free port); returns (server, client). Stopped afterwards."""
    from qdemo.web.server import Server

    servers = []

    def _serve(app):
        srv = Server(app, "127.0.0.1", 0).start()
        servers.append(srv)
        return srv, Client(srv.url)

    yield _serve
    for s in servers:
        s.stop()


def _chromium_or_skip():
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} not installed (apt-get install chromium): browser tests skipped")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        pytest.skip("python package 'playwright' not installed")


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    """A headless Debian Chromium (persistent context with a fresh user-data-dir)."""
    _chromium_or_skip()
    from playwright.sync_api import sync_playwright

    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_playwright() as p:
        ctx = p.chromium.launch_persistent_context(
            str(profile), executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
            viewport={"width": 1400, "height": 950},
        )
        try:
            yield ctx
        finally:
            ctx.close()
    shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture()
def page(browser):
    pg = browser.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.js_errors = errors  # type: ignore[attr-defined]
    yield pg
    pg.close()
