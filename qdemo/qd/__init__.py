"""Quality-diversity search over valence-arousal-dominance cells (pyribs).

    from qdemo.qd import EvolveConfig, Explorer
    result = Explorer(EvolveConfig(iterations=20, searcher="tiny", critic="tiny:1")).run("archives/demo")

Public names are re-exported lazily: importing ``qdemo.qd`` imports neither torch nor ribs.
"""

from qdemo._lazy import lazy_exports

__all__ = [
    "EMITTERS", "GRIDS", "DatasetConfig", "EmitterConfig", "EvolveConfig", "Explorer", "GridConfig",
    "ObjectiveConfig", "RendererConfig", "RunInterrupted", "RunResult", "ScoreBatch", "Scorer",
    "build_renderer", "load_checkpoint", "run_evolve", "save_checkpoint", "total_variation",
]

__getattr__, __dir__ = lazy_exports(__name__, {
    "checkpoint": ("load_checkpoint", "save_checkpoint"),
    "config": ("EMITTERS", "GRIDS", "DatasetConfig", "EmitterConfig", "EvolveConfig", "GridConfig",
               "ObjectiveConfig", "RendererConfig"),
    "explorer": ("Explorer", "RunInterrupted", "RunResult", "build_renderer", "run_evolve"),
    "scoring": ("ScoreBatch", "Scorer", "total_variation"),
})
