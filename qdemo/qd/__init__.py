"""Quality-diversity search over valence-arousal-dominance cells (pyribs).

    from qdemo.qd import EvolveConfig, Explorer
    result = Explorer(EvolveConfig(iterations=20, searcher="tiny", critic="tiny:1")).run("archives/demo")
"""

from qdemo.qd.checkpoint import load_checkpoint, save_checkpoint
from qdemo.qd.config import (EMITTERS, GRIDS, DatasetConfig, EmitterConfig, EvolveConfig, GridConfig,
                             ObjectiveConfig, RendererConfig)
from qdemo.qd.explorer import Explorer, RunInterrupted, RunResult, build_renderer, run_evolve
from qdemo.qd.scoring import ScoreBatch, Scorer, total_variation

__all__ = [
    "EMITTERS", "GRIDS", "DatasetConfig", "EmitterConfig", "EvolveConfig", "Explorer", "GridConfig",
    "ObjectiveConfig", "RendererConfig", "RunInterrupted", "RunResult", "ScoreBatch", "Scorer",
    "build_renderer", "load_checkpoint", "run_evolve", "save_checkpoint", "total_variation",
]
