"""`qdemo evolve` / `qdemo confirm` from the command line, and the API example."""

from __future__ import annotations

import json
import os
import runpy
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from qdemo.cli import main

REPO = Path(__file__).resolve().parents[2]
TINY = ["--searcher", "tiny", "--critic", "tiny:1", "--resolution", "16", "--batch-size", "8",
        "--set", "emitter.num_emitters=2", "--no-dataset", "--quiet", "--device", "cpu"]


def test_cli_evolve_smoke(tmp_path, capsys):
    rc = main(["evolve", *TINY, "--iterations", "3", "--grid", "va", "--cells", "5,5", "--emitter", "cma-me",
               "--renderer", "cppn", "--out", str(tmp_path), "--name", "smoke", "--seed", "2"])
    out = capsys.readouterr().out
    assert rc == 0
    run = tmp_path / "smoke"
    man = json.loads((run / "manifest.json").read_text())
    assert man["status"] == "complete" and man["seed"] == 2 and man["emitter"] == "cma-me"
    assert man["grid"]["cells"] == [5, 5] and man["renderer"]["name"] == "cppn"
    assert f"qdemo browse {run}" in out and "critic:" in out
    assert "heatmaps:" in out and (run / "montage.png").exists() and (run / "metrics.png").exists()
    assert list((run / "heatmaps").glob("*.png"))
    # a second run into the same folder is refused (exit 2, one line, nothing overwritten)
    before = (run / "archive.csv").read_bytes()
    rc = main(["evolve", *TINY, "--iterations", "1", "--grid", "va", "--cells", "5,5", "--out", str(tmp_path),
               "--name", "smoke"])
    err = capsys.readouterr().err
    assert rc == 2 and "--force" in err and "Traceback" not in err
    assert (run / "archive.csv").read_bytes() == before


@pytest.mark.parametrize("args, needle", [
    (["--emitter", "nope"], "valid emitters: random, map-elites, iso-line, cma-me, cma-mae, cma-mega, cma-maega, bandit"),
    (["--renderer", "nope"], "valid renderers"),
    (["--set", "grid.ranges=[[0.5,0.5],[-1,1],[-1,1]]"], "impossible range"),
    (["--set", "grid.ranges=[[-5,5],[-1,1],[-1,1]]"], "[-5.0, 5.0] reaches outside the emotion scale [-1, 1]; "
                                                       "the emotion models output"),
    (["--set", "emitter.wrong=1"], "unknown key"),
    (["--searcher", "/nonexistent/model.safetensors"], "model file not found"),
])
def test_cli_bad_input_is_one_line(tmp_path, capsys, args, needle):
    rc = main(["evolve", *TINY, "--iterations", "1", "--out", str(tmp_path), *args])
    err = capsys.readouterr().err
    assert rc == 2
    # the config file used is named first; then one error line
    *before, last = err.strip().splitlines()
    assert needle in last and last.startswith("qdemo: error:") and "Traceback" not in err
    assert all(line.startswith("qdemo evolve: config: ") for line in before)


@pytest.mark.parametrize("ranges, ok", [
    ([[-1, 1], [-1, 1], [-1, 1]], True),
    ([[-0.5, 0.5], [0, 1], [-1, -0.2]], True),
    ([[-5, 5], [-1, 1], [-1, 1]], False),
    ([[-1, 1], [-1, 1.01], [-1, 1]], False),
    ([[-1, 1], [-1, 1], [2, 3]], False),
])
def test_grid_ranges_must_lie_on_the_models_scale(ranges, ok):
    from qdemo.errors import ConfigError
    from qdemo.qd.config import EvolveConfig, GridConfig

    cfg = EvolveConfig(grid=GridConfig(ranges=ranges))
    if ok:
        cfg.validate()
        return
    with pytest.raises(ConfigError, match=r"outside the emotion scale \[-1, 1\].*models output") as exc:
        cfg.validate()
    dim = ("valence", "arousal", "dominance")[next(i for i, (lo, hi) in enumerate(ranges) if lo < -1 or hi > 1)]
    assert str(exc.value).startswith(f"grid.ranges for {dim}:")


