"""Build and run an explorer from Python (e.g. in a notebook), then look at the result.

    python examples/evolve_api.py                       # shipped searcher/critic, ~1 minute
    python examples/evolve_api.py --tiny --iterations 3 --out /tmp/demo   # test budget
"""

from __future__ import annotations

import argparse

from qdemo.qd import EvolveConfig, build_search
from qdemo.runfolder import run_evolve


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tiny", action="store_true", help="untrained tiny models (for tests)")
    ap.add_argument("--iterations", type=int, default=30)
    ap.add_argument("--out", default="archives/api-example")
    args = ap.parse_args(argv)

    cfg = EvolveConfig(iterations=args.iterations, batch_size=16, seed=1)
    cfg.grid.name = "va"                     # 2-D valence x arousal grid
    cfg.grid.cells = [8, 8]
    cfg.emitter.name = "cma-me"
    cfg.renderer.name, cfg.renderer.options = "fourier", {}   # (the default is shapes with its palette)
    cfg.dataset.path = None                  # no reference photos
    if args.tiny:
        cfg.searcher, cfg.critic = "tiny", "tiny:1"
        cfg.renderer.resolution = 16

    search = build_search(cfg)               # renderer, searcher, scorer, archives, scheduler -> explorer
    explorer = search.explorer
    for _ in range(2):                       # drive it by hand for a few steps ...
        row = explorer.step()
        print(f"iteration {row['iteration']}: {row['num_elites']} cells, QD score {row['qd_score']:.1f}")
    result = run_evolve(cfg, search=search, out_dir=args.out, progress=False, force=True)   # ... then let it finish
    m = result.metrics
    print(f"{result.out_dir}: coverage {m['coverage']:.1%}, normalised QD {m['qd_score_normalised']:.2f}, "
          f"critic confirms {m['critic_confirmed']:.0%} (within one cell {m['critic_within_one_cell']:.0%})")

    from qdemo.viz import plot_all           # heatmaps by dominance band, montage, metric curves

    for name, paths in plot_all(result.out_dir).items():
        print(f"{name}: {', '.join(str(p) for p in paths[:3])}")

    best = explorer.elites()
    i = int(best["objective"].argmax())
    print(f"best elite: cell {int(best['index'][i])}, objective {best['objective'][i]:.1f}, "
          f"VAD {best['vad'][i].round(2).tolist()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
