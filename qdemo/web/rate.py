"""``qdemo rate``: a Self-Assessment Manikin (SAM) rating session in the browser.

JSON API used by ``static/rate.html``:

- ``GET /api/study`` -> number of stimuli
- ``POST /api/session`` ``{"participant"}`` -> the participant's progress; creates the
  participant's seeded order on the first visit, continues it afterwards
- ``GET /api/trial?participant=P&position=i`` -> the trial (image URL, earlier answer if any)
- ``POST /api/rate`` ``{"participant", "position", "valence", "arousal", "dominance", "rt_ms"}``
  -> stores the rating at once; HTTP 400 with ``{"error": ...}`` for anything malformed

Both bodies follow one rule: unknown fields and missing ones are refused
(:func:`~qdemo.web.params.check_fields`), and a number in a body is a JSON number, never a
string (``"position": "5"`` is refused as ``"valence": "5"`` is); only the URL's query and
path carry numbers as text.
- ``GET /image/<participant>/<position>`` -> the image shown at that position

Images are addressed by position in the participant's order, so neither the page nor the
URL says which stimulus (let alone which source) is shown.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from qdemo.web.params import check_fields, parse_index, parse_number, parse_whole
from qdemo.web.ratings import DIMS, RatingStore, check_participant, check_score, load_stimuli
from qdemo.web.server import App, HTTPError, Request, Response, file_response, json_response

SESSION_FIELDS = ("participant",)
"""Fields of ``POST /api/session`` (all required)."""
RATE_FIELDS = ("participant", "position", *DIMS)
"""Required fields of ``POST /api/rate``; ``rt_ms`` is optional."""
MAX_RT_MS = 1e8
"""Longest response time accepted (ms, about 28 hours)."""


class RateApp(App):
    """Serves a stimulus folder for rating and stores the answers in ``db``."""

    title = "qdemo rate"

    def __init__(self, stimuli_dir: str | os.PathLike, db: str | os.PathLike, *, seed: int = 0):
        self.root = Path(os.path.realpath(stimuli_dir))
        self.stimuli = load_stimuli(stimuli_dir)
        self.by_id = {s.id: s for s in self.stimuli}
        self.ids = [s.id for s in self.stimuli]
        self.seed = int(seed)
        self.store = RatingStore(db)
        self.store.bind_study(self.root, self.ids, self.seed)

    def close(self) -> None:
        self.store.close()

    def routes(self):
        return [
            ("GET", re.compile(r"/"), lambda r: self.page("rate.html")),
            ("GET", re.compile(r"/api/study"), self.api_study),
            ("POST", re.compile(r"/api/session"), self.api_session),
            ("GET", re.compile(r"/api/trial"), self.api_trial),
            ("POST", re.compile(r"/api/rate"), self.api_rate),
            ("GET", re.compile(r"/image/([^/]+)/([0-9]+)"), self.image),
        ]

    # -- helpers (a RatingError / ParamError is sent as HTTP 400 by the server) ---------------
    def _order(self, participant: str) -> list[str]:
        order = self.store.order(participant)
        if order is None:
            raise HTTPError(400, f"participant {participant!r} has no session: POST /api/session first")
        return order

    def _position(self, value: Any, order: list[str], *, url: bool = False) -> int:
        """A position in ``order``: ASCII digits in the URL, a JSON integer in a body."""
        if url:
            value = parse_index(value, "position")
        return parse_whole(value, "position", 0, len(order) - 1)

    def _progress(self, participant: str, order: list[str]) -> dict[str, Any]:
        done = self.store.ratings_of(participant)
        nxt = next((i for i, sid in enumerate(order) if sid not in done), None)
        return {"participant": participant, "total": len(order), "done": len(done), "next": nxt}

    # -- endpoints ---------------------------------------------------------------------------
    def api_study(self, req: Request) -> Response:
        return json_response({"n_stimuli": len(self.stimuli), "scale": [1, 9], "dims": list(DIMS)})

    def api_session(self, req: Request) -> Response:
        data = req.json()
        check_fields(data, SESSION_FIELDS)
        participant = check_participant(data["participant"])
        order, resumed = self.store.session(participant, self.ids, self.seed)
        missing = [sid for sid in order if sid not in self.by_id]
        if missing:
            raise RuntimeError(f"participant {participant}: stored order names stimuli that are gone: {missing[:3]}")
        return json_response({**self._progress(participant, order), "resumed": resumed})

    def api_trial(self, req: Request) -> Response:
        participant = check_participant(req.arg("participant"))
        order = self._order(participant)
        pos = self._position(req.arg("position"), order, url=True)
        prev = self.store.ratings_of(participant).get(order[pos])
        return json_response({
            "position": pos, "total": len(order),
            "image": f"/image/{participant}/{pos}", "rating": prev,
        })

    def api_rate(self, req: Request) -> Response:
        data = req.json()
        check_fields(data, RATE_FIELDS, ("rt_ms",))
        participant = check_participant(data["participant"])
        order = self._order(participant)
        pos = self._position(data["position"], order)
        scores = {d: check_score(d, data[d]) for d in DIMS}
        rt = data.get("rt_ms")
        if rt is not None:
            rt = parse_number(rt, "rt_ms", 0, MAX_RT_MS, unit="milliseconds")
        new = self.store.rate(participant, order[pos], pos, scores, rt)
        return json_response({"ok": True, "new": new, **self._progress(participant, order)})

    def image(self, req: Request) -> Response:
        participant = check_participant(req.match.group(1))
        order = self._order(participant)
        pos = self._position(req.match.group(2), order, url=True)
        stim = self.by_id[order[pos]]
        rel = stim.path.relative_to(self.root).as_posix()
        resp = file_response(self.root, rel, decoded=True, cache=False)
        return resp


__all__ = ["RATE_FIELDS", "RateApp", "SESSION_FIELDS"]
