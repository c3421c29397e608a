"""`qdemo stimuli export` on tiny demo runs: every image has its norms row, N and the means match
the database, model norms without ratings, rater exclusion, SHINE, and the errors of bad input."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from qdemo.cli import main
from qdemo.errors import DataError

DIMS = ("valence", "arousal", "dominance")


@pytest.fixture()
def run(tmp_path: Path) -> Path:
    from qdemo.web.demo import make_demo_archive

    return make_demo_archive(tmp_path / "runs" / "demo", cells=(4, 4, 2), fill=0.5, seed=1, reference=0,
                             image_size=32)


def _study(run: Path, out: Path) -> Path:
    assert main(["export-study", "--archive", str(run), "--no-generator", "--size", "32", "--critic", "tiny:1",
                 "--device", "cpu", "--out", str(out)]) == 0
    return out


def _rate(study: Path, db: Path, raters: int = 4, lazy: bool = True, seed: int = 0) -> list[dict]:
    """Scripted raters: valence from the key's intended valence + noise; one always answers 5."""
    from qdemo.web import RateApp, RatingStore

    with open(study / "key.csv", newline="") as f:
        key = list(csv.DictReader(f))
    app = RateApp(study, db)
    app.close()
    store = RatingStore(db)
    rng = np.random.default_rng(seed)
    given = []
    for p in range(raters + int(lazy)):
        who = f"p{p}" if p < raters else "lazy"
        store.session(who, app.ids, 0)
        for i, row in enumerate(key):
            if p < raters:
                base = [float(row[f"intended_{d}"] or 0) for d in DIMS]
                sam = {d: int(np.clip(np.rint(5 + 4 * b + rng.normal(0, 0.6)), 1, 9)) for d, b in zip(DIMS, base)}
            else:
                sam = {d: 5 for d in DIMS}
            store.rate(who, row["stimulus_id"], i, sam)
            given.append({"participant": who, "stimulus_id": row["stimulus_id"], **sam})
    store.close()
    return given


def _norms(out: Path) -> list[dict]:
    with open(out / "norms.csv", newline="") as f:
        return list(csv.DictReader(f))


def test_rated_export_matches_the_database(run: Path, tmp_path: Path, capsys):
    study = _study(run, tmp_path / "study")
    db = tmp_path / "r.sqlite"
    given = _rate(study, db)
    out = tmp_path / "set"
    assert main(["stimuli", "export", str(run), "--db", str(db), "--out", str(out)]) == 0
    assert "human norms from 5 raters" in capsys.readouterr().out
    rows = _norms(out)
    with open(study / "key.csv", newline="") as f:
        n_elites = sum(1 for r in csv.DictReader(f) if r["source"] == "elite")
    assert len(rows) == n_elites and len(list((out / "images").iterdir())) == n_elites
    for r in rows:  # every image has its row, and N / means are the database's
        assert (out / r["file"]).is_file() and r["norms"] == "human"
        mine = [g for g in given if g["stimulus_id"] == r["stimulus_id"]]
        assert int(r["n"]) == len(mine) == 5
        for d in DIMS:
            vals = np.array([g[d] for g in mine], float)
            assert float(r[f"{d}_mean"]) == pytest.approx(vals.mean(), abs=1e-3)
            assert float(r[f"{d}_sd"]) == pytest.approx(vals.std(ddof=1), abs=1e-3)
            assert float(r[f"{d}_mean_canonical"]) == pytest.approx((vals.mean() - 5) / 4, abs=1e-4)
        assert 0 <= float(r["luminance"]) <= 1 and float(r["contrast"]) >= 0 and r["critic_valence"] != ""
    # the exported image is the study's PNG that was rated
    first = rows[0]
    assert (out / first["file"]).read_bytes() == (study / "stimuli" / f"{first['stimulus_id']}.png").read_bytes()
    # each image's objective is its elite's when the study was exported (the key records it)
    with open(run / "archive.csv", newline="") as f:
        objective = {r["image"].rsplit("/", 1)[-1]: float(r["objective"]) for r in csv.DictReader(f)}
    with open(study / "key.csv", newline="") as f:
        origin = {r["stimulus_id"]: r["origin"] for r in csv.DictReader(f)}
    for r in rows:
        assert float(r["objective"]) == pytest.approx(objective[Path(origin[r["stimulus_id"]]).name], abs=1e-3)
    sheet = (out / "DATASHEET.md").read_text()
    # a set to hand to a colleague: no path of this machine in what describes it
    for text in (str(tmp_path), str(run.resolve())):
        assert text not in sheet and text not in (out / "export.json").read_text()
    for text in ("Split-half reliability", "Spearman-Brown", "| valence |", "Valence x arousal regions",
                 "CC BY 4.0", "5 raters", "contact_sheet.png", "1 rater(s) flagged"):
        assert text in sheet, text
    facts = json.loads((out / "export.json").read_text())
    assert facts["n"] == n_elites and facts["study"]["n_ratings"] == 5 * n_elites
    assert sum(facts["regions"]["human"].values()) == n_elites
    assert (out / "contact_sheet.png").stat().st_size > 500

    # --exclude-flagged leaves the straight-liner out, and says so
    out2 = tmp_path / "set2"
    assert main(["stimuli", "export", str(run), "--db", str(db), "--out", str(out2), "--exclude-flagged"]) == 0
    assert "1 flagged rater(s) left out" in capsys.readouterr().out
    assert {int(r["n"]) for r in _norms(out2)} == {4}
    assert "**1 left out**" in (out2 / "DATASHEET.md").read_text()


