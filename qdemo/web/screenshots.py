"""Screenshots of the browse page and the rating page (for the docs).

    python -m qdemo.web.screenshots [--archive RUN_A --archive RUN_B] [--compare DIR]
                                    [--stimuli DIR] [--out docs/screenshots]

Without ``--archive`` / ``--stimuli`` it builds small synthetic folders (``qdemo.web.demo``).
Needs Debian's Chromium (``/usr/bin/chromium``) and the ``playwright`` package; writes
``browse.png`` and ``rate.png`` (each kept under 500 KB by palette quantisation if needed).
"""

from __future__ import annotations

import argparse
import math
import os
import tempfile
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
MAX_BYTES = 500_000


def _shrink(path: Path) -> None:
    """Re-save ``path`` with a 256-colour palette if it is too large."""
    if path.stat().st_size <= MAX_BYTES:
        return
    from PIL import Image

    with Image.open(path) as im:
        q = im.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    q.save(path, optimize=True)


def _best_cell(run: Path) -> tuple[float, float, float] | None:
    """Searcher VAD of the run's best elite (to preselect a cell)."""
    from qdemo.runfolder import read_run

    folder = read_run(run, require=("objective", "valence", "arousal"))
    if not folder.n:
        return None
    best = max(range(folder.n), key=lambda i: folder.value("objective", i))
    dominance = folder.value("dominance", best)  # NaN without a dominance column
    return (folder.value("valence", best), folder.value("arousal", best),
            dominance if math.isfinite(dominance) else 0.0)


def take(out: Path, archives: list[Path], compare: list[Path], stimuli: Path | None, work: Path) -> list[Path]:
    from playwright.sync_api import sync_playwright

    from qdemo.web.browse import BrowseApp
    from qdemo.web.demo import make_demo_archive, make_demo_compare, make_demo_stimuli
    from qdemo.web.rate import RateApp
    from qdemo.web.server import Server

    if not archives:
        a = make_demo_archive(work / "demo_pixels", cells=(10, 10, 5), fill=0.75, seed=0, reference=40, image_size=48)
        b = make_demo_archive(work / "demo_cppn", cells=(10, 10, 5), fill=0.55, seed=7, reference=0, image_size=48)
        archives = [a, b]
        compare = compare or [make_demo_compare(work / "demo_compare", a, k=4)]
    if stimuli is None:
        stimuli = make_demo_stimuli(work / "demo_study", n=24, size=128)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    with sync_playwright() as p:
        ctx = p.chromium.launch_persistent_context(
            str(work / "profile"), executable_path=CHROMIUM, headless=True, args=ARGS,
            viewport={"width": 1500, "height": 1000}, device_scale_factor=1,
        )
        try:
            page = ctx.new_page()
            with Server(BrowseApp(archives, compare=compare)) as srv:
                best = _best_cell(archives[0])
                query = "" if best is None else f"?v={best[0]:.4f}&a={best[1]:.4f}&d={best[2]:.4f}"
                page.goto(srv.url + query)
                page.wait_for_selector("body[data-ready='1']", timeout=20000)
                page.wait_for_timeout(1200)  # thumbnails
                path = out / "browse.png"
                page.screenshot(path=str(path), full_page=True)
                _shrink(path)
                written.append(path)
            db = work / "ratings.sqlite"
            page.set_viewport_size({"width": 1280, "height": 920})
            with Server(RateApp(stimuli, db)) as srv:
                page.goto(srv.url)
                page.wait_for_selector("body[data-ready='1']", timeout=20000)
                page.fill("#participant", "P007")
                page.click("#start")
                page.wait_for_selector("#trial:not(.hidden)")
                for keys in ("736", "458"):
                    for k in keys:
                        page.keyboard.press(k)
                    page.keyboard.press("Enter")
                    page.wait_for_timeout(400)
                for k in "72":
                    page.keyboard.press(k)
                page.mouse.move(5, 5)
                page.wait_for_timeout(400)
                path = out / "rate.png"
                page.screenshot(path=str(path))
                _shrink(path)
                written.append(path)
        finally:
            ctx.close()
    return written


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m qdemo.web.screenshots", description=__doc__.split("\n\n")[0])
    ap.add_argument("--archive", action="append", type=Path, default=[], help="archive run folder (repeatable)")
    ap.add_argument("--compare", action="append", type=Path, default=[], help="comparison folder")
    ap.add_argument("--stimuli", type=Path, help="stimulus folder for the rating page")
    ap.add_argument("--out", type=Path, default=Path("docs/screenshots"))
    args = ap.parse_args(argv)
    if not os.path.exists(CHROMIUM):
        print(f"screenshots: {CHROMIUM} not found (apt-get install chromium)")
        return 2
    with tempfile.TemporaryDirectory(prefix="qdemo-shots-") as tmp:
        for p in take(args.out, args.archive, args.compare, args.stimuli, Path(tmp)):
            print(f"wrote {p} ({p.stat().st_size / 1000:.0f} KB)")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
