"""python docs/experiments/generator_trial_eval.py GEN [--mode plane|cells --run RUN --cells N --out OUT.json]
(environment: QDEMO_DATASETS = the shared/datasets folder, QDEMO_CACHE = a cache folder)

Quick critic-judged evaluation of a generator for recipe trials.
plane: 5x5 valence x arousal targets over [-0.9, 0.9] (corners included), dominance 0: critic mean |error| (V, A).
cells: a seeded subset of a run's cells: critic error to the centre (V, A, D) and coverage (tol 0.25) of the
generator vs the run's elites (the critic columns evolve wrote), and within/across-cell diversity in the critic's
PCA feature space (fitted on BASS + 600 OASIS/Emotion6 photos, cached by realset.py)."""
import argparse, json, numpy as np, torch
torch.set_num_threads(1)
from qdemo.compare.metrics import FeatureSpace, mean_pairwise_distance, photo_subset
from qdemo.emotion.zoo import load_emotion_model
from qdemo.generator.data import load_photo_tensor, score_photos
from qdemo.generator.sample import generate
from qdemo.generator.weights_io import load_generator
ap = argparse.ArgumentParser(); ap.add_argument("gen"); ap.add_argument("--mode", default="plane")
ap.add_argument("--run"); ap.add_argument("--k", type=int, default=4); ap.add_argument("--cells", type=int, default=30)
ap.add_argument("--out")
a = ap.parse_args()
import os
DATASETS = os.environ.get("QDEMO_DATASETS", "../shared/datasets")  # the shared/datasets folder
cache = os.environ.get("QDEMO_CACHE", "../cache/generator")
crit = load_emotion_model("critic", role="critic")
bass, _ = load_photo_tensor([f"{DATASETS}/bass/images"], 64, cache_dir=cache, progress=False)
photos, _ = load_photo_tensor([f"{DATASETS}/oasis/images", f"{DATASETS}/emotion6/images"], 64, cache_dir=cache, progress=False)
photos, tag = photo_subset(photos, 600, 0, "64")
fb = score_photos(bass, crit, cache_dir=cache, tag="64bass", what="features", progress=False).numpy()
fp = score_photos(photos, crit, cache_dir=cache, tag=tag, what="features", progress=False).numpy()
space = FeatureSpace.fit(np.concatenate([fb, fp]), 64)
g = load_generator(a.gen)
res = {"gen": a.gen, "mode": a.mode, "k": a.k}
if a.mode == "plane":
    vals = np.linspace(-0.9, 0.9, 5)
    targets = np.array([[v, ar, 0.0] for ar in vals for v in vals])
    dims = [0, 1]
else:
    from qdemo.runfolder import read_run
    run = read_run(a.run, require=("image",))
    rng = np.random.default_rng(0)
    pick = np.sort(rng.choice(run.n, min(a.cells, run.n), replace=False))
    grid = run.grid
    targets = np.array([grid.centre(grid.unravel(run.indices[i])) for i in pick])
    elite_crit = np.array([[run.value(f"critic_{d}", i) for d in ("valence", "arousal", "dominance")] for i in pick])
    dims = [0, 1, 2]
    e_err = np.abs(elite_crit - targets).mean(1)
    res["explorer_critic_error"] = float(e_err.mean())
    res["explorer_coverage"] = float((np.abs(elite_crit - targets).max(1) <= 0.25).mean())
cond = np.repeat(targets, a.k, axis=0)
imgs = generate(g, cond, seed=0)
with torch.no_grad():
    preds, feats = [], []
    for i in range(0, len(imgs), 16):
        p, f = crit.predict_with_features(imgs[i:i + 16]); preds.append(p.mean.numpy()); feats.append(f.numpy())
pred = np.concatenate(preds); feat = space.project(np.concatenate(feats))
err = np.abs(pred - cond)
res["critic_error_va"] = float(err[:, :2].mean()); res["critic_error_v"] = float(err[:, 0].mean()); res["critic_error_a"] = float(err[:, 1].mean())
res["critic_error_grid_dims"] = float(err[:, dims].mean())
within = (np.abs(pred - cond)[:, dims].max(1) <= 0.25).reshape(len(targets), a.k)
res["coverage"] = float(within.any(1).mean())
F = feat.reshape(len(targets), a.k, -1)
res["within"] = float(np.mean([mean_pairwise_distance(f) for f in F]))
res["across"] = mean_pairwise_distance(F[:, 0])
res["within_over_across"] = res["within"] / res["across"]
res["critic_corr_v"] = float(np.corrcoef(pred[:, 0], cond[:, 0])[0, 1]); res["critic_corr_a"] = float(np.corrcoef(pred[:, 1], cond[:, 1])[0, 1])
print(json.dumps(res, indent=1))
if a.out:
    json.dump(res, open(a.out, "w"), indent=1)