@pytest.mark.parametrize("fmt", ["auto", "oasis", "emotion6", "bass", "csv", "folder"])
def test_every_rated_set_format_is_a_dataset_format(fmt):
    """The reference photos take every format qdemo.emotion.load_dataset reads, and 'folder'."""
    from qdemo.emotion.datasets.dispatch import FORMATS
    from qdemo.errors import ConfigError
    from qdemo.qd.config import DatasetConfig, EvolveConfig

    assert fmt in (*FORMATS, "folder")
    EvolveConfig(dataset=DatasetConfig(format=fmt)).validate()
    with pytest.raises(ConfigError, match=r"dataset.format 'iaps': use auto, oasis, emotion6, bass, csv or folder"):
        EvolveConfig(dataset=DatasetConfig(format="iaps")).validate()


def test_cli_confirm_fills_critic_columns(tmp_path, capsys):
    assert main(["evolve", *TINY, "--iterations", "2", "--critic", "none", "--out", str(tmp_path),
                 "--name", "nc", "--no-plots"]) == 0
    run = tmp_path / "nc"
    df = pd.read_csv(run / "archive.csv")
    assert df["critic_valence"].isna().all()
    assert json.loads((run / "manifest.json").read_text())["metrics"]["critic_confirmed"] is None
    assert main(["confirm", str(run), "--critic", "tiny:1", "--no-plots"]) == 0
    df = pd.read_csv(run / "archive.csv")
    assert df["critic_valence"].notna().all() and set(df["critic_within_one"]) <= {0, 1}
    m = json.loads((run / "manifest.json").read_text())["metrics"]
    assert m["critic_confirmed"] == pytest.approx(df["critic_same_cell"].mean())
    # confirming with the searcher itself confirms every elite
    assert main(["confirm", str(run), "--critic", "tiny", "--no-plots"]) == 0
    assert json.loads((run / "manifest.json").read_text())["metrics"]["critic_confirmed"] == 1.0
    assert "critic:" in capsys.readouterr().out


def test_cli_confirm_reads_crlf_bom_tables_and_names_bad_ones(tmp_path, capsys):
    assert main(["evolve", *TINY, "--iterations", "2", "--critic", "none", "--out", str(tmp_path),
                 "--name", "nc", "--no-plots"]) == 0
    table = tmp_path / "nc" / "archive.csv"
    text = table.read_text(encoding="utf-8")
    table.write_bytes(b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode())  # edited on Windows
    assert main(["confirm", str(tmp_path / "nc"), "--critic", "tiny:1", "--no-plots"]) == 0
    assert pd.read_csv(table)["critic_valence"].notna().all()
    header, *rest = table.read_text(encoding="utf-8").splitlines()
    table.write_text(",".join(h for h in header.split(",") if h != "critic_within_one") + "\n", encoding="utf-8")
    capsys.readouterr()
    assert main(["confirm", str(tmp_path / "nc"), "--critic", "tiny:1", "--no-plots"]) == 2
    err = capsys.readouterr().err
    assert "archive.csv" in err and "critic_within_one" in err and "Traceback" not in err


