"""One judge: every shipped model trained against an emotion model names the shipped searcher
(name and weights hash, the key run manifests use), and shipped metadata holds no machine paths.

When the searcher is retrained, these fail until the generators and normalisers are retrained
against it (docs/generator.md, docs/normalise.md: the commands are in their model cards)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2] / "qdemo"
TRAINED_AGAINST_A_JUDGE = {
    "generator-pixels": ROOT / "generator" / "weights" / "generator.json",
    "generator-shapes": ROOT / "generator" / "weights" / "generator-shapes.json",
    "pix2pix": ROOT / "normalise" / "weights" / "pix2pix.json",
    "pix2pix_group": ROOT / "normalise" / "weights" / "pix2pix_group.json",
}
MACHINE_PATH = re.compile(r"^(/|~|[A-Za-z]:[\\/])")


def _judge(meta: dict) -> dict | None:
    return meta.get("judge") or (meta.get("info") or {}).get("judge")


@pytest.mark.parametrize("name", sorted(TRAINED_AGAINST_A_JUDGE))
def test_shipped_model_names_the_shipped_searcher(name):
    from qdemo.emotion.judge import describe_judge, shipped_judge

    path = TRAINED_AGAINST_A_JUDGE[name]
    assert path.is_file(), f"{path}: the shipped {name} model's description is missing"
    judge = _judge(json.loads(path.read_text(encoding="utf-8")))
    now = shipped_judge()
    assert judge and judge.get("sha256") == now["sha256"], (
        f"{path}: trained against {describe_judge(judge)}, but the shipped searcher is {describe_judge(now)}: "
        f"retrain it (its model card gives the command)")
    assert judge["name"] == now["name"]


def _strings(obj, where=""):
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _strings(v, f"{where}.{k}")
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _strings(v, f"{where}[{i}]")
    elif isinstance(obj, str):
        yield where, obj


@pytest.mark.parametrize("folder", ["generator", "normalise"])
def test_no_machine_paths_in_shipped_metadata(folder):
    files = sorted((ROOT / folder / "weights").glob("*.json"))
    assert files
    for f in files:
        bad = [(w, s) for w, s in _strings(json.loads(f.read_text(encoding="utf-8"))) if MACHINE_PATH.match(s)]
        assert not bad, f"{f}: machine paths in shipped metadata: {bad[:3]}"
