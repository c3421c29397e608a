"""The browser's compare view reads a comparison folder: samples by source and the metrics of
explorer, shapes generator and pixel generator side by side (API level; the page: test_web_browser)."""

from __future__ import annotations

import json
from pathlib import Path

from qdemo.web import BrowseApp
from qdemo.web.demo import make_demo_compare

SOURCES = ("generator-shapes", "generator-pixels")


def test_compare_view_api(run_dir: Path, tmp_path: Path, serve):
    comp = make_demo_compare(tmp_path / "cmp", run_dir, k=2, sources=SOURCES)
    summary = json.loads((comp / "summary.json").read_text())
    summary["archives"]["run_a"]["metrics"]["cost_per_usable_image"]["generator-pixels"] = float("inf")
    summary["generators"]["generator-pixels"]["stale"] = "trained against searcher-old"
    (comp / "summary.json").write_text(json.dumps(summary))  # Infinity: not JSON for a browser
    _, client = serve(BrowseApp([run_dir], compare=[comp]))
    status, info = client.json("GET", "/api/archives")
    assert status == 200
    cmp = info["archives"][0]["compare"]
    assert cmp["sources"] == ["explorer", *SOURCES]
    assert set(cmp["metrics"]["critic_error"]) == {"explorer", *SOURCES, "winner"}
    assert set(cmp["metrics"]["within_cell_diversity"]) == {*SOURCES, "winner"}
    assert cmp["metrics"]["cost_per_usable_image"]["generator-pixels"] is None
    assert cmp["stale"] == {"generator-pixels": "trained against searcher-old"}
    status, cells = client.json("GET", "/api/archive/0/cells")
    idx = cells["cells"][0]["index"]
    status, cell = client.json("GET", f"/api/archive/0/cell/{idx}")
    assert status == 200 and [s["source"] for s in cell["samples"]] == ["generator-shapes"] * 2 + ["generator-pixels"] * 2
    assert all(client.request("GET", s["url"])[0] == 200 for s in cell["samples"])
    assert client.request("GET", "/static/browse_compare.js")[0] == 200


def test_old_comparison_folder_without_source_or_summary(run_dir: Path, tmp_path: Path, serve):
    comp = make_demo_compare(tmp_path / "cmp", run_dir, k=2)
    lines = (comp / "samples.csv").read_text().splitlines()
    cols = lines[0].split(",")
    drop = cols.index("source")
    (comp / "samples.csv").write_text("\n".join(",".join(c for i, c in enumerate(r.split(",")) if i != drop)
                                                for r in lines) + "\n")
    (comp / "summary.json").unlink()
    _, client = serve(BrowseApp([run_dir], compare=[comp]))
    assert client.json("GET", "/api/archives")[1]["archives"][0]["compare"] is None
    idx = client.json("GET", "/api/archive/0/cells")[1]["cells"][0]["index"]
    cell = client.json("GET", f"/api/archive/0/cell/{idx}")[1]
    assert [s["source"] for s in cell["samples"]] == ["generator", "generator"]
