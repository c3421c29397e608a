"""Where configs come from: default files found without the current folder, input paths
relative to the config file, the source recorded above every resolved config."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import pytest

from qdemo.config import (
    PACKAGE_DIR, config_source, default_config_path, load_config, save_config, to_dict,
)

REPO = Path(__file__).resolve().parents[2]
COMMANDS = ("compare", "evolve", "generator", "generator-shapes", "normalise", "regressor")
"""One default config per command (generator-shapes: `qdemo generator train --renderer shapes`)."""


@dataclass
class Data:
    photos: list[str] = field(default_factory=list)
    """Photo folders."""
    root: Optional[str] = None
    """A dataset folder."""


@dataclass
class Cfg:
    data: Data = field(default_factory=Data)
    """Inputs."""
    model: str = "shipped"
    """A model spec."""
    out: str = "runs"
    """An output folder."""


def test_packaged_defaults_are_the_repository_configs():
    """configs/*.yaml (what users read and edit) and qdemo/configs/*.yaml (what an installed
    package falls back on) are the same files, byte for byte."""
    user = sorted(p.name for p in (REPO / "configs").glob("*.yaml"))
    packaged = sorted(p.name for p in (PACKAGE_DIR / "configs").glob("*.yaml"))
    assert user == packaged == sorted(f"{c}.yaml" for c in COMMANDS)
    for name in user:
        assert (REPO / "configs" / name).read_bytes() == (PACKAGE_DIR / "configs" / name).read_bytes(), \
            f"configs/{name} and qdemo/configs/{name} differ: copy the edited one over the other"


def test_packaged_configs_are_package_data():
    text = (REPO / "setup.cfg").read_text(encoding="utf-8")
    assert "configs/*.yaml" in text.split("[options.package_data]")[1].split("[")[0]


@pytest.mark.parametrize("command", COMMANDS)
def test_default_config_does_not_depend_on_the_current_folder(command, tmp_path, monkeypatch):
    here = default_config_path(command)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "configs").mkdir()
    (tmp_path / "configs" / f"{command}.yaml").write_text("seed: 99\n")  # a decoy in the current folder
    assert default_config_path(command) == here == REPO / "configs" / f"{command}.yaml"


def test_packaged_copy_is_used_outside_a_checkout(tmp_path, monkeypatch):
    import qdemo.config as config

    pkg = tmp_path / "site-packages" / "qdemo"
    (pkg / "configs").mkdir(parents=True)
    (pkg / "configs" / "evolve.yaml").write_text("seed: 1\n")
    monkeypatch.setattr(config, "PACKAGE_DIR", pkg)
    assert default_config_path("evolve") == pkg / "configs" / "evolve.yaml"
    assert default_config_path("nope") is None


def test_input_paths_are_relative_to_the_config_file(tmp_path, monkeypatch):
    folder = tmp_path / "project" / "configs"
    folder.mkdir(parents=True)
    f = folder / "c.yaml"
    f.write_text("data:\n  photos: [../photos, /abs/photos, ~/home_photos]\n  root: ../../shared/set\n"
                 "model: weights/m.safetensors\nout: runs/x\n")
    for cwd in (tmp_path, folder):  # the same result wherever one stands
        monkeypatch.chdir(cwd)
        cfg = load_config(Cfg, f, paths=("data.photos", "data.root"), specs=("model",))
        assert cfg.data.photos == [str(tmp_path / "project" / "photos"), "/abs/photos",
                                   str(Path("~/home_photos").expanduser())]
        assert cfg.data.root == str(tmp_path / "shared" / "set")
        assert cfg.model == str(folder / "weights" / "m.safetensors")
        assert cfg.out == "runs/x"  # outputs: relative to the current folder, as given
    # model specs that name no file stay as they are; overrides are taken as given (the command line)
    for spec in ("shipped", "tiny:1", "none"):
        f.write_text(f"model: {spec}\n")
        assert load_config(Cfg, f, specs=("model",)).model == spec
    f.write_text("model: m.pt\n")
    assert load_config(Cfg, f, specs=("model",)).model == str(folder / "m.pt")
    assert load_config(Cfg, f, ["data.root=rel/here"], paths=("data.root",)).data.root == "rel/here"


def test_source_is_recorded_and_survives_a_resave(tmp_path):
    f = tmp_path / "c.yaml"
    f.write_bytes(b"model: tiny\r\nout: o\r\n")  # CRLF: the hash is of the bytes
    cfg = load_config(Cfg, f, ["out=p"])
    src = config_source(cfg)
    assert src.path == str(f.resolve()) and src.sha256 == hashlib.sha256(f.read_bytes()).hexdigest()
    assert src.describe() == f"config: {f.resolve()} (sha256 {src.sha256[:12]})"
    run = tmp_path / "run" / "config.yaml"
    save_config(cfg, run)
    text = run.read_text()
    assert text.startswith(f"# qdemo config source: {f.resolve()}\n# qdemo config sha256: {src.sha256}\n")
    # a run's resolved config, read back (resume), names where it came from and re-saves identically
    again = load_config(Cfg, run)
    assert to_dict(again) == to_dict(cfg)
    assert config_source(again).path == src.path and config_source(again).via == str(run.resolve())
    assert "resolved config made from" in config_source(again).describe()
    save_config(again, tmp_path / "copy.yaml")
    assert (tmp_path / "copy.yaml").read_bytes() == run.read_bytes()


def test_built_in_defaults_are_named(tmp_path):
    cfg = load_config(Cfg, None, {"out": "x"})
    assert config_source(cfg).describe() == "config: built-in defaults (no config file)"
    save_config(cfg, tmp_path / "c.yaml")
    assert (tmp_path / "c.yaml").read_text().startswith("# qdemo config source: built-in defaults\n")
    assert "built-in defaults" in config_source(load_config(Cfg, tmp_path / "c.yaml")).describe()
    # a config made in code has no recorded source and is saved without a header
    save_config(Cfg(), tmp_path / "d.yaml")
    assert config_source(Cfg()) is None and (tmp_path / "d.yaml").read_text().startswith("data:")


def test_a_folder_given_as_config_is_a_clear_error(tmp_path):
    from qdemo.errors import ConfigError

    with pytest.raises(ConfigError, match="not a file"):
        load_config(Cfg, tmp_path)
