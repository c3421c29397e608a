"""Every configurable command names the config file it used at its start, and the result does
not depend on the current folder: run from elsewhere, the same default file applies and its
relative input paths point at the same places.

The work of each command is replaced by a stub that keeps the config it was handed: what is
checked is the command line (which file, which values), not training or search.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from qdemo.cli import main
from qdemo.config import config_source

REPO = Path(__file__).resolve().parents[2]
DATASETS = os.path.normpath(REPO.parent / "shared" / "datasets")


@pytest.fixture()
def elsewhere(tmp_path, monkeypatch):
    """Stand in an unrelated folder that has a decoy configs/ of its own."""
    cwd = tmp_path / "elsewhere"
    (cwd / "configs").mkdir(parents=True)
    for name in ("evolve", "regressor", "generator", "compare", "normalise"):
        (cwd / "configs" / f"{name}.yaml").write_text("seed: 12345\n")
    monkeypatch.chdir(cwd)
    return cwd


def _keep(store: dict, key: str, result=None):
    def stub(*args, **kwargs):
        store[key] = next(a for a in args if hasattr(a, "__dataclass_fields__"))
        return result
    return stub


def _source_line(err: str, command: str, name: str) -> None:
    assert f"qdemo {command}: config: {REPO / 'configs' / name}.yaml (sha256 " in err, err


def test_evolve(elsewhere, monkeypatch, capsys):
    import qdemo.cli.evolve as cli_evolve

    got: dict = {}
    monkeypatch.setattr(cli_evolve, "_run", lambda cfg, out, **kw: got.setdefault("cfg", cfg) and 0)
    assert main(["evolve", "--seed", "3", "--set", "seed=4", "--iterations", "2"]) == 0
    cfg = got["cfg"]
    _source_line(capsys.readouterr().err, "evolve", "evolve")
    assert cfg.dataset.path == os.path.join(DATASETS, "oasis") and cfg.dataset.max_images == 200
    assert cfg.seed == 3 and cfg.iterations == 2  # a dedicated flag wins over --set
    assert config_source(cfg).path == str(REPO / "configs" / "evolve.yaml")


def test_evolve_with_a_config_of_ones_own(elsewhere, monkeypatch, capsys):
    import qdemo.cli.evolve as cli_evolve

    (elsewhere / "mine.yaml").write_text("dataset: {path: photos}\nsearcher: w/m.safetensors\n")
    got: dict = {}
    monkeypatch.setattr(cli_evolve, "_run", lambda cfg, out, **kw: got.setdefault("cfg", cfg) and 0)
    assert main(["evolve", "--config", "mine.yaml", "--critic", "c/x.pt"]) == 0
    cfg = got["cfg"]
    assert f"qdemo evolve: config: {elsewhere / 'mine.yaml'} (sha256 " in capsys.readouterr().err
    assert cfg.dataset.path == str(elsewhere / "photos") and cfg.searcher == str(elsewhere / "w" / "m.safetensors")
    assert cfg.critic == "c/x.pt"  # a path on the command line is the user's, as given


def test_regressor_train(elsewhere, monkeypatch, capsys):
    import qdemo.emotion.train as train

    got: dict = {}
    monkeypatch.setattr(train, "train_regressor", _keep(got, "cfg", {}))
    assert main(["regressor", "train", "--roles", "searcher", "--no-eval"]) == 0
    cfg = got["cfg"]
    _source_line(capsys.readouterr().err, "regressor train", "regressor")
    assert cfg.data.oasis == os.path.join(DATASETS, "oasis") and cfg.data.word_norms == os.path.join(DATASETS, "word-norms")
    assert cfg.card_notes == str(REPO / "qdemo" / "emotion" / "weights" / "NOTES.md")
    assert cfg.roles == ["searcher"] and cfg.evaluate is False


def test_generator_train_and_sweep(elsewhere, monkeypatch, capsys):
    import importlib

    import qdemo.compare.experiments as experiments

    train = importlib.import_module("qdemo.generator.train")  # the module (the package exports a function of that name)
    got: dict = {}
    monkeypatch.setattr(train, "train", _keep(got, "cfg", "weights.safetensors"))
    assert main(["generator", "train", "--out", "g", "--set", "steps=7"]) == 0
    _source_line(capsys.readouterr().err, "generator train", "generator")
    assert [str(p) for p in got["cfg"].photos] == [os.path.join(DATASETS, "oasis", "images"),
                                                  os.path.join(DATASETS, "emotion6", "images")]
    assert got["cfg"].steps == 7 and str(got["cfg"].out) == "g"

    def sweep(config, out, **kwargs):
        got["sweep_config"] = Path(config)
        return "table"

    monkeypatch.setattr(experiments, "run_lambda_sweep", sweep)
    assert main(["generator", "sweep", "--out", "sw", "--steps", "5", "--lambdas", "0,20"]) == 0
    _source_line(capsys.readouterr().err, "generator sweep", "generator")
    text = got["sweep_config"].read_text()  # the resolved base config every run starts from
    assert text.startswith(f"# qdemo config source: {REPO / 'configs' / 'generator.yaml'}\n")
    assert "steps: 5" in text and os.path.join(DATASETS, "oasis", "images") in text


def test_compare(elsewhere, monkeypatch, capsys):
    import qdemo.compare.elites_vs_samples as compare

    got: dict = {}
    monkeypatch.setattr(compare, "run_compare", _keep(got, "cfg", {"all": {"metrics": {}}}))
    assert main(["compare", "run_a", "--out", "cmp", "-k", "3"]) == 0
    _source_line(capsys.readouterr().err, "compare", "compare")
    assert [str(p) for p in got["cfg"].photos][0] == os.path.join(DATASETS, "oasis", "images")
    assert got["cfg"].samples_per_cell == 3


def test_normalise(elsewhere, monkeypatch, capsys):
    import qdemo.normalise.data as data
    import qdemo.normalise.report as report
    import qdemo.normalise.shine as shine
    import qdemo.normalise.train as ntrain

    got: dict = {}
    monkeypatch.setattr(data, "collect", lambda *a, **k: [])
    monkeypatch.setattr(data, "choose_subset", lambda *a, **k: [])
    monkeypatch.setattr(shine, "run_shine", _keep(got, "shine", {
        "mode": "full", "n_images": 0, "n_skipped": 0, "seconds": {"stats": 0.0, "match": 0.0}}))
    assert main(["normalise", "shine", "--data", "d", "--out", "o", "--size", "32", "--group-by", "folder,valence",
                 "--skip-bad"]) == 0
    _source_line(capsys.readouterr().err, "normalise shine", "normalise")
    cfg = got["shine"]
    assert (cfg.data.size, list(cfg.shine.group_by), cfg.data.on_error) == (32, ["folder", "valence"], "skip")

    class Trainer:
        def __init__(self, shine_dir, out, cfg, device):
            got["train"] = cfg

        def run(self):
            return {"steps": 1, "seconds": 0.0, "resumed": False}

    monkeypatch.setattr(ntrain, "Trainer", Trainer)
    assert main(["normalise", "train", "--shine", "s", "--out", "o", "--lambda-emo", "5"]) == 0
    _source_line(capsys.readouterr().err, "normalise train", "normalise")
    assert got["train"].train.lambda_emo == 5.0

    def run_report(shine_dir, models, out, cfg, **kw):
        got["report"] = cfg
        Path(out).mkdir(parents=True, exist_ok=True)
        (Path(out) / "report.md").write_text("report\n")

    monkeypatch.setattr(report, "run_report", run_report)
    assert main(["normalise", "report", "--shine", "s", "--out", "r", "--group-equalise"]) == 0
    _source_line(capsys.readouterr().err, "normalise report", "normalise")
    assert got["report"].report.group_equalise is True


def test_benches_say_they_use_built_in_defaults(elsewhere, monkeypatch, capsys):
    import qdemo.bench.throughput as throughput

    got: dict = {}
    monkeypatch.setattr(throughput, "bench_throughput", _keep(got, "cfg", None))
    monkeypatch.setattr(throughput, "throughput_markdown", lambda res: "table")
    monkeypatch.setattr("qdemo.bench.common.write_outputs",
                        lambda out, mode, res, md: {"json": "t.json", "md": "t.md"})
    assert main(["evolve-bench", "throughput", "--batch-sizes", "2,4", "--no-grad"]) == 0
    assert "qdemo evolve-bench throughput: config: built-in defaults (no config file)" in capsys.readouterr().err
    assert got["cfg"].batch_sizes == [2, 4] and got["cfg"].grad is False and got["cfg"].repeats == 5
