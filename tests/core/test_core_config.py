from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Optional

import pytest

from qdemo.config import describe, field_docs, load_config, save_config, to_dict
from qdemo.errors import ConfigError


@dataclass
class Inner:
    cells: list[int] = field(default_factory=lambda: [3, 3])
    """Cells per dimension."""
    low: float = -1.0
    """Lower bound."""


@dataclass
class Outer:
    seed: int = 0
    """Random seed."""
    name: str = "run"
    """Run name."""
    mode: Literal["a", "b"] = "a"
    """Which mode."""
    scale: Optional[float] = None
    """Optional scale."""
    out: Path = Path("archives")
    """Where outputs go."""
    inner: Inner = field(default_factory=Inner)
    """Nested section."""


def test_defaults_file_and_overrides_layer_in_order(tmp_path):
    cfg_file = tmp_path / "c.yaml"
    cfg_file.write_text("seed: 3\ninner:\n  low: -0.5\n")
    cfg = load_config(Outer, cfg_file, ["inner.cells=[5,6]", "mode=b", "scale=2"])
    assert cfg.seed == 3 and cfg.mode == "b" and cfg.scale == 2.0
    assert cfg.inner.cells == [5, 6] and cfg.inner.low == -0.5
    assert isinstance(cfg.out, Path)


def test_dict_overrides_ignore_none(tmp_path):
    cfg = load_config(Outer, None, {"seed": None, "name": "x"})
    assert cfg.seed == 0 and cfg.name == "x"


@pytest.mark.parametrize(
    "override, fragment",
    [
        ("sede=1", "unknown key(s) 'sede'"),
        ("inner.cels=[1]", "unknown key(s) 'cels'"),
        ("seed=abc", "expected an integer"),
        ("mode=c", "is not one of"),
        ("inner.cells=3", "expected a list"),
        ("noequals", "expected key=value"),
    ],
)
def test_bad_overrides_raise_clear_errors(override, fragment):
    with pytest.raises(ConfigError) as err:
        load_config(Outer, None, [override])
    assert fragment in str(err.value)


def test_unknown_key_in_file_names_file(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("seed: 1\ncolour: red\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml.*'colour'"):
        load_config(Outer, bad)


def test_missing_and_invalid_yaml(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(Outer, tmp_path / "nope.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("seed: [1, 2\n")
    with pytest.raises(ConfigError, match="invalid YAML"):
        load_config(Outer, broken)


def test_save_roundtrip(tmp_path):
    cfg = load_config(Outer, None, ["seed=7", "inner.cells=[2,4]"])
    save_config(cfg, tmp_path / "resolved.yaml")
    again = load_config(Outer, tmp_path / "resolved.yaml")
    assert to_dict(again) == to_dict(cfg)


def test_field_docs_and_describe():
    docs = field_docs(Outer)
    assert docs["seed"] == "Random seed." and docs["inner"] == "Nested section."
    text = describe(Outer)
    assert "inner.cells" in text and "Cells per dimension." in text


def test_explicit_null_override_clears_optional_field(tmp_path):
    cfg_file = tmp_path / "c.yaml"
    cfg_file.write_text("scale: 3.0\n")
    assert load_config(Outer, cfg_file).scale == 3.0
    assert load_config(Outer, cfg_file, ["scale=null"]).scale is None
    assert load_config(Outer, cfg_file, {"scale": None}).scale == 3.0  # unset CLI flag
