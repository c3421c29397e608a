"""Typed configuration of ``qdemo evolve`` (``configs/evolve.yaml`` + overrides).

Every field has its documentation right below it; ``qdemo evolve --help-config`` prints
them. Nested sections are addressed with dots: ``--set grid.cells=[8,8,8]``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from qdemo import EMOTIONS
from qdemo.errors import ConfigError
from qdemo.measure_space import KINDS, MeasureSpace
from qdemo.qd.emitters import EMITTER_KINDS, EMITTERS, GRADIENT_EMITTERS

GRIDS = KINDS
"""The kinds of grid (:class:`qdemo.measure_space.MeasureSpace`)."""


HUMAN_REGION: tuple[tuple[float, float], ...] = ((-0.9, 0.8), (-0.7, 0.55), (-0.4, 0.45))
"""The default grid ranges (V, A, D): 1st-99th percentile of the human ratings of OASIS, Emotion6
and BASS on the canonical scale, rounded out to 0.05 (dominance: of its word-norm proxy); measured
by ``qdemo regressor train`` (metrics.json ``va_coverage.ranges``). Outside it a cell labelled
"valence -1" would be a place no rated image sits."""


@dataclass
class GridConfig:
    """The archive: which measures, how many cells, over which ranges."""

    name: str = "vad"
    """'vad': 3-D grid over (valence, arousal, dominance); 'va': 2-D grid over (valence,
    arousal); 'cvt': centroidal Voronoi tessellation over (V, A, D) with `cvt_cells` cells;
    'emotions': one slot per discrete emotion of the searcher's distribution head (`slots`,
    optionally x `intensity_bands`; docs/evolve.md)."""
    cells: list[int] = field(default_factory=lambda: [10, 10, 5])
    """Cells per measure (V, A, D); 'va' uses the first two."""
    ranges: list[list[float]] = field(default_factory=lambda: [list(r) for r in HUMAN_REGION])
    """[low, high] per measure (default: :data:`HUMAN_REGION`, where human ratings of real images
    lie), within the canonical [-1, 1] scale the models output (a range
    reaching beyond it is refused); measures outside a narrower range are clipped to it (so
    they land in the edge cells)."""
    cvt_cells: int = 200
    """Number of Voronoi cells for grid 'cvt'."""
    cvt_samples: int = 20000
    """Uniform samples used by k-means to place the CVT centroids (seeded)."""
    slots: list[str] = field(default_factory=list)
    """Grid 'emotions': the emotions that get a slot, by name (anger, disgust, fear, joy, sadness,
    surprise, neutral); empty = all 7. An image goes to the slot of its most probable emotion
    among these."""
    intensity_bands: int = 1
    """Grid 'emotions': bands of the searcher's probability of the slot's emotion, per slot
    (1 = a 1-D archive with one elite per emotion)."""
    intensity_range: list[float] = field(default_factory=lambda: [0.0, 1.0])
    """Grid 'emotions': [low, high] of that probability, split into `intensity_bands` equal
    bands (within [0, 1]; probabilities outside land in the edge bands)."""

    def space(self, *, seed: int = 0) -> MeasureSpace:
        """The measure space of this grid (``seed``: the run's, which places a CVT's centroids)."""
        return MeasureSpace.from_config(self, seed=seed)

    @property
    def measure_dim(self) -> int:
        return self.space().ndim

    def validate(self) -> None:
        """Raise ConfigError for an unknown grid, bad cell counts or ranges (part of EvolveConfig.validate)."""
        if self.name not in GRIDS:
            raise ConfigError(f"grid.name {self.name!r}: unknown grid; valid grids: {', '.join(GRIDS)}")
        m = self.measure_dim
        if self.name == "emotions":
            self.validate_slots()
        elif self.name != "cvt":
            if len(self.cells) < m:
                raise ConfigError(f"grid.cells {self.cells}: grid {self.name!r} needs {m} cell counts")
            if any(c < 1 for c in self.cells[:m]):
                raise ConfigError(f"grid.cells {self.cells}: every cell count must be >= 1")
        elif self.cvt_cells < 2 or self.cvt_samples < self.cvt_cells:
            raise ConfigError(f"grid.cvt_cells={self.cvt_cells}, grid.cvt_samples={self.cvt_samples}: "
                              "need 2 <= cvt_cells <= cvt_samples")
        if len(self.ranges) < m:
            raise ConfigError(f"grid.ranges {self.ranges}: grid {self.name!r} needs {m} [low, high] ranges")
        for dim, rg in zip(("valence", "arousal", "dominance"), self.ranges[:m]):
            _check_range(dim, rg)


    def slot_names(self) -> list[str]:
        """Grid 'emotions': the slots' emotions in order (`slots`, or all of :data:`qdemo.EMOTIONS`)."""
        return list(self.slots) if self.slots else list(EMOTIONS)

    def validate_slots(self) -> None:
        """ConfigError for unknown or repeated slot names and impossible intensity bands."""
        unknown = [s for s in self.slots if s not in EMOTIONS]
        if unknown:
            raise ConfigError(f"grid.slots: unknown emotion(s) {', '.join(map(repr, unknown))}; valid slots: "
                              f"{', '.join(EMOTIONS)} (the emotions of the models' distribution head)")
        if len(set(self.slots)) != len(self.slots):
            raise ConfigError(f"grid.slots {self.slots}: each emotion may be listed once")
        if self.intensity_bands < 1:
            raise ConfigError(f"grid.intensity_bands={self.intensity_bands}: must be >= 1")
        rg = self.intensity_range
        if len(rg) != 2 or not 0.0 <= float(rg[0]) < float(rg[1]) <= 1.0:
            raise ConfigError(f"grid.intensity_range {rg}: expected [low, high] with 0 <= low < high <= 1 "
                              f"(a probability)")


