"""Word norms: valence, arousal and dominance of English words, on the canonical scale.

Norms come from Warriner, Kuperman & Brysbaert (2013; 1–9) with the NRC-VAD lexicon
(Mohammad 2018; 0–1) as fallback for words Warriner lacks; both are mapped to the
canonical [-1, 1] scale. Words are looked up as written, then by simple lemmatisation
(plural -s/-es/-ies, -ing/-ed); a phrase's norm is the mean over its covered words.
The proxies built from them are in :mod:`qdemo.emotion.proxies`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from qdemo.emotion.datasets.cells import find_column as _find_column
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


__all__ = ["NRC_FILE", "PhraseNorm", "WARRINER_FILE", "WordNorms", "lemma_candidates", "tokenize"]
