"""The pages in a real browser: Debian's Chromium, headless, driven by Playwright."""

from __future__ import annotations

import csv
import re
import sqlite3
from pathlib import Path

import pytest

expect = pytest.importorskip("playwright.sync_api").expect

from qdemo.runfolder import write_classes
from qdemo.web import BrowseApp, RateApp
from qdemo.web.demo import make_demo_archive, make_demo_compare

pytestmark = pytest.mark.browser

M_LEFT, M_TOP, PLOT_W, PLOT_H = 48, 10, 440 - 48 - 10, 440 - 10 - 42  # heatmap geometry (browse.js)


def _click_cell(page, panel: int, cv: int, ca: int, nv: int, na: int) -> None:
    x = M_LEFT + (cv + 0.5) * PLOT_W / nv
    y = M_TOP + (na - ca - 0.5) * PLOT_H / na
    page.locator(f"#archive-{panel} canvas.heatmap").click(position={"x": x, "y": y})


def test_browse_click_shows_the_elite_in_both_archives(run_dir: Path, tmp_path: Path, serve, page):
    other = make_demo_archive(tmp_path / "runs" / "run_b", cells=(8, 8, 4), fill=1.0, seed=5, reference=0,
                              image_size=16)
    comp = make_demo_compare(tmp_path / "cmp", run_dir, k=2)
    with open(run_dir / "archive.csv", newline="") as f:
        every = [int(r["index"]) for r in csv.DictReader(f)]
    seen = [{"backbone": "efficientnet-lite2", "resolution": 260, "semantic": True, "norms_from": "stored",
             "classes": [{"class": "tarantula", "index": 76, "probability": 0.41, "norms": [-0.52, 0.61, -0.3]},
                         {"class": "knot", "index": 616, "probability": 0.12, "norms": None}]}]
    write_classes(run_dir, every, [seen] * len(every), model="critic-x")
    srv, _ = serve(BrowseApp([run_dir, other], compare=[comp]))
    page.goto(srv.url)
    page.wait_for_selector("body[data-ready='1']", timeout=15000)
    assert page.locator("section.archive").count() == 2
    assert page.inner_text("#archive-0 h2") == "run_a"

    with open(run_dir / "archive.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    # the default dominance band is the middle one; choose an elite in that band of run_a
    band = int(page.eval_on_selector("#dom", "e => e.value"))
    e = next(r for r in rows if int(r["cell_d"]) == band)
    cv, ca, idx = int(e["cell_v"]), int(e["cell_a"]), int(e["index"])
    _click_cell(page, 0, cv, ca, 4, 4)
    detail = page.locator("#archive-0 .detail")
    expect(page.locator("#archive-0 .detail")).to_have_attribute("data-index", str(idx), timeout=10000)
    img = detail.locator("img.elite")
    assert img.get_attribute("src") == f"/files/archive/0/elites/cell_{idx}.png"
    expect(img).to_have_js_property("naturalWidth", 16)
    assert f"{float(e['objective']):.1f}" in detail.locator(".objective").inner_text()
    table = detail.locator("table.vad").inner_text()
    assert "searcher" in table and "critic" in table
    v = float(e["valence"])
    assert ("+" if v > 0 else "−") + f"{abs(v):.2f}" in table
    assert detail.locator(".samples img").count() == 2
    assert detail.locator(".photos img").count() == 4
    classes = detail.locator(".classes").inner_text()  # what the critic's classifier sees, with word norms
    assert "lite2 @ 260 px" in classes and "tarantula 0.41 — V −0.52 A +0.61" in classes
    assert "knot 0.12 — no word norm" in classes

    # the same VAD cell is selected in the 8x8x4 archive: centre of run_a's cell, located there
    cv_b = min(7, int(((-1 + (cv + 0.5) * 0.5) + 1) / 2 * 8))
    ca_b = min(7, int(((-1 + (ca + 0.5) * 0.5) + 1) / 2 * 8))
    d_centre = -1 + (band + 0.5) * 2 / 2
    cd_b = min(3, int((d_centre + 1) / 2 * 4))
    with open(other / "archive.csv", newline="") as f:
        rows_b = {(int(r["cell_v"]), int(r["cell_a"]), int(r["cell_d"])): int(r["index"]) for r in csv.DictReader(f)}
    idx_b = rows_b[(cv_b, ca_b, cd_b)]
    expect(page.locator("#archive-1 .detail")).to_have_attribute("data-index", str(idx_b), timeout=10000)
    assert page.locator("#archive-1 img.elite").get_attribute("src") == f"/files/archive/1/elites/cell_{idx_b}.png"
    assert page.locator("#archive-1 .detail .classes").inner_text() == ""  # run_b has no classes.json

    # colour modes and the dominance slider redraw without errors; arrow keys move the selection
    page.select_option("#mode", "agreement")
    page.select_option("#mode", "images")
    page.locator("#archive-0 canvas.heatmap").press("ArrowRight" if cv < 3 else "ArrowLeft")
    new_cv = cv + 1 if cv < 3 else cv - 1
    want = next((int(r["index"]) for r in rows if (int(r["cell_v"]), int(r["cell_a"]), int(r["cell_d"])) == (new_cv, ca, band)), None)
    want_text = "" if want is None else str(want)
    expect(page.locator("#archive-0 .detail")).to_have_attribute("data-index", want_text, timeout=10000)
    assert page.js_errors == []


def _rate_current(page, keys: str) -> None:
    for k in keys:
        page.keyboard.press(k)
    page.keyboard.press("Enter")


def test_rating_session_saves_to_the_database(stim_dir: Path, tmp_path: Path, serve, page):
    db = tmp_path / "ratings.sqlite"
    srv, _ = serve(RateApp(stim_dir, db, seed=1))
    page.goto(srv.url)
    page.wait_for_selector("body[data-ready='1']", timeout=15000)
    assert page.locator("#intro").is_visible() and page.inner_text("#n-stimuli") == "6"
    page.fill("#participant", "bad id!")
    page.click("#start")
    expect(page.locator("#intro-error")).to_contain_text("participant id")
    page.fill("#participant", "P01")
    page.click("#start")
    page.wait_for_selector("#trial:not(.hidden)")
    assert page.locator("#scales .sam-option svg").count() == 15  # 5 manikins per scale
    expect(page.locator("#stimulus")).to_have_js_property("naturalWidth", 16)

    # keyboard: 7 (valence) 2 (arousal) 4 (dominance), Enter
    _rate_current(page, "724")
    expect(page.locator("#progress-text")).to_have_text(re.compile(r"^2 /"))
    con = sqlite3.connect(db)
    rows = con.execute("SELECT participant, position, valence, arousal, dominance, rt_ms FROM ratings").fetchall()
    assert [r[:5] for r in rows] == [("P01", 0, 7, 2, 4)] and rows[0][5] > 0

    # mouse: click the manikins, then Next
    for dim, value in (("valence", 3), ("arousal", 9), ("dominance", 6)):
        page.click(f"#scale-{dim} .sam-option[data-value='{value}']")
    assert page.locator("#next").is_enabled()
    page.click("#next")
    expect(page.locator("#progress-text")).to_have_text(re.compile(r"^3 /"))
    assert con.execute("SELECT valence, arousal, dominance FROM ratings WHERE position = 1").fetchone() == (3, 9, 6)

    # incomplete answers are not sent
    page.keyboard.press("5")
    page.keyboard.press("Enter")
    expect(page.locator("#status")).to_contain_text("all three")
    assert con.execute("SELECT COUNT(*) FROM ratings").fetchone()[0] == 2

    # pause hides the picture; resume brings it back; the half-done answer survives a reload
    page.click("#pause")
    assert page.locator("#paused").is_visible() and not page.locator("#stimulus").is_visible()
    page.keyboard.press("Enter")
    assert not page.locator("#paused").is_visible()
    page.reload()
    page.wait_for_selector("body[data-ready='1']")
    assert page.input_value("#participant") == "P01"
    page.click("#start")
    page.wait_for_selector("#trial:not(.hidden)")
    assert page.inner_text("#progress-text").startswith("3 /")
    assert page.get_attribute("#scale-valence .sam-option[data-value='5']", "aria-pressed") == "true"

    # going back and changing an answer updates the same row
    page.keyboard.press("Backspace")
    expect(page.locator("#progress-text")).to_have_text(re.compile(r"^2 /"))
    assert page.get_attribute("#scale-arousal .sam-option[data-value='9']", "aria-pressed") == "true"
    page.click("#scale-arousal .sam-option[data-value='1']")
    page.click("#next")
    expect(page.locator("#progress-text")).to_have_text(re.compile(r"^3 /"))
    assert con.execute("SELECT arousal, revisions FROM ratings WHERE position = 1").fetchone() == (1, 1)
    assert con.execute("SELECT COUNT(*) FROM ratings").fetchone()[0] == 2

    for n in (4, 5, 6):  # finish the set
        _rate_current(page, "555")
        expect(page.locator("#progress-text")).to_have_text(re.compile(rf"^{n} /"))
    _rate_current(page, "555")
    page.wait_for_selector("#done:not(.hidden)", timeout=10000)
    assert con.execute("SELECT COUNT(*) FROM ratings WHERE participant = 'P01'").fetchone()[0] == 6
    assert page.js_errors == []


VIRIDIS = [(68, 1, 84), (59, 82, 139), (33, 145, 140), (94, 201, 98), (253, 231, 37)]  # browse.js stops


def _viridis(t: float) -> tuple[float, float, float]:
    t = min(1.0, max(0.0, t))
    s = t * (len(VIRIDIS) - 1)
    i = min(len(VIRIDIS) - 2, int(s))
    f = s - i
    return tuple(a + (b - a) * f for a, b in zip(VIRIDIS[i], VIRIDIS[i + 1]))


def _pixel(page, panel: int, cv: int, ca: int, nv: int, na: int) -> tuple[int, int, int]:
    x = M_LEFT + (cv + 0.5) * PLOT_W / nv
    y = M_TOP + (na - ca - 0.5) * PLOT_H / na
    return tuple(page.evaluate(
        "([sel, x, y]) => { const c = document.querySelector(sel), d = window.devicePixelRatio || 1;"
        " return Array.from(c.getContext('2d').getImageData(Math.round(x * d), Math.round(y * d), 1, 1).data.slice(0, 3)); }",
        [f"#archive-{panel} canvas.heatmap", x, y]))


def _set_objectives(run: Path, low: float, high: float) -> dict[tuple[int, int, int], float]:
    """Rewrite archive.csv so the objectives span [low, high] (as a good run's 95.6-98.8 do)."""
    with open(run / "archive.csv", newline="") as f:
        reader = csv.DictReader(f)
        fields, rows = reader.fieldnames, list(reader)
    for k, r in enumerate(rows):
        r["objective"] = f"{low + (high - low) * k / (len(rows) - 1):.3f}"
    with open(run / "archive.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields)
        w.writeheader()
        w.writerows(rows)
    return {(int(r["cell_v"]), int(r["cell_a"]), int(r["cell_d"])): float(r["objective"]) for r in rows}


def test_objective_colours_use_the_stated_0_100_scale(run_dir: Path, serve, page):
    """Issue 19: 'objective (0-100)' coloured over min..max made a 96 look bad."""
    objectives = _set_objectives(run_dir, 95.6, 98.8)
    srv, _ = serve(BrowseApp([run_dir]))
    page.goto(srv.url)
    page.wait_for_selector("body[data-ready='1']", timeout=15000)
    legend = page.locator("#archive-0 .legend")
    expect(legend).to_have_attribute("data-mode", "objective")
    assert (legend.get_attribute("data-lo"), legend.get_attribute("data-hi")) == ("0", "100")
    assert legend.locator(".lo").inner_text() == "0" and legend.locator(".hi").inner_text() == "100"
    assert "fixed scale 0–100" in legend.locator(".what").inner_text()
    band = int(page.eval_on_selector("#dom", "e => e.value"))
    shown = {(cv, ca): o for (cv, ca, cd), o in objectives.items() if cd == band}
    assert len(shown) >= 3
    for (cv, ca), o in shown.items():
        want = _viridis(o / 100)
        got = _pixel(page, 0, cv, ca, 4, 4)
        assert max(abs(g - w) for g, w in zip(got, want)) <= 3, ((cv, ca), o, got, want)
        assert got[1] > 215  # 95.6-98.8 out of 100: near the top (yellow), not dark purple

    # the relative scale is there too, and says so
    page.select_option("#mode", "objective-rel")
    expect(legend).to_have_attribute("data-mode", "objective-rel")
    lo, hi = float(legend.get_attribute("data-lo")), float(legend.get_attribute("data-hi"))
    assert (lo, hi) == pytest.approx((min(objectives.values()), max(objectives.values())))
    assert "RELATIVE" in legend.locator(".what").inner_text() and "not 0–100" in legend.locator(".what").inner_text()
    (cv, ca), o = min(shown.items(), key=lambda kv: kv[1])
    want = _viridis((o - lo) / (hi - lo))
    assert max(abs(g - w) for g, w in zip(_pixel(page, 0, cv, ca, 4, 4), want)) <= 3
    assert page.js_errors == []


def test_dominance_is_explained_as_a_proxy_beside_the_slider(run_dir: Path, serve, page):
    srv, _ = serve(BrowseApp([run_dir]))
    page.goto(srv.url)
    page.wait_for_selector("body[data-ready='1']", timeout=15000)
    note = page.locator("#dom-note")
    assert note.is_visible() and "not human-rated" in note.inner_text()
    # beside the slider: in the same control box, just below it
    slider, box = page.locator("#dom").bounding_box(), note.bounding_box()
    assert 0 <= box["y"] - (slider["y"] + slider["height"]) < 30
    note.locator("a").click()
    help_text = page.locator("#dom-help").inner_text()
    assert "not human-rated" in help_text and "word norms" in help_text and "Warriner" in help_text
    assert "proxy" in page.locator("#archive-0 table.vad thead").inner_text()
    assert page.js_errors == []


def test_long_legends_do_not_move_the_detail_panel(run_dir: Path, serve, page):
    """Issue 19: in agreement mode the legend widened the map column and pushed the detail right."""
    srv, _ = serve(BrowseApp([run_dir]))
    page.goto(srv.url)
    page.wait_for_selector("body[data-ready='1']", timeout=15000)
    with open(run_dir / "archive.csv", newline="") as f:
        e = next(r for r in csv.DictReader(f) if int(r["cell_d"]) == int(page.eval_on_selector("#dom", "e => e.value")))
    _click_cell(page, 0, int(e["cell_v"]), int(e["cell_a"]), 4, 4)
    expect(page.locator("#archive-0 .detail")).to_have_attribute("data-index", e["index"], timeout=10000)
    boxes = {}
    for mode in ("objective", "objective-rel", "agreement", "spread", "images", "objective"):
        page.select_option("#mode", mode)
        if mode != "images":
            expect(page.locator("#archive-0 .legend")).to_have_attribute("data-mode", mode)
        mapcol = page.locator("#archive-0 .mapcol").bounding_box()
        legend = page.locator("#archive-0 .legend").bounding_box()
        detail = page.locator("#archive-0 .detail").bounding_box()
        assert mapcol["width"] == pytest.approx(440, abs=0.5), mode
        if mode != "images":
            assert legend["width"] <= mapcol["width"] + 0.5, mode
        assert detail["x"] >= mapcol["x"] + mapcol["width"], mode  # beside the map, not below it
        boxes[mode] = (round(detail["x"]), round(detail["y"]))
    assert len(set(boxes.values())) == 1, boxes
    assert page.js_errors == []


def test_browse_compare_view_shows_the_three_sources(run_dir: Path, tmp_path: Path, serve, page):
    comp = make_demo_compare(tmp_path / "cmp", run_dir, k=2, sources=("generator-shapes", "generator-pixels"))
    srv, _ = serve(BrowseApp([run_dir], compare=[comp]))
    page.goto(srv.url)
    page.wait_for_selector("body[data-ready='1']", timeout=15000)
    head = page.locator("#archive-0 table.compare thead").inner_text()
    assert "explorer" in head and "shapes generator" in head and "pixel generator" in head
    assert page.locator("#archive-0 table.compare td.best").count() >= 5
    with open(run_dir / "archive.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    band = int(page.eval_on_selector("#dom", "e => e.value"))
    e = next(r for r in rows if int(r["cell_d"]) == band)
    _click_cell(page, 0, int(e["cell_v"]), int(e["cell_a"]), 4, 4)
    expect(page.locator("#archive-0 .detail")).to_have_attribute("data-index", e["index"], timeout=10000)
    groups = page.locator("#archive-0 .samples .source-row")
    assert groups.count() == 2
    assert [groups.nth(i).get_attribute("data-source") for i in range(2)] == ["generator-shapes", "generator-pixels"]
    assert groups.nth(0).locator("img").count() == 2 and groups.nth(1).locator("img").count() == 2


def test_a_rating_after_the_idle_connection_was_closed_is_saved(stim_dir: Path, tmp_path: Path, serve, page,
                                                                monkeypatch):
    """The server closes keep-alive connections idle past its request deadline (issue 25): the
    browser opens a new one and the next rating is stored as usual."""
    from qdemo.web import wire

    monkeypatch.setattr(wire, "REQUEST_TIMEOUT_S", 1.0)
    db = tmp_path / "ratings.sqlite"
    srv, _ = serve(RateApp(stim_dir, db, seed=1))
    page.goto(srv.url)
    page.wait_for_selector("body[data-ready='1']", timeout=15000)
    page.fill("#participant", "P02")
    page.click("#start")
    page.wait_for_selector("#trial:not(.hidden)")
    for round_ in range(2):
        page.wait_for_timeout(2500)  # longer than the (patched) deadline: the connections are closed
        _rate_current(page, "535")
        expect(page.locator("#progress-text")).to_have_text(re.compile(rf"^{round_ + 2} /"))
    expect(page.locator("#stimulus")).to_have_js_property("naturalWidth", 16)
    rows = sqlite3.connect(db).execute("SELECT position, valence, arousal, dominance FROM ratings").fetchall()
    assert sorted(rows) == [(0, 5, 3, 5), (1, 5, 3, 5)] and page.js_errors == []