def _check_range(dim: str, rg: list[float]) -> None:
    """ConfigError unless ``rg`` is [low, high] with -1 <= low < high <= 1."""
    if len(rg) != 2:
        raise ConfigError(f"grid.ranges for {dim}: expected [low, high], got {rg}")
    lo, hi = float(rg[0]), float(rg[1])
    if not lo < hi:
        raise ConfigError(f"grid.ranges for {dim}: impossible range [{lo}, {hi}] (low must be < high)")
    if lo < -1.0 or hi > 1.0:
        raise ConfigError(
            f"grid.ranges for {dim}: [{lo}, {hi}] reaches outside the emotion scale [-1, 1]; the "
            f"emotion models output every dimension on [-1, 1] ((rating - mid) / half range), so cells "
            f"beyond it can never be filled and would count as empty coverage. Use a range within "
            f"[-1, 1], e.g. [-1, 1] or [-0.5, 0.5]")


@dataclass
class RendererConfig:
    """How a solution vector becomes an image."""

    name: str = "shapes"
    """Registered renderer: shapes | cppn | pixels | fourier | generator (see qdemo.render.RENDERERS)."""
    resolution: int = 64
    """Side of the rendered images in pixels (the searcher resizes to its own input size)."""
    options: Optional[dict[str, Any]] = None
    """Renderer-specific keyword options, e.g. {grid: 8} for pixels, {max_freq: 4} for
    fourier, {hidden: 8, layers: 2} for cppn, {palette: bicolour, shapes: 9} for shapes. None:
    the renderer's run defaults (`default_options` of its class: shapes' bicolour palette)."""

    def resolved_options(self) -> dict[str, Any]:
        """The options the renderer is built with: `options`, or its class's `default_options`."""
        if self.options is not None:
            return dict(self.options)
        from qdemo.render.base import renderer_class

        return dict(renderer_class(self.name).default_options)