def test_model_norms_only_without_ratings_and_force(run: Path, tmp_path: Path):
    from qdemo.runfolder import read_run

    out = tmp_path / "set"
    assert main(["stimuli", "export", str(run), "--out", str(out), "--prefix", "x"]) == 0
    rows = _norms(out)
    assert len(rows) == read_run(run).n
    assert {r["norms"] for r in rows} == {"model only"} and {r["n"] for r in rows} == {"0"}
    assert rows[0]["id"] == "x001" and rows[0]["valence_mean"] == ""
    assert [int(r["cell_index"]) for r in rows] == sorted(int(r["cell_index"]) for r in rows)
    assert "Model norms only" in (out / "DATASHEET.md").read_text()
    # an existing folder is never overwritten without --force; with it only an earlier export
    with pytest.raises(DataError, match="already exists"):
        _export(run, out)
    (out / "images" / "x001.png").unlink()
    _export(run, out, force=True, prefix="x")
    assert (out / "images" / "x001.png").is_file()
    other = tmp_path / "mine"
    other.mkdir()
    (other / "notes.txt").write_text("keep me")
    with pytest.raises(DataError, match="not an earlier stimulus export"):
        _export(run, other, force=True)
    assert (other / "notes.txt").read_text() == "keep me"


def _export(run, out, **over):
    from qdemo.config import load_config
    from qdemo.stimuli import StimuliConfig, export_stimuli

    return export_stimuli(load_config(StimuliConfig, None, {"run": str(run), "out": str(out), **over}), progress=False)


def test_a_database_of_another_run_and_bad_databases(run: Path, tmp_path: Path):
    from qdemo.web import RateApp
    from qdemo.web.demo import make_demo_archive

    other = make_demo_archive(tmp_path / "runs" / "other", cells=(3, 3, 2), fill=0.6, seed=2, reference=0,
                              image_size=32)
    study = _study(other, tmp_path / "study_other")
    db = tmp_path / "other.sqlite"
    _rate(study, db, raters=2, lazy=False)
    with pytest.raises(DataError, match=r"other\.sqlite: a ratings database of another stimulus set"):
        _export(run, tmp_path / "x1", db=str(db))
    empty = tmp_path / "empty.sqlite"
    RateApp(_study(run, tmp_path / "study"), empty).close()
    with pytest.raises(DataError, match=r"empty\.sqlite: no ratings"):
        _export(run, tmp_path / "x2", db=str(empty))
    with pytest.raises(DataError, match="ratings database not found"):
        _export(run, tmp_path / "x3", db=str(tmp_path / "none.sqlite"))
    assert not any(tmp_path.glob("x*")) and not any(tmp_path.glob(".x*"))


def test_equalised_export_rescores_with_the_run_models(run: Path, tmp_path: Path):
    man = json.loads((run / "manifest.json").read_text())
    man["models"] = {"searcher": {"name": "tiny", "spec": "tiny"}, "critic": {"name": "tiny1", "spec": "tiny:1"}}
    (run / "manifest.json").write_text(json.dumps(man))
    facts = _export(run, tmp_path / "eq", equalise="lum")
    assert facts["equalised"]["mode"] == "lum"
    rows = _norms(tmp_path / "eq")
    lum = np.array([float(r["luminance"]) for r in rows])
    assert lum.std() < 0.02  # mean luminance matched across the set
    from qdemo.runfolder import read_run

    orig = read_run(run)
    assert not np.allclose([float(r["searcher_valence"]) for r in rows],
                           sorted(zip(orig.indices, orig.columns["valence"]))[0][1])
    assert "Equalised with SHINE" in (tmp_path / "eq" / "DATASHEET.md").read_text()
