"""python docs/experiments/generator_realset.py RUN [OUT.json]
(environment: QDEMO_DATASETS = the shared/datasets folder, QDEMO_CACHE = a cache folder)

Which real images should the shapes generator's discriminator see? Measured in the critic's
feature space (the comparison's): distance of the default run's elites, and of random shapes
renders, to BASS's silhouettes and to OASIS+Emotion6 photos; and the searcher's VA spread of each set."""
import json, sys, numpy as np, torch
torch.set_num_threads(1)
from qdemo.generator.data import load_photo_tensor, score_photos
from qdemo.compare.metrics import FeatureSpace, mean_pairwise_distance, photo_subset
from qdemo.emotion.zoo import load_emotion_model
from qdemo.io import load_image
from qdemo.runfolder import read_run
from qdemo.render import make_renderer
import os
DATASETS = os.environ.get("QDEMO_DATASETS", "../shared/datasets")  # the shared/datasets folder
cache = os.environ.get("QDEMO_CACHE", "../cache/generator")
crit = load_emotion_model("critic", role="critic")
srch = load_emotion_model("searcher", role="searcher")
bass, _ = load_photo_tensor([f"{DATASETS}/bass/images"], 64, cache_dir=cache)
photos, _ = load_photo_tensor([f"{DATASETS}/oasis/images", f"{DATASETS}/emotion6/images"], 64, cache_dir=cache)
photos, tag = photo_subset(photos, 600, 0, "64")
fb = score_photos(bass, crit, cache_dir=cache, tag="64bass", what="features").numpy()
fp = score_photos(photos, crit, cache_dir=cache, tag=tag, what="features").numpy()
run = read_run(sys.argv[1], require=("image",))
elites = torch.stack([load_image(run.image_path(i)) for i in range(run.n)])
r = make_renderer("shapes", resolution=64, seed=0, palette="bicolour")
x0 = torch.tensor(r.initial_solution(), dtype=torch.float32)
with torch.no_grad():
    rand = r(x0 + torch.randn(len(elites), r.solution_dim, generator=torch.Generator().manual_seed(0)))
    fe = crit.features(elites).numpy(); fr = crit.features(rand).numpy()
    va_b = score_photos(bass, srch, cache_dir=cache, tag="64bass").numpy()
    va_p = score_photos(photos, srch, cache_dir=cache, tag=tag).numpy()
space = FeatureSpace.fit(np.concatenate([fb, fp]), 64)
pb, pp, pe, pr = (space.project(f) for f in (fb, fp, fe, fr))
def fid(a, b):
    from qdemo.compare.metrics import gaussian, frechet_distance
    m1, c1 = gaussian(a); m2, c2 = gaussian(b); return frechet_distance(m1, c1, m2, c2)
def nn(a, b):
    d = np.sqrt(np.maximum((a*a).sum(1)[:, None] + (b*b).sum(1)[None] - 2*a@b.T, 0)); return float(d.min(1).mean())
out = {"n": {"bass": len(pb), "photos": len(pp), "elites": len(pe), "random_shapes": len(pr)}}
for name, p in (("elites", pe), ("random_shapes", pr)):
    out[name] = {"fid_to_bass": fid(p, pb), "fid_to_photos": fid(p, pp), "nn_to_bass": nn(p, pb), "nn_to_photos": nn(p, pp)}
out["bass_vs_photos_fid"] = fid(pb, pp)
out["diversity"] = {"bass": mean_pairwise_distance(pb), "photos": mean_pairwise_distance(pp), "elites": mean_pairwise_distance(pe)}
for name, va in (("bass", va_b), ("photos", va_p)):
    out[f"searcher_va_{name}"] = {"valence_1_99": np.percentile(va[:, 0], [1, 99]).tolist(), "arousal_1_99": np.percentile(va[:, 1], [1, 99]).tolist()}
print(json.dumps(out, indent=1))
if len(sys.argv) > 2:
    json.dump(out, open(sys.argv[2], "w"), indent=1)