@dataclass
class EmitterConfig:
    """The search algorithm (all emitters come from pyribs)."""

    name: str = "cma-mae"
    """random | map-elites | iso-line | cma-me | cma-mae | cma-mega | cma-maega | bandit | hybrid."""
    num_emitters: int = 4
    """Emitters run side by side; the batch is split evenly between them."""
    sigma: float = 0.4
    """Initial step size in solution space: Gaussian sigma (random, map-elites), CMA-ES
    sigma0 (cma-me, cma-mae); iso-line uses it as iso_sigma. cma-mega / cma-maega use
    `grad_sigma`."""
    line_sigma: float = 0.2
    """iso-line: standard deviation along the line between two elites."""
    learning_rate: Optional[float] = None
    """Archive threshold learning rate (CMA-MAE's alpha). None: 0.01 for cma-mae and
    cma-maega, 1.0 (plain elitist archive) otherwise; a value < 1 with cma-mega gives
    CMA-MAEGA."""
    threshold_min: float = 0.0
    """Initial cell threshold of the soft archive (objectives are >= 0)."""
    grad_lr: Optional[float] = None
    """cma-mega / cma-maega: learning rate of the Adam step on the gradient-arborescence centre; None:
    the renderer's own (`gradient_steps` of its class in qdemo.render), or `grad_defaults` when set."""
    grad_sigma: Optional[float] = None
    """cma-mega / cma-maega: sigma0 of the CMA-ES over the gradient coefficients. The objective and
    measure gradients are normalised to unit length (pyribs `normalize_grad`), so this is
    the typical step length along each gradient in solution space; None: the renderer's own
    (`gradient_steps` of its class), or `grad_defaults` when set."""
    grad_defaults: Optional[dict[str, dict[str, float]]] = None
    """Overrides of the per-renderer step sizes: {renderer name: {grad_lr, grad_sigma}}, 'default'
    for renderers not listed, used where `grad_lr` / `grad_sigma` are null. None: each renderer's
    own step sizes (`gradient_steps` on its class)."""
    ranker: Optional[str] = None
    """pyribs ranker for cma-* emitters; None: the emitter's default (qdemo.qd.emitters registry:
    'imp' for cma-mae / cma-maega and for cma-mega with `learning_rate` < 1, '2imp' for cma-me /
    cma-mega)."""
    restart_rule: Optional[str] = None
    """CMA-ES restart rule for cma-* emitters: 'no_improvement', 'basic' or None: the emitter's
    default ('basic' for cma-mae / cma-maega as in the pyribs CMA-MAE tutorial, 'no_improvement'
    for cma-me / cma-mega), and 'no_improvement' for every kind on grid 'emotions' (its few slots
    fill early; docs/evolve.md)."""
    bandit_pool: list[str] = field(default_factory=lambda: ["map-elites", "iso-line", "cma-me"])
    """bandit: emitter kinds in the pool; `num_emitters` of each, `num_emitters` active."""
    bandit_zeta: float = 0.05
    """bandit: UCB1 exploration weight."""
    hybrid_pool: list[str] = field(default_factory=lambda: ["cma-maega", "map-elites"])
    """hybrid: the kinds of the `num_emitters` emitters run side by side in one scheduler (the
    list is repeated to length `num_emitters`: two of each with the default four). Any kind
    but random, bandit and hybrid; with a gradient kind in it the scheduler runs the DQD loop
    and the others take no gradient (how pools compare: docs/benchmarks.md)."""

    def kinds(self) -> list[str]:
        """The kind of each of the `num_emitters` emitters."""
        if self.name == "hybrid":
            return [self.hybrid_pool[i % len(self.hybrid_pool)] for i in range(self.num_emitters)]
        return [self.name] * self.num_emitters

    def gradient_steps(self, renderer: str) -> tuple[float, float]:
        """cma-mega / cma-maega's (grad_lr, grad_sigma) on renderer ``renderer`` (its name): the
        explicit fields, else (with `grad_defaults` set) ``grad_defaults[renderer]``, else
        ``grad_defaults['default']``; without `grad_defaults`, the renderer class's own."""
        if self.grad_defaults is None:
            from qdemo.render.base import renderer_class

            tables = [renderer_class(renderer).gradient_steps]
        else:
            tables = [self.grad_defaults.get(renderer), self.grad_defaults.get("default")]
        out = []
        for key in ("grad_lr", "grad_sigma"):
            value = getattr(self, key)
            if value is None:
                for table in tables:
                    if isinstance(table, dict) and key in table:
                        value = table[key]
                        break
            if value is None:
                raise ConfigError(f"emitter.{key} is null and emitter.grad_defaults has no {key!r} for "
                                  f"renderer {renderer!r} nor under 'default'")
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
                raise ConfigError(f"emitter.{key}={value!r} (renderer {renderer!r}): must be a number > 0")
            out.append(float(value))
        return out[0], out[1]

    def validate(self, *, batch_size: int, renderer: str) -> None:
        """Raise ConfigError for an unknown emitter or pool, bad step sizes, or a ``batch_size``
        the emitters cannot share (part of EvolveConfig.validate; ``renderer``: its name)."""
        if self.name not in EMITTERS:
            raise ConfigError(f"emitter.name {self.name!r}: unknown emitter; valid emitters: {', '.join(EMITTERS)}")
        self._validate_pools()
        if self.num_emitters < 1:
            raise ConfigError(f"emitter.num_emitters={self.num_emitters}: must be >= 1")
        if batch_size < self.num_emitters or batch_size % self.num_emitters:
            raise ConfigError(f"batch_size={batch_size}: must be a positive multiple of "
                              f"emitter.num_emitters={self.num_emitters}")
        if any(EMITTER_KINDS[k].cma_es for k in self.kinds()) and batch_size // self.num_emitters < 2:
            raise ConfigError(f"batch_size={batch_size}: CMA-ES needs >= 2 solutions per emitter")
        if self.restart_rule not in (None, "basic", "no_improvement"):
            raise ConfigError(f"emitter.restart_rule {self.restart_rule!r}: use basic or no_improvement")
        if self.sigma <= 0:
            raise ConfigError(f"emitter.sigma={self.sigma}: must be > 0")
        for name, table in (self.grad_defaults or {}).items():
            if not isinstance(table, dict) or set(table) - {"grad_lr", "grad_sigma"}:
                raise ConfigError(f"emitter.grad_defaults.{name}: expected a mapping with grad_lr and/or "
                                  f"grad_sigma, got {table!r}")
        if any(EMITTER_KINDS[k].gradients for k in self.kinds()):
            self.gradient_steps(renderer)  # raises ConfigError for missing or bad step sizes
        if self.learning_rate is not None and not 0.0 <= self.learning_rate <= 1.0:
            raise ConfigError(f"emitter.learning_rate={self.learning_rate}: must lie in [0, 1]")

    def _validate_pools(self) -> None:
        """The kinds named in ``bandit_pool`` (always) and ``hybrid_pool`` (for hybrid) can be pooled."""
        for p in self.bandit_pool:
            if p not in EMITTER_KINDS or not EMITTER_KINDS[p].bandit:
                valid = [k for k, kind in EMITTER_KINDS.items() if kind.bandit]
                raise ConfigError(f"emitter.bandit_pool: {p!r} cannot be pooled; use {', '.join(valid)}")
        if self.name != "hybrid":
            return
        if not self.hybrid_pool:
            raise ConfigError("emitter.hybrid_pool is empty: name the emitters to run side by side, "
                              "e.g. [cma-maega, map-elites]")
        for p in self.hybrid_pool:
            if p not in EMITTER_KINDS or not EMITTER_KINDS[p].hybrid:
                valid = [k for k, kind in EMITTER_KINDS.items() if kind.hybrid]
                raise ConfigError(f"emitter.hybrid_pool: {p!r} cannot be mixed; use {', '.join(valid)}")


