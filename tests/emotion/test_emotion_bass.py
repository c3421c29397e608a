"""BASS as a rated set: US targets, the Chinese sample as a second rating, stem-grouped folds,
the keyword dominance proxy, and clear errors for BASS-style tables that are wrong."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from qdemo import DIMS
from qdemo.emotion.datasets import RatedSet, bass_stem, concat_sets, detect_format, load_bass, load_dataset
from qdemo.emotion.proxies import WordNorms, add_proxies, keyword_proxy
from qdemo.emotion.splits import assert_no_group_leak, default_folds
from qdemo.errors import DataError

HEADER = ["file_name", "val_mean_us", "aro_mean_us", "val_sd_us", "aro_sd_us", "val_n_us", "aro_n_us",
          "val_mean_ch", "aro_mean_ch", "val_sd_ch", "aro_sd_ch", "val_diff", "aro_diff", "black_px", "white_px",
          "keywords", "source"]
# (file, US valence, US arousal, CN valence, CN arousal, keywords): the CN sample tracks the US one
ROWS = [
    ("dog.png", 7.5, 5.0, 7.0, 5.2, "dog, pet, happy"),
    ("dog2.png", 7.0, 4.5, 6.8, 5.0, "dog, play"),
    ("gun.png", 2.0, 7.0, 2.5, 6.0, "gun, weapon, threat"),
    ("gun3.png", 2.4, 6.5, 3.0, 5.9, "gun, danger"),
    ("cat.png", 6.8, 4.0, 6.1, 4.9, "cat, pet"),
    ("cat5.png", 6.5, 4.2, 6.2, 5.1, "cat, sleep"),
    ("accident.png", 1.3, 7.0, 2.1, 4.5, "crash, harm, car crash"),
    ("tree.png", 5.5, 3.0, 5.6, 4.6, "tree"),
    ("tree2.png", 5.8, 3.2, 5.4, 4.4, "zzzq"),
    ("sun.png", 8.0, 5.5, 7.6, 5.3, "sun, joy"),
]


def _row(f, vu, au, vc, ac, kw, source="Pixabay") -> list[str]:
    return [f, str(vu), str(au), "1.1", "1.9", "96", "96", str(vc), str(ac), "1.5", "2.0",
            f"{vu - vc:.3f}", f"{au - ac:.3f}", "1000 ", "89000 ", f'"{kw}"', source]


def _bass(root: Path, rows=ROWS, *, newline: str = "\r\n", header=HEADER, images: bool = True) -> Path:
    """A BASS-style folder: BASS_data.csv (CRLF like the real file) + images/ of 8x8 PNGs."""
    (root / "images").mkdir(parents=True, exist_ok=True)
    lines = [",".join(header)]
    for r in rows:
        lines.append(",".join(_row(*r)[:len(header)] if len(header) == len(HEADER) else
                              [c for h, c in zip(HEADER, _row(*r)) if h in header]))
        if images:
            arr = np.full((8, 8), min(255, max(0, round(255 * (r[1] - 1) / 8))), np.uint8)  # brighter = more pleasant
            Image.fromarray(arr, "L").save(root / "images" / r[0])
    (root / "BASS_data.csv").write_bytes((newline.join(lines) + newline).encode())
    return root


@pytest.mark.parametrize("newline", ["\r\n", "\r", "\n"])
def test_load_bass_targets_second_sample_groups_and_keywords(tmp_path: Path, newline: str):
    rs = load_bass(_bass(tmp_path / "bass", newline=newline))
    assert rs.name == "bass" and len(rs) == len(ROWS) and not rs.skipped
    us = np.array([[r[1], r[2]] for r in ROWS])
    cn = np.array([[r[3], r[4]] for r in ROWS])
    np.testing.assert_allclose(rs.targets[:, :2], (us - 5) / 4, atol=1e-6)  # 1-9 -> [-1, 1]
    np.testing.assert_allclose(rs.second_targets[:, :2], (cn - 5) / 4, atol=1e-6)
    assert np.isnan(rs.targets[:, 2]).all() and np.isnan(rs.second_targets[:, 2]).all()
    assert rs.sources == {"valence": "human", "arousal": "human", "dominance": "missing"}
    assert rs.groups.tolist() == ["dog", "dog", "gun", "gun", "cat", "cat", "accident", "tree", "tree", "sun"]
    assert rs.keywords[6] == "crash, harm, car crash" and set(rs.strata.tolist()) == {"Pixabay"}
    assert rs.paths[0].name == "dog.png" and rs.paths[0].is_absolute()
    assert rs.info["masked"] == {"us": 0, "cn": 0}
    agree = rs.second_agreement()
    for j, d in enumerate(("valence", "arousal")):
        assert agree[d]["n"] == len(ROWS)
        assert agree[d]["r"] == pytest.approx(np.corrcoef(us[:, j], cn[:, j])[0, 1], abs=1e-6)
    assert "dominance" not in agree
    assert "second rating" in rs.summary() and "valence r=" in rs.summary()


def test_stem_and_format_detection(tmp_path: Path):
    assert [bass_stem(n) for n in ("dog.png", "dog5.png", "dog12.PNG", " couple3.png ", "123.png", "car_crash2")] \
        == ["dog", "dog", "dog", "couple", "123", "car_crash"]
    root = _bass(tmp_path / "b")
    assert detect_format(root) == "bass" and detect_format(root / "BASS_data.csv") == "bass"
    assert len(load_dataset(root)) == len(ROWS)  # auto-detected from BASS_data.csv
    assert len(load_dataset(root / "BASS_data.csv", format="bass")) == len(ROWS)
    renamed = root / "ratings.csv"
    renamed.write_bytes((root / "BASS_data.csv").read_bytes())
    assert len(load_dataset(renamed, format="bass")) == len(ROWS)  # a BASS-style table under another name


def test_folds_are_grouped_by_stem(tmp_path: Path):
    rs = load_bass(_bass(tmp_path / "b"))
    folds, how = default_folds(rs, k=3, seed=0)
    assert "grouped by image stem" in how
    assert sorted(np.concatenate([te for _, te in folds]).tolist()) == list(range(len(rs)))
    for tr, te in folds:
        assert_no_group_leak(rs.groups, tr, te)  # dog.png and dog2.png never on both sides
    with pytest.raises(AssertionError, match="straddle"):
        assert_no_group_leak(rs.groups, np.array([0]), np.array([1]))  # dog vs dog2


def test_missing_images_raise_or_skip_with_a_count(tmp_path: Path):
    root = _bass(tmp_path / "b")
    (root / "images" / "gun3.png").unlink()
    (root / "images" / "tree.png").unlink()
    with pytest.raises(DataError, match=r"BASS_data\.csv: 2 image\(s\) .*'gun3\.png' \(line 5\).*on_missing='skip'"):
        load_bass(root)
    rs = load_bass(root, on_missing="skip")
    assert len(rs) == len(ROWS) - 2 and rs.skipped == [("gun3.png", "image not found"), ("tree.png", "image not found")]
    assert "skipped 2" in rs.summary()


def test_duplicates_out_of_scale_and_unreadable_numbers(tmp_path: Path):
    dup = _bass(tmp_path / "dup", rows=ROWS + [("dog.png", 7.0, 5.0, 7.0, 5.0, "dog")])
    with pytest.raises(DataError, match=r"BASS_data\.csv: line 12: duplicate image 'dog\.png' \(also on line 2\)"):
        load_bass(dup)
    high = _bass(tmp_path / "high", rows=[ROWS[0], ("cat.png", 9.4, 5.0, 6.0, 5.0, "cat")])
    with pytest.raises(DataError, match=r"line 3: valence \(US sample\) 9\.4 in column 'val_mean_us' "
                                        r"is outside the scale \[1, 9\]"):
        load_bass(high)
    low = _bass(tmp_path / "low", rows=[ROWS[0], ("cat.png", 6.0, 5.0, 6.0, 0.5, "cat")])
    with pytest.raises(DataError, match=r"line 3: arousal \(Chinese sample\) 0\.5 in column 'aro_mean_ch'"):
        load_bass(low)
    text = _bass(tmp_path / "txt", rows=ROWS[:2])
    csv = text / "BASS_data.csv"
    csv.write_text(csv.read_text().replace("7.5", "high", 1))
    with pytest.raises(DataError, match=r"line 2: valence \(US sample\) 'high' .* is not a number"):
        load_bass(text)


def test_nan_ratings_of_either_sample(tmp_path: Path):
    root = _bass(tmp_path / "b")
    csv = root / "BASS_data.csv"
    lines = csv.read_text().splitlines()
    cells = lines[3].split(",")
    cells[HEADER.index("aro_mean_ch")] = "NA"  # gun.png: the Chinese arousal is missing
    lines[3] = ",".join(cells)
    cells = lines[8].split(",")
    cells[HEADER.index("val_mean_us")] = ""  # tree.png: the US valence is missing
    lines[8] = ",".join(cells)
    csv.write_text("\r\n".join(lines) + "\r\n")
    with pytest.raises(DataError, match=r"BASS_data\.csv: line 4: arousal \(Chinese sample\) is missing/NaN"):
        load_bass(root)
    rs = load_bass(root, on_nan="mask")
    assert len(rs) == len(ROWS) and rs.info["masked"] == {"us": 1, "cn": 1}
    assert np.isnan(rs.second_targets[2, 1]) and np.isfinite(rs.second_targets[2, 0])
    assert np.isnan(rs.targets[7, 0]) and np.isfinite(rs.targets[7, 1])
    assert rs.second_agreement()["arousal"]["n"] == len(ROWS) - 1


def test_wrong_or_missing_columns(tmp_path: Path):
    no_cn = _bass(tmp_path / "nocn", header=[h for h in HEADER if not h.endswith("_ch")])
    with pytest.raises(DataError, match=r"BASS_data\.csv: not a BASS ratings table: missing column\(s\) "
                                        r"val_mean_ch, aro_mean_ch .*Chinese sample"):
        load_bass(no_cn)
    oasis_like = tmp_path / "o"
    oasis_like.mkdir()
    (oasis_like / "BASS_data.csv").write_text("Theme,Valence_mean,Arousal_mean\nSun 1,5,4\n")
    with pytest.raises(DataError, match=r"not a BASS ratings table: missing column\(s\) file_name, val_mean_us, "
                                        r"aro_mean_us, val_mean_ch, aro_mean_ch .*found: 'Theme'"):
        load_bass(oasis_like)
    head_only = tmp_path / "h"
    head_only.mkdir()
    (head_only / "BASS_data.csv").write_text(",".join(HEADER) + "\r\n")
    with pytest.raises(DataError, match="no data rows"):
        load_bass(head_only)
    with pytest.raises(DataError, match=r"no BASS_data\.csv here"):
        load_bass(tmp_path)
    with pytest.raises(ValueError, match="on_nan"):
        load_bass(no_cn, on_nan="skip")


def test_keyword_dominance_proxy_and_coverage(tmp_path: Path):
    rs = load_bass(_bass(tmp_path / "b"))
    norms = WordNorms(warriner={"dog": np.array([0.5, 0.1, 0.4]), "pet": np.array([0.6, -0.2, 0.2]),
                                "gun": np.array([-0.5, 0.6, -0.6]), "car": np.array([0.1, 0.0, 0.3]),
                                "crash": np.array([-0.8, 0.7, -0.5])},
                      nrc={"tree": np.array([0.3, -0.4, 0.1])})
    filled = add_proxies(rs, norms)
    assert filled.sources["dominance"] == "proxy:warriner+nrc-keywords"
    d = filled.targets[:, 2]
    assert d[0] == pytest.approx(np.mean([0.4, 0.2]))  # dog.png: 'dog', 'pet' (happy is in no lexicon)
    assert d[2] == pytest.approx(-0.6)  # gun.png: 'gun' ('weapon', 'threat' uncovered)
    assert d[6] == pytest.approx(np.mean([-0.5, np.mean([0.3, -0.5])]))  # 'crash' and 'car crash' (harm uncovered)
    assert d[7] == pytest.approx(0.1)  # tree.png: NRC fallback
    assert np.isnan(d[8])  # tree2.png: 'zzzq' is in no lexicon -> masked, not invented
    cov = filled.info["proxy"]["dominance"]
    assert cov["covered"] == int(np.isfinite(d).sum()) and cov["total"] == len(rs)
    assert cov["keywords_nrc_only"] == 1 and cov["keywords_covered"] < cov["keywords_total"]
    np.testing.assert_array_equal(filled.targets[:, :2], rs.targets[:, :2])  # human ratings untouched
    kept = keyword_proxy(rs, norms, dims=("valence",))  # never replaces a human rating unless asked
    assert kept.sources["valence"] == "human"
    np.testing.assert_array_equal(kept.targets[:, 0], rs.targets[:, 0])


def test_concat_keeps_the_second_rating_and_keywords(tmp_path: Path):
    bass = load_bass(_bass(tmp_path / "b"))
    oasis = RatedSet(name="oasis", root=tmp_path, paths=[tmp_path / f"o{i}.jpg" for i in range(4)],
                     targets=np.zeros((4, 3)), sources={"valence": "human", "arousal": "human"}, groups=np.array(list("aabb")),
                     strata=np.array(["x"] * 4))
    both = concat_sets([oasis, bass])
    n = len(oasis)
    assert both.second_targets.shape == (len(both), 3) and np.isnan(both.second_targets[:n]).all()
    np.testing.assert_array_equal(both.second_targets[n:], bass.second_targets)
    assert both.keywords[:n].tolist() == [""] * n and both.keywords[n] == "dog, pet, happy"
    assert both.subset(np.arange(n, len(both))).second_agreement() == bass.second_agreement()


def test_training_includes_bass_with_its_own_folds(tmp_path: Path, capsys):
    """`qdemo regressor train --set data.bass=...` adds BASS to the joint split, grouped by stem,
    and reports it per set (held-out metrics and the second sample's agreement)."""
    from qdemo.cli import main
    from qdemo.config import load_config
    from qdemo.emotion.train import RegressorConfig, load_training_data

    rows = [(f"{name}{i if i else ''}.png", 2 + 5 * k / 7 + 0.3 * i, 5.0 + 0.2 * i, 2.3 + 5 * k / 7, 5.1, name)
            for k, name in enumerate(["axe", "bee", "cow", "doe", "elk", "fox", "gnu", "hen"]) for i in range(3)]
    root = _bass(tmp_path / "bass", rows=rows)
    cfg_file = tmp_path / "reg.yaml"
    cfg_file.write_text("data: {oasis: null, emotion6: null, word_norms: null}\nfolds: 3\nbaselines: false\n"
                        "searcher: {name: tiny-s, views: 1, model: {backbone: tiny, resolution: 16, members: 3}}\n"
                        "roles: [searcher]\n")
    cfg = load_config(RegressorConfig, cfg_file, {"data.bass": str(root)})
    data = load_training_data(cfg)
    assert data.split["bass"].startswith("3-fold grouped by image stem")
    for f in range(3):
        assert_no_group_leak(data.rated.groups, np.flatnonzero(data.fold != f), np.flatnonzero(data.fold == f))
    out = tmp_path / "w"
    rc = main(["regressor", "train", "--config", str(cfg_file), "--set", f"data.bass={root}", "--out-dir", str(out),
               "--cache-dir", str(tmp_path / "cache"), "--device", "cpu"])
    assert rc == 0, capsys.readouterr().err
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["roles"]["searcher"]["cv"]["bass"]["valence"]["n"] == len(rows)
    agree = metrics["data"]["bass"]["second_sample_agreement"]
    assert agree["valence"]["r"] > 0.9 and agree["arousal"]["n"] == len(rows)
    card = (out / "MODEL_CARD.md").read_text()
    assert "## bass: held-out metrics" in card and "CC BY 4.0" in card and "Second rater sample" in card


def _real_bass() -> Path:
    env = os.environ.get("QDEMO_DATASETS")
    root = (Path(env) if env else Path(__file__).resolve().parents[2].parent / "shared" / "datasets") / "bass"
    if not (root / "BASS_data.csv").exists():
        pytest.skip(f"BASS not found at {root} (optional resource: ../shared/datasets/bass)")
    return root


def test_real_bass():
    rs = load_bass(_real_bass())
    assert len(rs) == 583 and not rs.skipped and rs.info["masked"] == {"us": 0, "cn": 0}
    stems = dict(zip((p.name for p in rs.paths), rs.groups))
    assert stems["dog.png"] == stems["dog5.png"] == "dog" and stems["couple9.png"] == "couple"
    assert len(np.unique(rs.groups)) < len(rs)
    assert np.abs(rs.targets[:, :2]).max() <= 1.0 and np.abs(rs.second_targets[:, :2]).max() <= 1.0
    agree = rs.second_agreement()
    assert agree["valence"]["r"] > 0.9 and 0.1 < agree["arousal"]["r"] < 0.45
    for tr, te in default_folds(rs, k=5, seed=0)[0]:
        assert_no_group_leak(rs.groups, tr, te)
    norms_dir = _real_bass().parent / "word-norms"
    if norms_dir.exists():
        filled = add_proxies(rs, WordNorms.load(norms_dir))
        cov = filled.info["proxy"]["dominance"]
        assert filled.sources["dominance"].startswith("proxy:") and cov["covered"] >= 0.9 * len(rs)
        assert set(DIMS[:2]) == set(filled.human_rated())
