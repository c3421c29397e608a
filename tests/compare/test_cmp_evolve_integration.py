"""End to end on a real `qdemo evolve` run folder: latent renderer inside evolve, then compare;
evolve warns about (or, --strict, refuses) a generator trained against another searcher."""

from __future__ import annotations

import csv

import pytest

from qdemo.cli import main


@pytest.mark.slow
def test_evolve_with_generator_renderer_then_compare(tmp_path, tiny_generator, tiny_compare_config):
    pytest.importorskip("ribs")
    from qdemo.compare import run_compare

    rc = main(["evolve", "--grid", "va", "--cells", "3,3", "--renderer", "generator", "--resolution", "16",
               "--iterations", "2", "--batch-size", "8", "--searcher", "tiny", "--critic", "tiny:1", "--no-dataset",
               "--out", str(tmp_path), "--name", "latent", "--set", f"renderer.options={{checkpoint: {tiny_generator}}}",
               "--no-plots", "--quiet"])
    assert rc == 0
    run = tmp_path / "latent"
    with open(run / "archive.csv", newline="") as f:
        n_elites = len(list(csv.DictReader(f)))
    assert n_elites >= 1
    from dataclasses import replace

    # the run draws with the generator's latent space: the pixel generator only (a shapes one would not fit)
    summary = run_compare([run], replace(tiny_compare_config, generators=[str(tiny_generator)]), tmp_path / "cmp",
                          backend="serial", progress=False)
    assert summary["all"]["extra"]["cells"] == n_elites
    with open(tmp_path / "cmp" / "samples.csv", newline="") as f:
        samples = list(csv.DictReader(f))
    assert len(samples) == n_elites * tiny_compare_config.samples_per_cell
    assert {s["target_dominance"] for s in samples} == {"0"}  # 2-D grid: dominance requested as neutral


def test_evolve_latent_renderer_checks_the_judge(tmp_path, tiny_generator, capsys):
    pytest.importorskip("ribs")
    args = ["evolve", "--grid", "va", "--cells", "3,3", "--renderer", "generator", "--resolution", "16",
            "--iterations", "1", "--batch-size", "8", "--searcher", "tiny", "--critic", "none", "--no-dataset",
            "--out", str(tmp_path), "--set", f"renderer.options={{checkpoint: {tiny_generator}}}", "--no-plots",
            "--quiet"]
    assert main(args + ["--name", "strict", "--strict"]) == 2  # refused before anything is written
    err = capsys.readouterr().err
    assert "records no judge" in err and "--strict refuses" in err and not (tmp_path / "strict").exists()
    assert main(args + ["--name", "warned"]) == 0
    warn = [line for line in capsys.readouterr().err.splitlines() if line.startswith("warning:")]
    assert len(warn) == 1 and str(tiny_generator) in warn[0]
