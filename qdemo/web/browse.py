"""``qdemo browse``: the archive browser (heatmap, elite detail, samples, photos).

JSON API used by ``static/browse.html``:

- ``GET /api/archives`` -> one summary per archive (grid, manifest metrics, counts, and the
  comparison's metrics per source when a comparison folder covers it)
- ``GET /api/archive/<i>/cells`` -> grid + every elite (coords, objective, VAD, critic, spread)
- ``GET /api/archive/<i>/cell/<index>`` -> one elite, each generator's samples (``source``), nearest photos
  and what the critic's classifiers see in it (``classes``, from ``classes.json``; [] without one)
- ``GET /files/archive/<i>/<relpath>``, ``GET /files/compare/<j>/<relpath>`` -> images under
  that run / comparison folder only (see :mod:`qdemo.web.safepath`)
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path
from typing import Any, Sequence
from urllib.parse import quote, unquote

from qdemo.errors import DataError
from qdemo.web.archive import RunArchive, Samples
from qdemo.web.params import parse_index
from qdemo.web.server import App, HTTPError, Request, Response, file_response, json_response

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp")


def _url(kind: str, i: int, rel: str) -> str | None:
    if not rel:
        return None
    return f"/files/{kind}/{i}/" + quote(rel.replace(os.sep, "/"), safe="/")


class BrowseApp(App):
    """Serves one or more archive run folders (and optional comparison folders)."""

    title = "qdemo browse"

    def __init__(self, archives: Sequence[str | os.PathLike], *, compare: Sequence[str | os.PathLike] = ()):
        if not archives:
            raise DataError("qdemo browse: give at least one archive run folder")
        self.archives = [RunArchive.open(p) for p in archives]
        self.compare = [Samples.open(p) for p in compare]
        names = {a.name for a in self.archives}
        self.warnings: list[str] = []
        for s in self.compare:
            if s.by_cell and not (s.archive_names & names):
                self.warnings.append(
                    f"{s.root}/samples.csv: no rows for the archives shown "
                    f"(it names {', '.join(sorted(s.archive_names))}; shown: {', '.join(sorted(names))})"
                )

    def routes(self):
        return [
            ("GET", re.compile(r"/"), lambda r: self.page("browse.html")),
            ("GET", re.compile(r"/api/archives"), self.api_archives),
            ("GET", re.compile(r"/api/archive/([0-9]+)/cells"), self.api_cells),
            ("GET", re.compile(r"/api/archive/([0-9]+)/cell/([0-9]+)"), self.api_cell),
            ("GET", re.compile(r"/files/archive/([0-9]+)/(.+)"), self.files_archive),
            ("GET", re.compile(r"/files/compare/([0-9]+)/(.+)"), self.files_compare),
        ]

    # -- helpers -----------------------------------------------------------------------------
    def _archive(self, text: str) -> tuple[int, RunArchive]:
        i = parse_index(text, "archive number")
        if not 0 <= i < len(self.archives):
            raise HTTPError(404, f"no archive {i} (serving {len(self.archives)})")
        run = self.archives[i]
        try:
            run.refresh()
        except DataError as exc:  # a run being rewritten: keep the last good copy
            if not run.elites:  # nothing good to show: the detail (with paths) to the log only
                sys.stderr.write(f"qdemo browse: {exc}\n")
                raise HTTPError(503, f"archive {i} cannot be read right now (the server's log says why)") from None
        return i, run

    def _cell_json(self, i: int, e: dict[str, Any]) -> dict[str, Any]:
        out = {k: v for k, v in e.items() if k != "image"}
        out["url"] = _url("archive", i, e["image"])
        return out

    # -- endpoints ---------------------------------------------------------------------------
    def api_archives(self, req: Request) -> Response:
        out = []
        for i, run in enumerate(self.archives):
            self._archive(str(i))  # re-read a run being written
            s = run.summary()
            s["id"] = i
            s["n_samples"] = sum(
                len(recs) for c in self.compare for (name, _), recs in c.by_cell.items() if name == run.name
            )
            s["compare"] = next((c.compare_for(run.name) for c in self.compare if c.compare_for(run.name)), None)
            out.append(s)
        return json_response({"archives": out, "warnings": self.warnings})

    def api_cells(self, req: Request) -> Response:
        i, run = self._archive(req.match.group(1))
        cells = [self._cell_json(i, e) for e in sorted(run.elites.values(), key=lambda e: e["index"])]
        return json_response({"id": i, "name": run.name, "grid": run.grid.to_json(), "cells": cells})

    def api_cell(self, req: Request) -> Response:
        i, run = self._archive(req.match.group(1))
        index = parse_index(req.match.group(2), "cell index")
        e = run.elites.get(index)
        if e is None:
            raise HTTPError(404, f"archive {run.name}: cell {index} is empty")
        samples = []
        for j, comp in enumerate(self.compare):
            for s in comp.for_cell(run.name, index):
                samples.append({**{k: v for k, v in s.items() if k != "image"},
                                "url": _url("compare", j, s["image"])})
        photos = [
            {**{k: v for k, v in p.items() if k != "image"}, "url": _url("archive", i, p["image"])}
            for p in run.nearest_photos(e["vad"])
        ]
        return json_response({"archive": i, "name": run.name, "elite": self._cell_json(i, e),
                              "samples": samples, "photos": photos, "classes": run.classes.get(index, [])})

    def _image(self, root: Path, rel: str) -> Response:
        try:
            text = unquote(rel, errors="strict")  # decoded once, here; never again
        except UnicodeDecodeError:
            raise HTTPError(404, "no such file") from None
        if not text.lower().endswith(IMAGE_SUFFIXES):
            raise HTTPError(403, "refused: only image files are served")
        return file_response(root, text, decoded=True)

    def files_archive(self, req: Request) -> Response:
        i = parse_index(req.match.group(1), "archive number")
        if i >= len(self.archives):
            raise HTTPError(404, f"no archive {i}")
        return self._image(self.archives[i].root, req.match.group(2))

    def files_compare(self, req: Request) -> Response:
        j = parse_index(req.match.group(1), "comparison folder number")
        if j >= len(self.compare):
            raise HTTPError(404, f"no comparison folder {j}")
        return self._image(self.compare[j].root, req.match.group(2))


__all__ = ["BrowseApp"]
