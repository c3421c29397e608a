"""The generators a comparison judges beside the explorer: which, whether they may join, and why not.

Each ``--generator`` (default: the shipped ``shapes`` and ``pixels`` generators) becomes a
source named ``generator-<kind>`` (``generator-shapes``, ``generator-pixels``). Before any
work is planned each one is checked:

* **its judge**: the searcher it was trained against must be the comparison's searcher
  (weights hash, the key run manifests use). Otherwise one warning line, and the source is
  marked stale in ``summary.json`` and ``report.md``; ``strict`` refuses.
* **its image kind**: a generator that draws through a renderer joins a run only when the run
  renders with the same renderer and options (shapes against shapes, bicolour against
  bicolour). A shipped default that does not fit a run is left out of that run with a note; a
  generator named on the command line that fits none of the runs is an error naming the file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

from qdemo.errors import ConfigError

DEFAULT_GENERATORS = ("shapes", "pixels")
"""What ``qdemo compare`` judges beside the explorer when no ``--generator`` is given."""
IGNORED_RENDERER_KEYS = ("name", "solution_dim", "resolution", "seed")
"""Renderer description entries that do not change the kind of image (sizes are matched by scoring)."""


@dataclass
class GeneratorSource:
    """One generator of a comparison."""

    name: str
    """Source key in summary.json: ``generator-<kind>``."""
    spec: str
    """As given: a shipped name or a path."""
    path: Path
    """Its weights file."""
    kind: str
    """``pixels`` or the renderer's name."""
    renderer: Optional[dict[str, Any]]
    """The rendered generator's renderer description (as a manifest's ``renderer``); None for pixels."""
    meta: dict[str, Any] = field(default_factory=dict)
    """The weights' JSON (training facts, judge)."""
    stale: Optional[str] = None
    """Why its judge is not the comparison's searcher; None when it is."""
    explicit: bool = False
    """Named on the command line (a mismatch with a run is then an error, not a note)."""

    @property
    def train_seconds(self) -> float:
        value = self.meta.get("train_seconds")
        return float(value) if isinstance(value, (int, float)) else float("nan")

    def fits(self, run_renderer: dict[str, Any]) -> Optional[str]:
        """None when this source's images are of the run's kind, else why not."""
        if self.renderer is None:
            return None  # the pixel generator paints any picture: compared with every run
        mine = {k: v for k, v in self.renderer.items() if k not in IGNORED_RENDERER_KEYS}
        theirs = {k: v for k, v in (run_renderer or {}).items() if k not in IGNORED_RENDERER_KEYS}
        if self.renderer.get("name") != run_renderer.get("name"):
            return (f"it draws with the {self.renderer.get('name')!r} renderer, the run with "
                    f"{run_renderer.get('name')!r}")
        if mine != theirs:
            diff = sorted(k for k in set(mine) | set(theirs) if mine.get(k) != theirs.get(k))
            return f"its renderer options differ from the run's ({', '.join(diff)})"
        return None


def open_sources(specs: Sequence[str] | None, judge: dict[str, Any], *, strict: bool = False,
                 warn: Optional[Callable[[str], None]] = None) -> list[GeneratorSource]:
    """The comparison's generators (default: the shipped shapes and pixels ones), checked
    against ``judge`` (the comparison's searcher record); two of one kind are refused."""
    from qdemo.emotion.judge import check_judge, judge_mismatch
    from qdemo.generator.weights_io import MissingWeightsError, load_generator

    explicit = bool(specs)
    out: list[GeneratorSource] = []
    for spec in (specs or DEFAULT_GENERATORS):
        try:
            gen = load_generator(spec)
        except MissingWeightsError:
            if explicit:
                raise
            (warn or _stderr)(f"note: the shipped {spec} generator is not installed; compared without it")
            continue
        meta = getattr(gen, "meta", {})
        kind = "pixels" if getattr(gen, "kind", "pixels") == "pixels" else gen.source_name
        renderer = gen.renderer.describe() if hasattr(gen, "renderer") else None
        src = GeneratorSource(name=f"generator-{kind}", spec=str(spec), path=Path(gen.path), kind=kind,
                              renderer=renderer, meta=meta, explicit=explicit)
        check_judge(meta.get("judge"), judge, what=f"{src.path}: {kind} generator", strict=strict, warn=warn)
        src.stale = judge_mismatch(meta.get("judge"), judge)  # the reason, recorded in summary.json / report.md
        if any(o.name == src.name for o in out):
            raise ConfigError(f"compare: two generators of kind {kind!r} ({out[0].path}, {src.path}); "
                              f"compare one of each kind")
        out.append(src)
    return out


def sources_for_run(sources: Sequence[GeneratorSource], run_name: str, run_renderer: dict[str, Any], *,
                    warn: Optional[Callable[[str], None]] = None) -> tuple[list[GeneratorSource], dict[str, str]]:
    """The sources that draw a run's kind of image, and ``{source: why left out}`` for the others."""
    keep, left = [], {}
    for src in sources:
        why = src.fits(run_renderer)
        if why is None:
            keep.append(src)
            continue
        left[src.name] = why
        (warn or _stderr)(f"note: {src.path}: {src.kind} generator left out of {run_name} ({why})")
    return keep, left


def check_explicit_fit(sources: Sequence[GeneratorSource], left_out: dict[str, dict[str, str]]) -> None:
    """A generator named on the command line that joins none of the runs: ConfigError naming it."""
    for src in sources:
        if src.explicit and left_out and all(src.name in left for left in left_out.values()):
            why = next(iter(left_out.values()))[src.name]
            raise ConfigError(f"{src.path}: a generator for the {src.kind!r} renderer cannot be compared with "
                              f"these runs: {why}")


def _stderr(line: str) -> None:
    import sys

    print(line, file=sys.stderr)


__all__ = ["DEFAULT_GENERATORS", "GeneratorSource", "check_explicit_fit", "open_sources", "sources_for_run"]
