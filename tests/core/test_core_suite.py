"""The test command of the README (and CI) runs every test; the ``slow`` marker only labels."""

from __future__ import annotations

import configparser
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_slow_marker_is_declared_used_and_not_deselected():
    cfg = configparser.ConfigParser()
    cfg.read(REPO / "setup.cfg")
    pytest_cfg = cfg["tool:pytest"]
    assert re.search(r"^\s*slow:", pytest_cfg["markers"], re.M)
    assert "-m" not in pytest_cfg.get("addopts", "").split()  # nothing is deselected by default
    used = [p for p in (REPO / "tests").rglob("test_*.py")
            if "pytest.mark.slow" in p.read_text(encoding="utf-8")]
    assert len(used) >= 5, used


def test_readme_and_ci_run_the_whole_suite():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert ".venv/bin/python -m pytest -q\n" in readme
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    commands = [line.strip() for line in ci.splitlines() if "pytest" in line and not line.strip().startswith("#")]
    assert commands and all("-m" not in c.split("pytest", 1)[1].split() for c in commands), commands
