"""docs/architecture.md says what the code does: the claims a test can check are checked here
(the layer order and packages are checked in test_core_layers.py)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")


def _sources(folder: str = "qdemo") -> dict[str, str]:
    return {str(p.relative_to(ROOT)): p.read_text(encoding="utf-8") for p in sorted((ROOT / folder).rglob("*.py"))}


def test_the_measure_space_is_named_and_sits_in_the_base_layer():
    base_row = next(line for line in DOC.splitlines() if line.startswith("| base:"))
    assert "`measure_space`" in base_row and "MeasureSpace" in base_row and "## The measure space" in DOC
    assert "MeasureSpace" in (ROOT / "qdemo" / "measure_space.py").read_text(encoding="utf-8")


def test_the_package_docstring_draws_the_same_layers():
    import qdemo

    (line,) = [ln.strip() for ln in DOC.splitlines() if ln.strip().startswith("base <")]
    assert line in qdemo.__doc__


def test_every_csv_goes_through_table_text():
    """Only qdemo.tables uses the csv module's writers; every module writing a .csv formats it with
    table_text."""
    for path, text in _sources().items():
        if path != "qdemo/tables.py":
            assert not re.search(r"csv\.(writer|DictWriter)\(", text), path
        if re.search(r"atomic_write_text\([^\n]*\.csv", text):
            assert "table_text" in text, f"{path} writes a CSV without tables.table_text"
    assert "`tables.table_text`" in DOC


def test_qd_writes_nothing_and_reads_only_what_the_doc_names():
    qd_row = next(line for line in DOC.splitlines() if line.startswith("| `qd/`"))
    writes = re.compile(r"atomic_write|\.write_text\(|\.write_bytes\(|np\.save|torch\.save|\.save\(|open\([^)]*['\"]w")
    reads = re.compile(r"open\(|read_text\(|read_bytes\(|open_rgb\(|Image\.open|np\.load\(|load_image\(|list_images\(")
    qd = _sources("qdemo/qd")
    assert not [p for p, t in qd.items() if writes.search(t)]
    readers = {Path(p).stem for p, t in qd.items() if reads.search(t)}
    assert readers and all(f"(`{m}`)" in qd_row for m in readers), (readers, qd_row)
    assert "writes nothing to disk" in qd_row


def test_run_folder_files_are_opened_by_runfolder_or_where_the_doc_says():
    """Outside qdemo.runfolder only the modules the doc names join a run folder's file names onto a
    path (the viz figures are written into the folder they are handed, under their own names)."""
    joins = re.compile(r'/ ?"(manifest\.json|archive\.csv|solutions\.npy|reference\.csv|elites)"')
    found = {p for p, t in _sources().items() if not p.startswith("qdemo/runfolder/") and joins.search(t)}
    assert found == {"qdemo/normalise/apply.py"}
    assert all(f"`{p}`" in DOC for p in found)
