"""Run embarrassingly parallel work as Ray tasks, with retries and an on-disk cache.

Used by comparisons, experiment grids and normalisation shards. Locally Ray starts
itself with the cores the machine has; ``address`` joins a cluster. A task that fails
(an exception, or its worker process dying) is retried up to ``max_retries`` times;
each finished result is written to ``cache_dir/<key>.json`` as soon as it arrives, so a
re-run (after Ctrl-C, a crash or a lost node) recomputes only what is missing.

    results = run_tasks(score_shard, {"shard-000": (paths0,), "shard-001": (paths1,)},
                        cache_dir=out / "cache", address=None)
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from tqdm.auto import tqdm

from qdemo.errors import QdemoError
from qdemo.io import atomic_write_json

_KEY_RE = re.compile(r"^[A-Za-z0-9_.=,+-]{1,200}$")


def init_ray(address: str | None = None, num_cpus: int | None = None) -> None:
    """Start (or join) Ray once per process; quiet, no dashboard."""
    import ray

    if ray.is_initialized():
        return
    kwargs: dict[str, Any] = dict(
        ignore_reinit_error=True, include_dashboard=False, logging_level="ERROR",
        log_to_driver=True, configure_logging=True,
    )
    if address:
        kwargs["address"] = address
    else:
        kwargs["num_cpus"] = num_cpus or os.cpu_count() or 1
        # A local cluster must not try to reach anything outside this machine.
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        # Ray runs workers 15 nice levels below the driver by default; on a busy
        # workstation that starves them. Run them at the driver's priority.
        os.environ.setdefault("RAY_worker_niceness", "0")
    try:
        ray.init(**kwargs)
    except ConnectionError as exc:
        raise QdemoError(f"--ray-address {address!r}: cannot connect to a Ray cluster ({exc})") from None


def _load_cached(path: Path) -> Any | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))["result"]
    except (OSError, ValueError, KeyError):
        return None  # missing or damaged cache entry: recompute


def _run_on_ray(fn: Callable[..., Any], todo: Mapping[str, Sequence[Any]], done: Callable[[str, Any], None],
                bar: Any, *, cpus_per_task: float, max_retries: int) -> None:
    """Submit every task of ``todo`` to Ray (started already); ``done(key, result)`` as each finishes."""
    import ray

    remote = ray.remote(num_cpus=cpus_per_task, max_retries=max_retries, retry_exceptions=True)(fn)
    refs = {remote.remote(*args): key for key, args in todo.items()}
    pending = list(refs)
    while pending:
        ready, pending = ray.wait(pending, num_returns=1)
        for ref in ready:
            try:
                value = ray.get(ref)
            except ray.exceptions.RayError as exc:
                raise QdemoError(f"task {refs[ref]!r} failed after {max_retries} retries: {exc}") from None
            done(refs[ref], value)
            bar.update(1)


def run_tasks(
    fn: Callable[..., Any],
    tasks: Mapping[str, Sequence[Any]],
    *,
    cache_dir: str | os.PathLike | None = None,
    address: str | None = None,
    num_cpus: int | None = None,
    max_retries: int = 3,
    cpus_per_task: float = 1.0,
    backend: str = "ray",
    desc: str = "tasks",
) -> dict[str, Any]:
    """Run ``fn(*args)`` for every ``key -> args`` in ``tasks``; return ``key -> result``.

    ``fn`` must be importable (module-level) and return something JSON-serialisable.
    ``backend="serial"`` runs in this process (debugging, and the baseline for scaling
    benchmarks). Results already in ``cache_dir`` are returned without running.
    """
    if backend not in ("ray", "serial"):
        raise QdemoError(f"backend {backend!r}: use 'ray' or 'serial'")
    for key in tasks:
        if not _KEY_RE.match(key):
            raise ValueError(f"task key {key!r}: use letters, digits and _.=,+- only")
    cache = Path(cache_dir) if cache_dir is not None else None
    cached = {key: _load_cached(cache / f"{key}.json") for key in tasks} if cache is not None else {}
    results: dict[str, Any] = {key: value for key, value in cached.items() if value is not None}
    todo = {key: args for key, args in tasks.items() if key not in results}
    if not todo:
        return {k: results[k] for k in tasks}

    def done(key: str, value: Any) -> None:
        results[key] = value
        if cache is not None:
            atomic_write_json(cache / f"{key}.json", {"key": key, "result": value})

    bar = tqdm(total=len(tasks), initial=len(results), desc=desc, unit="task", leave=False)
    try:
        if backend == "serial":
            for key, args in todo.items():
                done(key, fn(*args))
                bar.update(1)
        else:
            init_ray(address, num_cpus)
            _run_on_ray(fn, todo, done, bar, cpus_per_task=cpus_per_task, max_retries=max_retries)
    finally:
        bar.close()
    return {k: results[k] for k in tasks}
