"""Word-norm proxies for dimensions no image set rates (dominance).

Neither OASIS, Emotion6 nor BASS has dominance ratings. The documented proxy is the word
norm of what an image shows:

* OASIS: the mean norm of the theme's words ("Car crash" -> mean of *car* and *crash*);
* Emotion6: the image's 7-way emotion distribution weighted by the norms of the emotion
  words (anger, disgust, fear, joy, sadness, surprise, neutral);
* BASS: the mean norm of the image's keywords ("crash, harm, car crash"), each keyword the
  mean of its covered words, over the keywords covered.

Norms come from Warriner, Kuperman & Brysbaert (2013; 1–9) with the NRC-VAD lexicon
(Mohammad 2018; 0–1) as fallback for words Warriner lacks; both are mapped to the
canonical [-1, 1] scale. Words are looked up as written, then by simple lemmatisation
(plural -s/-es/-ies, -ing/-ed). Theme words' valence and arousal can be compared with
the human image ratings (:func:`proxy_validity`): that is the proxy's validity check.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from qdemo import DIMS
from qdemo.emotion.datasets.cells import find_column as _find_column
from qdemo.emotion.datasets.ratedset import EMOTIONS, RatedSet
from qdemo.emotion.scale import NRC, WARRINER, to_canonical
from qdemo.errors import DataError
from qdemo.tables import read_table

WARRINER_FILE = "Ratings_Warriner_et_al.csv"
NRC_FILE = "NRC-VAD-Lexicon.txt"
STOPWORDS = frozenset("a an the of and or in on at to with for by from into over under".split())
SPELLING = {"barbeque": "barbecue", "gorrila": "gorilla", "opossum": "possum"}
"""Spelling variants tried when a word is in no lexicon (OASIS writes 'Barbeque', 'Gorrila')."""


def tokenize(text: str) -> list[str]:
    """Lowercase words of ``text``: digits and punctuation removed, stopwords dropped."""
    words = re.sub(r"[^a-z]+", " ", text.lower()).split()
    return [w for w in words if w not in STOPWORDS]


def lemma_candidates(word: str) -> list[str]:
    """``word`` then plausible base forms: plural -s/-es/-ies, -ing and -ed (with e-restoration
    and undoubled consonants). 'bodies' -> body, 'boxing' -> box, 'scared' -> scare."""
    w = word.lower()
    out = [w]
    if w in SPELLING:
        out.append(SPELLING[w])

    def add(c: str) -> None:
        if len(c) >= 2 and c not in out:
            out.append(c)

    if w.endswith("ies") and len(w) > 4:
        add(w[:-3] + "y")
    if w.endswith("es") and len(w) > 3:
        add(w[:-2])
    if w.endswith("s") and not w.endswith("ss") and len(w) > 3:
        add(w[:-1])
    for suf in ("ing", "ed"):
        if w.endswith(suf) and len(w) > len(suf) + 2:
            stem = w[: -len(suf)]
            add(stem)
            add(stem + "e")
            if len(stem) > 2 and stem[-1] == stem[-2]:
                add(stem[:-1])
            if suf == "ed" and stem.endswith("i"):
                add(stem[:-1] + "y")
    return out


@dataclass
class PhraseNorm:
    """Norms of a phrase: the mean over its covered words."""

    vad: np.ndarray
    """(3,) canonical valence, arousal, dominance."""
    words: list[tuple[str, str, str]] = field(default_factory=list)
    """(word as written, form found, lexicon) for each covered word."""
    missing: list[str] = field(default_factory=list)
    """Words of the phrase found in no lexicon."""

    @property
    def lexicons(self) -> set[str]:
        return {lex for _, _, lex in self.words}


@dataclass
class WordNorms:
    """Word -> canonical (valence, arousal, dominance) from Warriner, NRC-VAD as fallback."""

    warriner: dict[str, np.ndarray]
    """Lemma -> (3,) canonical VAD from Warriner et al. (2013)."""
    nrc: dict[str, np.ndarray] = field(default_factory=dict)
    """Word -> (3,) canonical VAD from NRC-VAD (fallback)."""
    root: Path | None = None

    @classmethod
    def load(cls, norms_dir: str | Path, *, use_nrc: bool = True) -> "WordNorms":
        """Read ``Ratings_Warriner_et_al.csv`` (and ``NRC-VAD-Lexicon.txt``) from ``norms_dir``."""
        root = Path(norms_dir)
        wpath = root / WARRINER_FILE
        if not wpath.exists():
            raise DataError(f"{root}: word norms not found (expected {WARRINER_FILE})")
        t = read_table(wpath, strip=False)
        cw = _find_column(t, ["Word"], role="word")
        cv = _find_column(t, ["V.Mean.Sum"], role="valence")
        ca = _find_column(t, ["A.Mean.Sum"], role="arousal")
        cd = _find_column(t, ["D.Mean.Sum"], role="dominance")
        warriner = {}
        for r, row in enumerate(t.rows):
            try:
                vals = np.array([float(row[cv]), float(row[ca]), float(row[cd])])
            except ValueError:
                raise DataError(f"{wpath}: line {t.lines[r]}: non-numeric norm") from None
            word = row[cw].strip().lower()
            if word and np.isfinite(vals).all():
                warriner[word] = to_canonical(vals, *WARRINER)
        nrc = {}
        npath = root / NRC_FILE
        if use_nrc and npath.exists():
            t = read_table(npath, delimiter="\t", strip=False)
            if len(t.header) == 4 and _find_column(t, ["Word"], role="word", required=False) is None:
                # headerless variant of the lexicon: the first line is data
                t.rows.insert(0, t.header)
                t.lines.insert(0, 1)
                t.header = ["Word", "Valence", "Arousal", "Dominance"]
            cw = _find_column(t, ["Word"], role="word")
            cv = _find_column(t, ["Valence"], role="valence")
            ca = _find_column(t, ["Arousal"], role="arousal")
            cd = _find_column(t, ["Dominance"], role="dominance")
            for r, row in enumerate(t.rows):
                try:
                    vals = np.array([float(row[cv]), float(row[ca]), float(row[cd])])
                except ValueError:
                    raise DataError(f"{npath}: line {t.lines[r]}: non-numeric norm") from None
                word = row[cw].strip().lower()
                if word and np.isfinite(vals).all():
                    nrc[word] = to_canonical(vals, *NRC)
        return cls(warriner=warriner, nrc=nrc, root=root)

    def lookup(self, word: str) -> tuple[np.ndarray, str, str] | None:
        """(canonical VAD, form found, 'warriner' | 'nrc') for ``word``, or None."""
        cands = lemma_candidates(word)
        for lex_name, lex in (("warriner", self.warriner), ("nrc", self.nrc)):
            for c in cands:
                if c in lex:
                    return lex[c], c, lex_name
        return None

    def phrase(self, text: str) -> PhraseNorm | None:
        """Mean norms over the covered words of ``text`` ("Car crash"), or None if none is."""
        found, missing, vecs = [], [], []
        for w in tokenize(text):
            hit = self.lookup(w)
            if hit is None:
                missing.append(w)
            else:
                vecs.append(hit[0])
                found.append((w, hit[1], hit[2]))
        if not vecs:
            return None
        return PhraseNorm(vad=np.mean(vecs, axis=0), words=found, missing=missing)


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
