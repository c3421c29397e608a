"""Quality-diversity search over valence-arousal-dominance cells (pyribs).

    from qdemo.qd import EvolveConfig, build_search
    search = build_search(EvolveConfig(iterations=20, searcher="tiny", critic="tiny:1"))
    search.explorer.step()

Running a search to the end and writing its run folder is :func:`qdemo.runfolder.run_evolve`.
Public names are re-exported lazily: importing ``qdemo.qd`` imports neither torch nor ribs.
"""

from qdemo._lazy import lazy_exports

__all__ = [
    "EMITTERS", "GRIDS", "TERMS", "VIEWS", "Agreement", "DatasetConfig", "EmitterConfig", "EvolveConfig",
    "Explorer", "GridConfig", "Objective", "ObjectiveConfig", "RendererConfig", "ScoreBatch", "Scorer", "Search",
    "Smoothness", "Term", "Views", "build_renderer", "build_scorer", "build_search", "critic_vad",
    "total_variation",
]

__getattr__, __dir__ = lazy_exports(__name__, {
    "build": ("Search", "build_renderer", "build_scorer", "build_search"),
    "config": ("EMITTERS", "GRIDS", "DatasetConfig", "EmitterConfig", "EvolveConfig", "GridConfig",
               "ObjectiveConfig", "RendererConfig"),
    "explorer": ("Explorer",),
    "objective": ("TERMS", "Agreement", "Objective", "Smoothness", "Term", "total_variation"),
    "scoring": ("ScoreBatch", "Scorer", "critic_vad"),
    "views": ("VIEWS", "Views"),
})