@dataclass
class ObjectiveConfig:
    """The objective in [0, 100] (see docs/evolve.md)."""

    agreement_weight: float = 1.0
    """Weight of ensemble agreement: 1 - mean standard deviation of the searcher members
    (members live on [-1, 1], so their SD is at most 1)."""
    content_weight: float = 1.0
    """Weight of the content prior: image statistics (contrast, edge density, spectral slope)
    inside the range measured on the rated images (qdemo.qd.content); ~0 for a near-uniform
    field or pixel noise."""
    prior_weight: float = 0.0
    """Weight of the smoothness prior exp(-TV / tv_scale), TV = mean absolute difference
    of neighbouring pixels (0: off; a uniform field is the smoothest image)."""
    combine: str = "product"
    """How the weighted terms combine: 'product' (weighted geometric mean: every term must be
    good, so a flat field scores ~0) or 'mean' (weighted arithmetic mean, the objective of
    qdemo before 0.2: agreement 0.75 + smoothness 0.25)."""
    tv_scale: float = 0.1
    """Total-variation scale of the smoothness prior."""
    views: list[str] = field(default_factory=lambda: ["identity"])
    """Deterministic views the searcher scores per image (identity, flip, zoom, blur); the
    measures and the ensemble spread are taken over all views x members. More views = more
    robust elites (more of them confirmed by the critic) at views x the scoring cost."""


@dataclass
class DatasetConfig:
    """Real photos scored by the searcher as a reference coverage (optional)."""

    path: Optional[str] = None
    """Folder of images (or a dataset root such as ../shared/datasets/oasis); None: no reference."""
    format: str = "auto"
    """'auto' (a rated set if recognised: OASIS.csv, ground_truth.txt, BASS_data.csv or a CSV
    file; else every image under `path`), 'oasis', 'emotion6', 'bass', 'csv' (read by
    qdemo.emotion.load_dataset) or 'folder'."""
    max_images: int = 200
    """Score at most this many photos (a seeded subset), to bound the time."""
    thumbnails: bool = True
    """Write <=128 px thumbnails to reference/ in the run folder."""
    required: bool = True
    """When false, a `path` that does not exist is skipped with a note instead of an error
    (configs/evolve.yaml points at the shared/datasets/oasis folder beside the clone, which a
    fresh machine lacks)."""


