"""Word-norm proxies for dimensions no image set rates (dominance).

Neither OASIS, Emotion6 nor BASS has dominance ratings. The documented proxy is the word
norm of what an image shows:

* OASIS: the mean norm of the theme's words ("Car crash" -> mean of *car* and *crash*);
* Emotion6: the image's 7-way emotion distribution weighted by the norms of the emotion
  words (anger, disgust, fear, joy, sadness, surprise, neutral);
* BASS: the mean norm of the image's keywords ("crash, harm, car crash"), each keyword the
  mean of its covered words, over the keywords covered.

The norms (Warriner et al. 2013, NRC-VAD as fallback, on the canonical scale) are read
and looked up by :mod:`qdemo.emotion.wordnorms`; :class:`WordNorms` and its helpers are
re-exported here. Theme words' valence and arousal can be compared with the human image
ratings (:func:`proxy_validity`): that is the proxy's validity check.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from qdemo import DIMS
from qdemo.emotion.datasets.ratedset import EMOTIONS, RatedSet
from qdemo.emotion.wordnorms import PhraseNorm, WordNorms, lemma_candidates, tokenize
from qdemo.errors import DataError


def _how(kind: str, lexicons: set[str]) -> str:
    lex = "+".join(x for x in ("warriner", "nrc") if x in lexicons) or "none"
    return f"proxy:{lex}-{kind}"


def theme_word_norms(rated_set: RatedSet, norms: WordNorms) -> tuple[np.ndarray, dict[str, PhraseNorm | None]]:
    """(N, 3) canonical word norms of each image's group label (OASIS theme), NaN where no
    word of the theme is covered, and the per-theme lookup details."""
    per_group: dict[str, PhraseNorm | None] = {g: norms.phrase(g) for g in np.unique(rated_set.groups)}
    out = np.full((len(rated_set), 3), np.nan, dtype=np.float64)
    for i, g in enumerate(rated_set.groups):
        pn = per_group[g]
        if pn is not None:
            out[i] = pn.vad
    return out, per_group


def emotion_word_norms(rated_set: RatedSet, norms: WordNorms) -> tuple[np.ndarray, dict[str, str]]:
    """(N, 3) the emotion distribution weighted by the norms of the 7 emotion words
    (weights renormalised over covered words), and the lexicon used per word."""
    if rated_set.emotion_dist is None:
        raise DataError(f"{rated_set.name}: no emotion distribution; the emotion-word proxy needs one")
    vecs, used = [], {}
    for e in EMOTIONS:
        hit = norms.lookup(e)
        if hit is None:
            vecs.append(np.full(3, np.nan))
            used[e] = "missing"
        else:
            vecs.append(hit[0])
            used[e] = hit[2]
    W = np.asarray(vecs)  # (7, 3)
    have = np.isfinite(W).all(axis=1)
    if not have.any():
        raise DataError("none of the emotion words is in the word norms")
    P = np.asarray(rated_set.emotion_dist, dtype=np.float64)[:, have]  # (N, k)
    tot = P.sum(axis=1, keepdims=True)
    out = np.where(tot > 0, (P @ W[have]) / np.where(tot > 0, tot, 1.0), np.nan)
    return out, used


def keyword_word_norms(rated_set: RatedSet, norms: WordNorms) -> tuple[np.ndarray, dict[str, PhraseNorm | None]]:
    """(N, 3) canonical word norms of each image's keywords (comma-separated phrases, BASS):
    the mean over its covered keywords of each keyword's norm (the mean of its covered words);
    NaN where no keyword is covered. Also the lookup of every distinct keyword."""
    if rated_set.keywords is None:
        raise DataError(f"{rated_set.name}: no keywords; the keyword proxy needs them")
    per_kw: dict[str, PhraseNorm | None] = {}
    out = np.full((len(rated_set), 3), np.nan, dtype=np.float64)
    for i, text in enumerate(rated_set.keywords):
        vecs = []
        for kw in (k.strip().lower() for k in str(text).split(",")):
            if not kw:
                continue
            if kw not in per_kw:
                per_kw[kw] = norms.phrase(kw)
            if per_kw[kw] is not None:
                vecs.append(per_kw[kw].vad)
        if vecs:
            out[i] = np.mean(vecs, axis=0)
    return out, per_kw


def _fill(rated_set: RatedSet, proxy: np.ndarray, dims: Sequence[str], how: str, overwrite: bool,
          details: dict) -> RatedSet:
    out = rated_set.subset(np.arange(len(rated_set)))
    cov = dict(out.info.get("proxy", {}))
    for d in dims:
        if d not in DIMS:
            raise ValueError(f"unknown dimension {d!r}")
        j = DIMS.index(d)
        if out.sources.get(d) == "human" and not overwrite:
            continue  # never replace human ratings by a proxy unless asked
        ok = np.isfinite(proxy[:, j])
        out.targets[:, j] = np.where(ok, proxy[:, j], np.nan).astype(np.float32)
        out.sources[d] = how
        cov[d] = {"how": how, "covered": int(ok.sum()), "total": len(out), **details}
    out.info["proxy"] = cov
    return out


def oasis_theme_proxy(rated_set: RatedSet, norms: WordNorms, *, dims: Sequence[str] = ("dominance",),
                      overwrite: bool = False) -> RatedSet:
    """A copy of ``rated_set`` with ``dims`` filled from the word norms of each image's theme.

    Images whose theme has no covered word keep NaN (masked in training). Coverage goes
    to ``info["proxy"][dim]`` and ``sources[dim]`` says e.g. ``"proxy:warriner-theme-words"``
    (``"proxy:warriner+nrc-theme-words"`` when NRC filled some themes).
    """
    vad, per_group = theme_word_norms(rated_set, norms)
    lexicons = set().union(*[pn.lexicons for pn in per_group.values() if pn is not None] or [set()])
    covered = [g for g, pn in per_group.items() if pn is not None]
    by_lex = {lex: sum(1 for pn in per_group.values() if pn is not None and lex in pn.lexicons and
                       (lex == "warriner" or "warriner" not in pn.lexicons))
              for lex in ("warriner", "nrc")}
    details = {
        "groups_covered": len(covered), "groups_total": len(per_group),
        "groups_by_lexicon": {"warriner": by_lex["warriner"], "nrc_only": by_lex["nrc"]},
        "uncovered_groups": sorted(g for g, pn in per_group.items() if pn is None),
    }
    return _fill(rated_set, vad, dims, _how("theme-words", lexicons), overwrite, details)


def emotion6_proxy(rated_set: RatedSet, norms: WordNorms, *, dims: Sequence[str] = ("dominance",),
                   overwrite: bool = False) -> RatedSet:
    """A copy of ``rated_set`` (with an emotion distribution) with ``dims`` filled by the
    distribution-weighted norms of the emotion words; ``sources[dim]`` says e.g.
    ``"proxy:warriner-emotion-words"``."""
    vad, used = emotion_word_norms(rated_set, norms)
    lexicons = {v for v in used.values() if v != "missing"}
    return _fill(rated_set, vad, dims, _how("emotion-words", lexicons), overwrite, {"words": used})


def keyword_proxy(rated_set: RatedSet, norms: WordNorms, *, dims: Sequence[str] = ("dominance",),
                  overwrite: bool = False) -> RatedSet:
    """A copy of ``rated_set`` (with keywords, BASS) with ``dims`` filled from the word norms of
    each image's keywords (:func:`keyword_word_norms`); images with no covered keyword keep
    NaN (masked in training). ``sources[dim]`` says e.g. ``"proxy:warriner+nrc-keywords"``;
    ``info["proxy"][dim]`` holds the coverage (images and distinct keywords covered)."""
    vad, per_kw = keyword_word_norms(rated_set, norms)
    found = [pn for pn in per_kw.values() if pn is not None]
    lexicons = set().union(*[pn.lexicons for pn in found] or [set()])
    details = {"keywords_covered": len(found), "keywords_total": len(per_kw),
               "keywords_nrc_only": sum(1 for pn in found if pn.lexicons == {"nrc"}),
               "images_without_keywords": int(sum(1 for k in rated_set.keywords if not str(k).strip()))}
    return _fill(rated_set, vad, dims, _how("keywords", lexicons), overwrite, details)


def add_proxies(rated_set: RatedSet, norms: WordNorms, *, dims: Sequence[str] = ("dominance",)) -> RatedSet:
    """Fill missing ``dims`` with the proxy that fits the set: emotion words when it has an
    emotion distribution (Emotion6), its keywords when it has them (BASS), theme words when
    images share group labels (OASIS);
    otherwise the set is returned unchanged (the dimension stays masked)."""
    todo = [d for d in dims if rated_set.sources.get(d) == "missing"]
    if not todo:
        return rated_set
    if rated_set.emotion_dist is not None:
        return emotion6_proxy(rated_set, norms, dims=todo)
    if rated_set.keywords is not None:
        return keyword_proxy(rated_set, norms, dims=todo)
    if len(np.unique(rated_set.groups)) < len(rated_set):
        return oasis_theme_proxy(rated_set, norms, dims=todo)
    return rated_set


def proxy_validity(rated_set: RatedSet, proxy_vad: np.ndarray) -> dict[str, dict[str, float]]:
    """How well a word proxy matches the human ratings, for the human-rated dimensions:
    ``{dim: {"r", "ccc", "mae", "n"}}`` over images where both exist."""
    from qdemo.emotion.metrics import regression_metrics

    human = np.array([rated_set.sources.get(d) == "human" for d in DIMS])
    mask = rated_set.mask() & human[None, :]
    res = regression_metrics(proxy_vad, rated_set.targets, mask)
    return {d: res[d] for d in DIMS if human[DIMS.index(d)]}


def proxy_report(norms: WordNorms, *, oasis: RatedSet | None = None, emotion6: RatedSet | None = None,
                 bass: RatedSet | None = None) -> dict:
    """Coverage and validity of the word-norm proxies (the numbers in docs/emotion-data.md).

    Validity: the proxy's valence / arousal against the human image ratings (the proxy's
    dominance has no image-level ground truth to compare with).
    """
    out: dict = {"lexicons": {"warriner": len(norms.warriner), "nrc": len(norms.nrc)}}
    if oasis is not None:
        vad, per_group = theme_word_norms(oasis, norms)
        filled = oasis_theme_proxy(oasis, norms)
        w_only = WordNorms(warriner=norms.warriner)
        vad_w, per_w = theme_word_norms(oasis, w_only)
        out["oasis"] = {
            "coverage": filled.info["proxy"]["dominance"],
            "themes_covered_warriner_only": sum(pn is not None for pn in per_w.values()),
            "validity_theme_words": proxy_validity(oasis, vad),
            "validity_theme_words_warriner_only": proxy_validity(oasis, vad_w),
            "source": filled.sources["dominance"],
            "dominance_summary": _col_stats(filled.targets[:, 2]),
        }
    if emotion6 is not None:
        vad, used = emotion_word_norms(emotion6, norms)
        filled = emotion6_proxy(emotion6, norms)
        out["emotion6"] = {
            "coverage": filled.info["proxy"]["dominance"],
            "validity_emotion_words": proxy_validity(emotion6, vad),
            "source": filled.sources["dominance"],
            "dominance_summary": _col_stats(filled.targets[:, 2]),
        }
    if bass is not None:
        vad, _ = keyword_word_norms(bass, norms)
        filled = keyword_proxy(bass, norms)
        out["bass"] = {"coverage": filled.info["proxy"]["dominance"], "validity_keywords": proxy_validity(bass, vad),
                       "source": filled.sources["dominance"], "dominance_summary": _col_stats(filled.targets[:, 2])}
    return out


def _col_stats(x: np.ndarray) -> dict[str, float]:
    x = x[np.isfinite(x)]
    if not x.size:
        return {"n": 0}
    return {"n": int(x.size), "mean": float(x.mean()), "sd": float(x.std()), "min": float(x.min()),
            "max": float(x.max())}


def _main(argv: Sequence[str] | None = None) -> int:
    """``python -m qdemo.emotion.proxies --datasets DIR``: proxy coverage and validity."""
    import argparse
    import json

    from qdemo.emotion.datasets import load_bass, load_emotion6, load_oasis
    from qdemo.errors import QdemoError
    from qdemo.io import atomic_write_json

    ap = argparse.ArgumentParser(prog="python -m qdemo.emotion.proxies",
                                 description="Coverage and validity of the word-norm dominance proxies.")
    ap.add_argument("--datasets", default="../shared/datasets",
                    help="folder holding oasis/, emotion6/, bass/ and word-norms/")
    ap.add_argument("--json", default=None, help="write the report here (atomic)")
    args = ap.parse_args(argv)
    root = Path(args.datasets)
    try:
        norms = WordNorms.load(root / "word-norms")
        oasis = load_oasis(root / "oasis") if (root / "oasis").exists() else None
        e6 = load_emotion6(root / "emotion6") if (root / "emotion6").exists() else None
        bass = load_bass(root / "bass") if (root / "bass").exists() else None
        rep = proxy_report(norms, oasis=oasis, emotion6=e6, bass=bass)
    except QdemoError as exc:
        print(f"qdemo: error: {exc}")
        return 2
    print(json.dumps(rep, indent=1, default=str))
    if args.json:
        atomic_write_json(args.json, rep)
    return 0


__all__ = ["PhraseNorm", "WordNorms", "add_proxies", "emotion6_proxy", "emotion_word_norms", "keyword_proxy",
           "keyword_word_norms", "lemma_candidates", "oasis_theme_proxy", "proxy_report", "proxy_validity",
           "theme_word_norms", "tokenize"]


if __name__ == "__main__":
    raise SystemExit(_main())
