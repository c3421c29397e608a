"""Fooling through the classifier (issue 24): do a run's elites drive the ImageNet classifiers?

For the run's elites and for random renders of the same renderer (x0 plus Gaussian noise of
2.5 x the emitter's sigma, seeded), each backbone's top-1 class is taken. Printed per
classifier (the searcher's and each of the critic's backbones):

- the entropy of the top-1 class histogram (bits; random renders subsampled to the elites'
  count, median of 20 draws): lower for the elites = their classes concentrate;
- the median top-class probability: a classifier much surer of the elites than of random
  renders, while the other backbones are not, is being driven by the search;
- the top-1 agreement between classifiers.

    python docs/experiments/classifier_fooling.py archives/vad-cma-mae-shapes-s0 [SEARCHER_SPEC]

SEARCHER_SPEC (default ``searcher``) must be the model the run was searched with: a model
with ``model.semantic`` or any wheel backbone works (docs/emotion-model.md, "The semantic
channel"). Figures quoted there: about 3 minutes on 2 CPU cores.
"""

from __future__ import annotations

import sys
from collections import Counter

import numpy as np
import torch

from qdemo.emotion.semantic import class_probabilities, classifier_parts, imagenet_classes
from qdemo.emotion.zoo import load_emotion_model
from qdemo.io import load_image
from qdemo.runfolder import read_config, read_run
from qdemo.qd.build import build_renderer

N_RANDOM = 400


def entropy_bits(top: list[int]) -> float:
    c = np.array(list(Counter(top).values()), float)
    p = c / c.sum()
    return float(-(p * np.log2(p)).sum())


def random_renders(cfg, n: int) -> torch.Tensor:
    """``n`` renders of the run's renderer (an EvolveConfig) around its initial solution."""
    r = build_renderer(cfg)
    x0 = torch.as_tensor(np.asarray(r.initial_solution()), dtype=torch.float32)
    gen = torch.Generator().manual_seed(0)
    sols = x0 + cfg.emitter.sigma * 2.5 * torch.randn(n, len(x0), generator=gen)
    with torch.no_grad():
        return torch.cat([r(sols[i:i + 64]) for i in range(0, n, 64)])


def probabilities(part, images: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return torch.cat([class_probabilities(part, images[j:j + 32]) for j in range(0, len(images), 32)])


def main(run_dir: str, searcher: str = "searcher") -> None:
    run = read_run(run_dir, require=("image",), check_images=True)
    elites = torch.stack([load_image(run.image_path(i)) for i in range(run.n)])
    rand = random_renders(read_config(run_dir), N_RANDOM)
    names = imagenet_classes()
    top1: dict[str, list[int]] = {}
    for role, spec in (("searcher", searcher), ("critic", "critic")):
        model = load_emotion_model(spec, role=role)
        for part in classifier_parts(model):
            pe, pr = probabilities(part, elites), probabilities(part, rand)
            te, tr = pe.argmax(1).tolist(), pr.argmax(1).tolist()
            g = np.random.default_rng(0)
            ent_r = np.median([entropy_bits([tr[k] for k in g.choice(len(tr), len(te), replace=False)])
                               for _ in range(20)])
            key = f"{role}:{part.spec.backbone}"
            top1[key] = te
            common = ", ".join(f"{names[c]} {n}" for c, n in Counter(te).most_common(4))
            print(f"{key}: entropy elites {entropy_bits(te):.2f} / random {ent_r:.2f} bits; median top-class "
                  f"probability elites {pe.max(1).values.median():.3f} / random {pr.max(1).values.median():.3f}; "
                  f"elites' top classes: {common}")
    keys = list(top1)
    for a in range(len(keys)):
        for b in range(a + 1, len(keys)):
            agree = np.mean(np.array(top1[keys[a]]) == np.array(top1[keys[b]]))
            print(f"top-1 agreement {keys[a]} vs {keys[b]}: {agree:.2f}")
    print(f"{run.n} elites, {N_RANDOM} random renders")


if __name__ == "__main__":
    main(*sys.argv[1:3])