@pytest.mark.slow
def test_cli_sigint_saves_and_resume_finishes(tmp_path):
    """A real process gets SIGINT mid-run: exit 130, checkpoint, then --resume completes."""
    run = tmp_path / "sig"
    cmd = [sys.executable, "-m", "qdemo", "evolve", *TINY, "--iterations", "100000", "--out", str(tmp_path),
           "--name", "sig", "--no-plots", "--set", "checkpoint_every=100000"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    p = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 60
        while not (run / "manifest.json").exists() and time.time() < deadline:
            time.sleep(0.2)
        time.sleep(1.0)
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 130, err
    assert f"--resume {run}" in err
    meta = json.loads((run / "checkpoint" / "meta.json").read_text())
    assert meta["iteration"] >= 1
    assert json.loads((run / "manifest.json").read_text())["status"] == "interrupted"
    rc = main(["evolve", "--resume", str(run), "--iterations", str(meta["iteration"] + 1), "--quiet", "--no-plots"])
    assert rc == 0
    man = json.loads((run / "manifest.json").read_text())
    assert man["status"] == "complete" and man["iterations"] == meta["iteration"] + 1


def test_resume_refuses_search_changes(tmp_path, capsys):
    assert main(["evolve", *TINY, "--iterations", "1", "--out", str(tmp_path), "--name", "rr", "--no-plots"]) == 0
    rc = main(["evolve", "--resume", str(tmp_path / "rr"), "--emitter", "map-elites"])
    assert rc == 2 and "only --iterations" in capsys.readouterr().err


def test_api_example_runs(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["evolve_api.py", "--tiny", "--iterations", "3", "--out", str(tmp_path / "api")])
    with pytest.raises(SystemExit) as exc:
        runpy.run_path(str(REPO / "examples" / "evolve_api.py"), run_name="__main__")
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "coverage" in out and "best elite" in out
    assert (tmp_path / "api" / "archive.csv").exists()


def test_cli_evolve_and_confirm_an_emotions_grid(tmp_path, capsys, tiny_dist_weights):
    dist = ["--searcher", str(tiny_dist_weights(0)), "--critic", str(tiny_dist_weights(1))]
    args = [*TINY, *dist, "--grid", "emotions", "--renderer", "cppn", "--iterations", "3", "--batch-size", "16",
            "--out", str(tmp_path), "--name", "emo"]
    assert main(["evolve", *args]) == 0
    out = capsys.readouterr().out
    assert "critic: its top emotion is the slot's for" in out and "chance 14.3%" in out and "per slot: anger" in out
    run = tmp_path / "emo"
    man = json.loads((run / "manifest.json").read_text())
    assert man["grid"]["slots"][0] == "anger" and man["emitter_settings"]["restart_rule"] == "no_improvement"
    assert (run / "montage.png").exists() and (run / "heatmaps" / "objective.png").exists()
    assert main(["confirm", str(run), "--critic", str(tiny_dist_weights(0))]) == 0
    assert "critic: its top emotion is the slot's" in capsys.readouterr().out
    df = pd.read_csv(run / "archive.csv")
    assert (df["critic_emotion"] == df["emotion"]).all()  # the searcher as critic agrees with itself
    # a subset of slots from the command line
    assert main(["evolve", *args[:-1], "sub", "--slots", "joy,sadness"]) == 0
    assert json.loads((tmp_path / "sub" / "manifest.json").read_text())["grid"]["slots"] == ["joy", "sadness"]


@pytest.mark.parametrize("args, needle", [
    (["--slots", "joy,happy"], "unknown emotion(s) 'happy'; valid slots: anger, disgust, fear, joy, sadness, surprise"),
    ([], "--searcher (tiny): model 'tiny-seed0' has no emotion-distribution head"),
])
def test_cli_emotions_bad_input(tmp_path, capsys, args, needle):
    rc = main(["evolve", *TINY, "--grid", "emotions", "--iterations", "1", "--out", str(tmp_path), *args])
    err = capsys.readouterr().err
    assert rc == 2 and needle in err.strip().splitlines()[-1] and "Traceback" not in err
    assert "shipped searcher and critic" in err or "valid slots" in err
    assert not any(tmp_path.iterdir())


def test_renderer_flag_drops_the_config_files_options_of_another_renderer(capsys):
    """The shipped config gives shapes' palette; `--renderer cppn` must not pass it to the CPPN."""
    import argparse

    from qdemo.cli.evolve import _drop_foreign_options
    from qdemo.qd.config import EvolveConfig

    cfg = EvolveConfig()
    cfg.renderer.name, cfg.renderer.options = "cppn", {"palette": "bicolour", "hidden": 8}
    _drop_foreign_options(cfg, argparse.Namespace(renderer="cppn", set=[]))
    assert cfg.renderer.options == {"hidden": 8} and "palette" in capsys.readouterr().out
    cfg.renderer.options = {"palette": "bicolour"}  # given with --set: kept (and refused later, loudly)
    _drop_foreign_options(cfg, argparse.Namespace(renderer="cppn", set=["renderer.options.palette=bicolour"]))
    assert cfg.renderer.options == {"palette": "bicolour"}
    cfg.renderer.name = "shapes"  # the renderer that takes it
    _drop_foreign_options(cfg, argparse.Namespace(renderer="shapes", set=[]))
    assert cfg.renderer.options == {"palette": "bicolour"}


def test_python_defaults_give_the_cli_run():
    """EvolveConfig() and the shipped configs/evolve.yaml (the CLI's default) describe the same run:
    every field equal, renderer options as the renderer is built; only the reference photos' path
    (relative to the YAML file) and whether a missing one is an error differ."""
    from qdemo.config import load_config, to_dict
    from qdemo.qd.config import EvolveConfig

    shipped, python = load_config(EvolveConfig, REPO / "configs" / "evolve.yaml"), EvolveConfig()
    a, b = to_dict(shipped), to_dict(python)
    for d, cfg in ((a, shipped), (b, python)):
        d["renderer"]["options"] = cfg.renderer.resolved_options()
        for key in ("path", "required"):
            d["dataset"].pop(key)
    assert a == b and b["renderer"] == {"name": "shapes", "resolution": 64, "options": {"palette": "bicolour"}}
