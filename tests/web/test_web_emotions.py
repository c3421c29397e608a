"""qdemo browse shows an emotions archive: a strip of emotion slots, each elite with its slot
emotion, the searcher's distribution and the critic's emotion (API and a real browser)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from qdemo.web import BrowseApp

M_LEFT, M_TOP, PLOT_W = 48, 10, 440 - 48 - 10  # strip geometry (browse_slots.js slotGeom)


def _rows(run: Path) -> list[dict[str, str]]:
    with open(run / "archive.csv", newline="") as f:
        return list(csv.DictReader(f))


def test_api_serves_slots_and_emotions(emotions_run, serve):
    run = emotions_run("emo")
    srv, client = serve(BrowseApp([run]))
    status, info = client.json("GET", "/api/archives")
    assert status == 200
    a = info["archives"][0]
    assert a["grid"]["name"] == "emotions" and a["grid"]["slots"][3] == "joy"
    assert a["emotions"]["chance"] == pytest.approx(1 / 7)
    status, cells = client.json("GET", "/api/archive/0/cells")
    rows = {int(r["index"]): r for r in _rows(run)}
    assert status == 200 and {c["index"] for c in cells["cells"]} == set(rows)
    for c in cells["cells"]:
        r = rows[c["index"]]
        assert c["emotion"] == r["emotion"] and c["centre"] is None
        assert c["p"] == pytest.approx(float(r[f"p_{r['emotion']}"]))
        assert c["critic_emotion"] == r["critic_emotion"] and c["critic_match"] == (r["critic_match"] == "1")
        assert set(c["dist"]) == {"anger", "disgust", "fear", "joy", "sadness", "surprise", "neutral"}
    status, one = client.json("GET", f"/api/archive/0/cell/{cells['cells'][0]['index']}")
    assert status == 200 and one["elite"]["url"].endswith(".png")


@pytest.mark.browser
def test_browser_shows_the_slot_strip_beside_a_vad_archive(emotions_run, run_dir, serve, page):
    expect = pytest.importorskip("playwright.sync_api").expect
    run = emotions_run("emo")
    srv, _ = serve(BrowseApp([run, run_dir]))
    page.goto(srv.url)
    page.wait_for_selector("body[data-ready='1']", timeout=15000)
    assert "critic sees the slot's emotion" in page.inner_text("#archive-0 .meta")
    rows = sorted(_rows(run), key=lambda r: int(r["index"]))
    e = rows[0]
    slot = int(e["cell_slot"])
    page.locator("#archive-0 canvas.heatmap").click(position={"x": M_LEFT + (slot + 0.5) * PLOT_W / 7,
                                                                "y": M_TOP + 20})
    detail = page.locator("#archive-0 .detail")
    expect(detail).to_have_attribute("data-index", e["index"], timeout=10000)
    assert detail.locator("img.elite").get_attribute("src") == f"/files/archive/0/elites/cell_{e['index']}.png"
    assert detail.locator(".cellname").inner_text() == f"slot {e['emotion']}"
    line = detail.locator(".emotion-line").inner_text()
    assert f"searcher: {e['emotion']} p {float(e['p_' + e['emotion']]):.2f}" in line
    assert f"critic: {e['critic_emotion']}" in line
    assert "cell centre" not in detail.locator("table.vad").inner_text()
    # arrow keys walk the slots: the next slot's elite, or "empty" for an empty slot
    page.locator("#archive-0 canvas.heatmap").press("ArrowRight")
    nxt = next((r["index"] for r in rows if int(r["cell_slot"]) == slot + 1), "")
    expect(detail).to_have_attribute("data-index", nxt, timeout=10000)
    # colour modes redraw the strip; the VAD archive beside it still works
    for mode in ("agreement", "images", "spread"):
        page.select_option("#mode", mode)
    page.locator("#archive-1 canvas.heatmap").click(position={"x": M_LEFT + 5, "y": M_TOP + 5})
    assert page.locator("#archive-1 .emotion-line").is_hidden()
    assert page.js_errors == []