@dataclass
class EvolveConfig:
    """Everything ``qdemo evolve`` needs; written to the run folder as config.yaml."""

    seed: int = 0
    """Seed of every random generator of the run (emitters, archive, renderer init)."""
    iterations: int = 200
    """Number of ask/tell iterations."""
    batch_size: int = 32
    """Solutions scored per iteration (split over the emitters; cma-mega adds one
    gradient evaluation per emitter)."""
    device: str = "auto"
    """auto | cpu | cuda[:N]: where rendering and scoring run."""
    searcher: str = "searcher"
    """Model the search optimises: 'searcher' (shipped), 'critic', 'tiny' (untrained test
    model) or a path to a weights file."""
    critic: str = "critic"
    """Model that re-scores the elites at the end: 'critic' (shipped), 'tiny:1', a path,
    or 'none' to skip confirmation."""
    out_root: str = "archives"
    """Folder that holds the run folders."""
    name: Optional[str] = None
    """Run folder name; None: '<grid>-<emitter>-<renderer>-s<seed>'."""
    max_minutes: float = 0.0
    """Stop the search after this many minutes (then confirm and write outputs as usual);
    0 = no limit. A run stopped by time has fewer iterations than asked (recorded in the
    manifest), so it is not reproducible iteration for iteration."""
    checkpoint_every: int = 10
    """Write a resumable checkpoint every this many iterations (and on Ctrl-C/SIGTERM)."""
    score_chunk: int = 0
    """At most this many images go through the searcher at once; 0 = auto (16 on CPU, 256 on a
    GPU; why: docs/benchmarks.md)."""
    save_elite_images: bool = True
    """Write elites/cell_<index>.png for every elite at the end."""
    grid: GridConfig = field(default_factory=GridConfig)
    """The archive."""
    renderer: RendererConfig = field(default_factory=RendererConfig)
    """The image parameterisation."""
    emitter: EmitterConfig = field(default_factory=EmitterConfig)
    """The search algorithm."""
    objective: ObjectiveConfig = field(default_factory=ObjectiveConfig)
    """The objective."""
    dataset: DatasetConfig = field(default_factory=DatasetConfig)
    """Optional reference photos."""

    def run_name(self) -> str:
        return self.name or f"{self.grid.name}-{self.emitter.name}-{self.renderer.name}-s{self.seed}"

    def run_dir(self) -> Path:
        return Path(self.out_root) / self.run_name()

    def validate(self) -> None:
        """Raise ConfigError for values no run can use (names, ranges, sizes)."""
        self.grid.validate()
        self.emitter.validate(batch_size=self.batch_size, renderer=self.renderer.name)
        if self.iterations < 0:
            raise ConfigError(f"iterations={self.iterations}: must be >= 0")
        if self.score_chunk < 0:
            raise ConfigError(f"score_chunk={self.score_chunk}: must be >= 0 (0 = auto)")
        if self.max_minutes < 0:
            raise ConfigError(f"max_minutes={self.max_minutes}: must be >= 0 (0 = no limit)")
        if self.checkpoint_every < 1:
            raise ConfigError(f"checkpoint_every={self.checkpoint_every}: must be >= 1")
        o = self.objective
        weights = (o.agreement_weight, o.content_weight, o.prior_weight)
        if min(weights) < 0 or sum(weights) <= 0:
            raise ConfigError("objective: agreement_weight, content_weight and prior_weight must be >= 0, "
                              "not all 0")
        if o.combine not in ("product", "mean"):
            raise ConfigError(f"objective.combine {o.combine!r}: use product or mean")
        if o.tv_scale <= 0:
            raise ConfigError(f"objective.tv_scale={o.tv_scale}: must be > 0")
        from qdemo.emotion.datasets.dispatch import FORMATS  # the rated-set formats, defined once

        if self.dataset.format not in (*FORMATS, "folder"):
            raise ConfigError(f"dataset.format {self.dataset.format!r}: use {', '.join(FORMATS)} or folder")
        if self.renderer.resolution < 8:
            raise ConfigError(f"renderer.resolution={self.renderer.resolution}: must be >= 8")
