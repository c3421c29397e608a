"""qdemo.tables.read_table: the one table reader reads real-world files or names the problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from qdemo.errors import DataError
from qdemo.tables import read_output_table, read_table, table_text


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
@pytest.mark.parametrize("bom", [False, True])
def test_line_endings_bom_strip_and_line_numbers(tmp_path: Path, newline: str, bom: bool):
    p = tmp_path / "t.csv"
    text = newline.join([" a , b ", "", "1, x ", "  ", "2,y", ""])
    p.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode())
    t = read_table(p, required=("a", "b"))
    assert t.header == ["a", "b"] and len(t) == 2
    assert t.rows == [["1", "x"], ["2", "y"]]
    assert t.lines == [3, 5]  # blank lines are dropped but still counted
    assert t.dicts() == [{"a": "1", "b": "x"}, {"a": "2", "b": "y"}]
    assert t.column("b") == ["x", "y"] and t.index("b") == 1
    assert read_table(p, strip=False).rows[0] == ["1", " x "]


def test_delimiters_sniffed_or_given(tmp_path: Path):
    p = tmp_path / "t.txt"
    p.write_text("w\tv\tn\nsun\t7,5\t1\n")
    t = read_table(p)
    assert t.delimiter == "\t" and t.rows == [["sun", "7,5", "1"]]
    p.write_text("w;v\nsun;7,5\n")
    assert read_table(p).rows == [["sun", "7,5"]]
    assert read_table(p, delimiter=",").header == ["w;v"]


def test_ragged_rows_padded_or_refused(tmp_path: Path):
    p = tmp_path / "t.csv"
    p.write_text("a,b,c\n1,2\n")
    assert read_table(p).rows == [["1", "2", ""]]
    with pytest.raises(DataError, match=r"t\.csv: line 2 has 2 fields, the header has 3"):
        read_table(p, ragged="error")


def test_header_checks(tmp_path: Path):
    p = tmp_path / "t.csv"
    p.write_text("a,a,b\n1,2,3\n")
    assert read_table(p).header == ["a", "a", "b"]
    with pytest.raises(DataError, match=r"duplicate column\(s\) 'a'"):
        read_table(p, unique_header=True)
    with pytest.raises(DataError, match=r"missing column\(s\) 'z' \(found: a, a, b\)"):
        read_table(p, required=("z",))
    with pytest.raises(DataError, match=r"t\.csv: no column 'z'"):
        read_table(p).column("z")


def test_bad_files_name_the_file(tmp_path: Path):
    with pytest.raises(DataError, match=r"none\.csv: missing \(file not found\)"):
        read_table(tmp_path / "none.csv")
    with pytest.raises(DataError, match="is a directory"):
        read_table(tmp_path)
    empty = tmp_path / "empty.csv"
    empty.write_text("\n \n")
    with pytest.raises(DataError, match=r"empty\.csv: empty file"):
        read_table(empty)
    assert read_table(empty, allow_empty=True).rows == []
    with pytest.raises(DataError, match=r"expected a header row with a"):
        read_table(empty, allow_empty=True, required=("a",))
    binary = tmp_path / "b.csv"
    binary.write_bytes(b"PK\x03\x04\x00\x00")
    with pytest.raises(DataError, match="binary file"):
        read_table(binary)
    latin = tmp_path / "l.csv"
    latin.write_bytes("name\ncaf\xe9\n".encode("cp1252"))
    assert read_table(latin).rows == [["caf\xe9"]]
    with pytest.raises(DataError, match=r"l\.csv: not UTF-8 text"):
        read_table(latin, encodings=("utf-8-sig",))
    undefined = tmp_path / "u.csv"
    undefined.write_bytes(b"name\n\x81\x8d\n")  # bytes that neither UTF-8 nor cp1252 defines
    with pytest.raises(DataError, match=r"u\.csv: not UTF-8 or cp1252 text"):
        read_table(undefined)


def test_output_tables_are_read_back_strictly(tmp_path: Path):
    """What qdemo wrote is read back exactly; anything else is named as damaged."""
    p = tmp_path / "t.csv"
    p.write_bytes(b"\xef\xbb\xbf a , b \r\n\r\n1, x \r\n2,y\r\n")
    t = read_output_table(p, required=("a", "b"))
    assert t.header == ["a", "b"] and t.lines == [3, 4] and t.dicts() == [{"a": "1", "b": "x"}, {"a": "2", "b": "y"}]
    p.write_text("a;b\n1;2\n")
    assert read_output_table(p).header == ["a;b"]  # comma only: no sniffing
    p.write_text("a,b\n1\n")
    with pytest.raises(DataError, match=r"t\.csv: line 2 has 1 fields, the header has 2"):
        read_output_table(p)
    p.write_text("a,a\n1,2\n")
    with pytest.raises(DataError, match=r"duplicate column\(s\) 'a'"):
        read_output_table(p)
    p.write_bytes("a\ncaf\xe9\n".encode("cp1252"))
    with pytest.raises(DataError, match=r"t\.csv: not UTF-8 text"):
        read_output_table(p)
    p.write_text("")
    assert read_output_table(p).rows == []
    with pytest.raises(DataError, match=r"empty file \(expected a header row with a\)"):
        read_output_table(p, required=("a",))
    with pytest.raises(DataError, match=r"none\.csv: missing"):
        read_output_table(tmp_path / "none.csv")


def test_table_text_round_trips(tmp_path: Path):
    rows = [["x, with comma", 1.5, None], {"a": 'say "hi"', "c": 3}, ("multi\nline", "", 0)]
    text = table_text(["a", "b", "c"], rows)
    assert text.startswith("a,b,c\n") and "\r" not in text
    p = tmp_path / "t.csv"
    p.write_text(text, encoding="utf-8")
    t = read_output_table(p)
    assert t.rows == [["x, with comma", "1.5", ""], ['say "hi"', "", "3"], ["multi\nline", "", "0"]]
    with pytest.raises(ValueError, match="not in the header: z"):
        table_text(["a"], [{"a": 1, "z": 2}])
    assert table_text(["a"], [{"a": 1, "z": 2}], extra="ignore") == "a\n1\n"
