"""Word-norm proxies for dominance: lemmatisation, theme and emotion-word proxies."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from qdemo.emotion.datasets import EMOTIONS, RatedSet, load_emotion6, load_oasis
from qdemo.emotion.proxies import (
    WordNorms, add_proxies, emotion6_proxy, lemma_candidates, oasis_theme_proxy, proxy_validity,
    theme_word_norms, tokenize,
)
from qdemo.errors import DataError


@pytest.fixture()
def norms_dir(tmp_path: Path) -> Path:
    d = tmp_path / "norms"
    d.mkdir()
    rows = [("car", 7, 4, 6), ("crash", 3, 7, 3), ("body", 5, 4, 5), ("box", 5, 3, 5),
            ("scare", 2, 7, 3), ("sun", 8, 4, 6), ("anger", 2.5, 6, 5), ("disgust", 3, 5, 5),
            ("fear", 3, 6, 3), ("joy", 8, 5.5, 7), ("sadness", 2.4, 3, 4), ("surprise", 7, 6.5, 5),
            ("neutral", 5.5, 3.5, 6)]
    text = ",Word,V.Mean.Sum,V.SD.Sum,A.Mean.Sum,A.SD.Sum,D.Mean.Sum,D.SD.Sum\r\n"
    text += "".join(f"{i},{w},{v},1,{a},1,{dd},1\r\n" for i, (w, v, a, dd) in enumerate(rows))
    (d / "Ratings_Warriner_et_al.csv").write_text(text, newline="")
    (d / "NRC-VAD-Lexicon.txt").write_text("Word\tValence\tArousal\tDominance\nlava\t0.5\t0.75\t0.25\n"
                                           "car\t0\t0\t0\n")
    return d


def _set(tmp_path: Path, groups, dist=None) -> RatedSet:
    paths = []
    for i in range(len(groups)):
        p = tmp_path / f"{i}.png"
        Image.new("RGB", (8, 8)).save(p)
        paths.append(p)
    t = np.full((len(groups), 3), np.nan, np.float32)
    t[:, 0] = np.linspace(-0.5, 0.5, len(groups))
    return RatedSet(name="mini", root=tmp_path, paths=paths, targets=t,
                    sources={"valence": "human", "arousal": "missing", "dominance": "missing"},
                    groups=np.array(groups), strata=np.array(["s"] * len(groups)), emotion_dist=dist)


def test_tokenize_and_lemmas():
    assert tokenize("Car crash 2 ") == ["car", "crash"]
    assert tokenize("Running away!") == ["running", "away"]
    assert tokenize("Bottle of the sea") == ["bottle", "sea"]
    assert "body" in lemma_candidates("bodies")
    assert "box" in lemma_candidates("boxes") and "box" in lemma_candidates("boxing")
    assert "scare" in lemma_candidates("scared")
    assert "run" in lemma_candidates("running")
    assert "cat" in lemma_candidates("cats") and "glass" in lemma_candidates("glass")
    assert lemma_candidates("glass") == ["glass"]


def test_wordnorms_lookup_canonical_and_fallback(norms_dir: Path):
    n = WordNorms.load(norms_dir)
    vad, form, lex = n.lookup("Cars")
    assert (form, lex) == ("car", "warriner")  # Warriner wins over NRC
    assert vad.tolist() == pytest.approx([0.5, -0.25, 0.25])  # (x - 5) / 4
    vad, form, lex = n.lookup("lava")
    assert lex == "nrc" and vad.tolist() == pytest.approx([0.0, 0.5, -0.5])  # 2x - 1
    assert n.lookup("zzyzx") is None
    ph = n.phrase("Car crash")
    assert ph.vad.tolist() == pytest.approx([0.0, 0.125, -0.125])  # mean of car, crash
    ph = n.phrase("Scared unknownword")
    assert ph.missing == ["unknownword"] and ph.words[0][1] == "scare"
    assert n.phrase("qqq") is None
    with pytest.raises(DataError, match="word norms not found"):
        WordNorms.load(norms_dir / "nowhere")


def test_oasis_theme_proxy_fills_dominance_with_coverage(norms_dir: Path, tmp_path: Path):
    rs = _set(tmp_path, ["Car crash", "Car crash", "Sun", "Qwerty"])
    out = oasis_theme_proxy(rs, WordNorms.load(norms_dir))
    assert out.sources["dominance"] == "proxy:warriner-theme-words"
    assert out.sources["valence"] == "human"
    d = out.targets[:, 2]
    assert d[:3].tolist() == pytest.approx([-0.125, -0.125, 0.25]) and np.isnan(d[3])
    assert out.targets[:, 0].tolist() == pytest.approx(rs.targets[:, 0].tolist())  # human ratings kept
    cov = out.info["proxy"]["dominance"]
    assert (cov["covered"], cov["total"], cov["groups_covered"], cov["groups_total"]) == (3, 4, 2, 3)
    assert cov["uncovered_groups"] == ["Qwerty"]
    assert np.isnan(rs.targets[:, 2]).all()  # the input set is untouched
    lava = oasis_theme_proxy(_set(tmp_path, ["Lava", "Sun"]), WordNorms.load(norms_dir))
    assert lava.sources["dominance"] == "proxy:warriner+nrc-theme-words"


def test_emotion6_proxy_weights_emotion_words(norms_dir: Path, tmp_path: Path):
    dist = np.zeros((2, 7), np.float32)
    dist[0, EMOTIONS.index("joy")] = 1.0
    dist[1, EMOTIONS.index("fear")] = 0.5
    dist[1, EMOTIONS.index("sadness")] = 0.5
    rs = _set(tmp_path, ["a", "b"], dist)
    out = emotion6_proxy(rs, WordNorms.load(norms_dir))
    assert out.sources["dominance"] == "proxy:warriner-emotion-words"
    assert out.targets[:, 2].tolist() == pytest.approx([0.5, 0.5 * (-0.5) + 0.5 * (-0.25)])
    assert add_proxies(rs, WordNorms.load(norms_dir)).sources["dominance"].startswith("proxy:")
    with pytest.raises(DataError, match="no emotion distribution"):
        emotion6_proxy(_set(tmp_path, ["a"]), WordNorms.load(norms_dir))


def test_proxy_validity_against_human_ratings(norms_dir: Path, tmp_path: Path):
    rs = _set(tmp_path, ["Crash", "Scared", "Car", "Sun"])  # valence -0.5..0.5
    vad, _ = theme_word_norms(rs, WordNorms.load(norms_dir))
    val = proxy_validity(rs, vad)
    assert set(val) == {"valence"} and val["valence"]["n"] == 4
    assert val["valence"]["r"] > 0.8  # word valences -0.5, -0.75, 0.5, 0.75 rise with the ratings


def test_real_norms_on_oasis(datasets_dir: Path):
    norms = WordNorms.load(datasets_dir / "word-norms")
    rs = load_oasis(datasets_dir / "oasis")
    out = oasis_theme_proxy(rs, norms)
    cov = out.info["proxy"]["dominance"]
    assert cov["groups_covered"] >= 224 and cov["covered"] >= 800
    vad, _ = theme_word_norms(rs, norms)
    val = proxy_validity(rs, vad)
    assert val["valence"]["r"] > 0.7 and val["arousal"]["r"] > 0.45
    e6 = emotion6_proxy(load_emotion6(datasets_dir / "emotion6"), norms)
    assert e6.info["proxy"]["dominance"]["covered"] == 1980
