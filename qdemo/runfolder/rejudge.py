"""Re-judging a run with another searcher: ``qdemo evolve --resume RUN --searcher NEW --rejudge``.

A plain ``--resume`` refuses a searcher other than the run's (its cells would mean something
else). Re-judging is the explicit path: the checkpoint's explorer is loaded as it was (emitters,
random generators, counters), every elite is scored again by the new searcher, the archives
are emptied and the re-scored elites put back, each in the cell the new searcher places it in
(two elites landing in one cell: the better objective stays), and the search continues from
there. The manifest's ``searcher_history`` keeps the models that judged the run before, with the
iteration each judged until.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from qdemo.emotion.zoo import model_sha256
from qdemo.errors import CheckpointError
from qdemo.qd.build import Search
from qdemo.runfolder.checkpoint import SEARCH_KEYS, load_checkpoint, search_key
from qdemo.runfolder.schema import CHECKPOINT


def load_rejudged(run_dir: str | Path, search: Search) -> dict[str, Any]:
    """Continue ``search`` (built with the new searcher) from ``run_dir``'s checkpoint, its elites
    re-scored and re-placed; returns what changed (for the manifest). CheckpointError when the
    checkpoint belongs to another search (anything but the searcher differs) or the searcher is
    the one the run already has."""
    folder = Path(run_dir) / CHECKPOINT
    new = {"search": search_key(search.config), "searcher_sha256": model_sha256(search.searcher),
           "solution_dim": int(search.renderer.solution_dim)}
    head = load_checkpoint(folder, new, only=tuple(new))  # the identity first, as plain data
    old = head.get("search") if isinstance(head.get("search"), dict) else {}
    diff = [k for k in SEARCH_KEYS if k != "searcher" and old.get(k) != new["search"].get(k)]
    if diff:
        raise CheckpointError(f"{folder}: written with a different configuration ({', '.join(diff)} differ); "
                              f"--rejudge changes only the searcher")
    if head.get("solution_dim") != new["solution_dim"]:
        raise CheckpointError(f"{folder}: solution size {head.get('solution_dim')} does not match the renderer")
    if head.get("searcher_sha256") == new["searcher_sha256"]:
        raise CheckpointError(f"{folder}: the run is already judged by this searcher "
                              f"({new['searcher_sha256'][:12]}...); resume it without --rejudge")
    # the explorer, along the state of the freshly built search (qdemo.runfolder.statefile)
    state = load_checkpoint(folder, {**new, "explorer": search.explorer.state()})["explorer"]
    ex = search.explorer
    ex.load_state(state)
    elites = ex.elites()
    n_before = len(elites["solution"])
    batch = search.scorer.score(elites["solution"])  # the new judge
    for archive in {id(a): a for a in (ex.archives.archive, ex.archives.result) if a is not None}.values():
        archive.clear()
        if n_before:
            archive.add(elites["solution"], batch.objective, batch.measures, **batch.fields())
    return {"iteration": int(ex.iteration), "searcher_sha256": head.get("searcher_sha256"),
            "searcher_spec": old.get("searcher"), "elites_before": int(n_before),
            "elites_after": int(ex.archive.stats.num_elites)}


__all__ = ["load_rejudged"]
