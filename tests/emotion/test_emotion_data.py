"""Rated-set loaders, scales and splits: odd files are read or rejected with a clear error."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from qdemo.emotion.datasets import (
    EMOTIONS, concat_sets, load_csv, load_dataset, load_emotion6, load_oasis, oasis_theme, verify_images,
)
from qdemo.emotion.scale import from_canonical, parse_scale, to_canonical, to_sam9
from qdemo.emotion.splits import (
    assert_no_group_leak, default_folds, fold_ids, grouped_kfold, stratified_kfold,
)
from qdemo.errors import DataError
from qdemo.tables import read_table


def _img(path: Path, mode: str = "RGB", size=(20, 16), fmt: str | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(len(str(path)))
    arr = (rng.random((size[1], size[0], 3)) * 255).astype(np.uint8)
    im = Image.fromarray(arr, "RGB")
    if mode != "RGB":
        im = im.convert(mode)
    im.save(path, format=fmt)
    return path


def _write(path: Path, text: str, newline: str = "\n", bom: bool = False) -> Path:
    data = text.replace("\n", newline).encode("utf-8")
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + data)
    return path


@pytest.fixture()
def user_set(tmp_path: Path) -> Path:
    for n in ("a.png", "b.png", "c.png", "sub/d.png"):
        _img(tmp_path / "imgs" / n)
    return tmp_path


# ----------------------------------------------------------------------------- scales


def test_scale_round_trip_and_named_scales():
    assert to_canonical(4, 1, 7) == pytest.approx(0.0)
    assert to_canonical([1, 7], 1, 7).tolist() == pytest.approx([-1.0, 1.0])
    assert to_canonical(9, 1, 9) == pytest.approx(1.0)
    assert to_canonical(0.25, 0, 1) == pytest.approx(-0.5)
    x = np.array([-1, -0.3, 0.0, 0.8])
    assert from_canonical(to_canonical(x, 2, 5), 2, 5) == pytest.approx(x)
    assert to_sam9([-1, 0, 1]).tolist() == pytest.approx([1, 5, 9])
    assert parse_scale("oasis") == (1.0, 7.0)
    assert parse_scale("1,9") == (1.0, 9.0)
    assert parse_scale("1-7") == (1.0, 7.0)
    assert parse_scale("-1,1") == (-1.0, 1.0)
    with pytest.raises(ValueError):
        parse_scale("nine")
    with pytest.raises(ValueError):
        to_canonical(1, 5, 5)


# ----------------------------------------------------------------------------- CSV parsing


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
@pytest.mark.parametrize("bom", [False, True])
def test_line_endings_and_bom(user_set: Path, newline: str, bom: bool):
    csv = _write(user_set / "r.csv", "File,Valence,Arousal\na.png,1,9\nb.png,5,5\nsub/d.png,9,1\n",
                 newline, bom)
    rs = load_csv(csv, image_root=user_set / "imgs", scale=(1, 9))
    assert len(rs) == 3
    assert rs.targets[:, :2].tolist() == [[-1, 1], [0, 0], [1, -1]]
    assert np.isnan(rs.targets[:, 2]).all()
    assert rs.sources == {"valence": "human", "arousal": "human", "dominance": "missing"}
    assert all(p.is_absolute() and p.exists() for p in rs.paths)
    assert rs.mask().tolist() == [[True, True, False]] * 3
    assert rs.strata.tolist() == ["all", "all", "sub"]


def test_aliases_tabs_semicolons_and_explicit_columns(user_set: Path):
    tsv = _write(user_set / "r.tsv", "image_filename\tvalmn\taromn\tdom1mn\na.png\t3\t3\t7\nb.png\t5\t5\t5\n")
    rs = load_csv(tsv, image_root=user_set / "imgs", scale="sam")
    assert rs.sources["dominance"] == "human"
    assert rs.targets[0].tolist() == pytest.approx([-0.5, -0.5, 0.5])
    semi = _write(user_set / "s.csv", "Bild;Wert\na.png;0,75\nb.png;0,25\n")
    rs = load_csv(semi, image_root=user_set / "imgs", scale=(0, 1),
                  columns={"file": "Bild", "valence": "Wert"})
    assert rs.targets[:, 0].tolist() == pytest.approx([0.5, -0.5])
    assert rs.sources["arousal"] == "missing"


def test_names_without_suffix_and_stray_spaces(user_set: Path):
    csv = _write(user_set / "r.csv", "name,valence\n a \n".replace(" a \n", " a ,2\n") + "b.png ,3\n")
    rs = load_csv(csv, image_root=user_set / "imgs", scale=(1, 7))
    assert [p.name for p in rs.paths] == ["a.png", "b.png"]


def test_missing_column_lists_found_columns(user_set: Path):
    csv = _write(user_set / "r.csv", "picture_id,happiness\na.png,3\n")
    with pytest.raises(DataError) as ei:
        load_csv(csv, image_root=user_set / "imgs", scale=(1, 9))
    msg = str(ei.value)
    assert "r.csv" in msg and "'picture_id'" in msg and "'happiness'" in msg
    csv = _write(user_set / "r2.csv", "file,happiness\na.png,3\n")
    with pytest.raises(DataError, match=r"r2\.csv: no valence, arousal or dominance column.*'happiness'"):
        load_csv(csv, image_root=user_set / "imgs", scale=(1, 9))
    with pytest.raises(DataError, match=r"column 'Val' \(given for valence\) not found"):
        load_csv(csv, image_root=user_set / "imgs", scale=(1, 9), columns={"valence": "Val"})


@pytest.mark.parametrize("cell", ["", "NaN", "nan", "NA"])
def test_nan_rating_names_the_line(user_set: Path, cell: str):
    csv = _write(user_set / "r.csv", f"file,valence,arousal\na.png,2,3\nb.png,{cell},4\n")
    with pytest.raises(DataError, match=r"r\.csv: line 3: valence is missing/NaN"):
        load_csv(csv, image_root=user_set / "imgs", scale=(1, 9))
    rs = load_csv(csv, image_root=user_set / "imgs", scale=(1, 9), on_nan="mask")
    assert rs.mask().tolist() == [[True, True, False], [False, True, False]]


def test_out_of_range_and_non_numeric(user_set: Path):
    csv = _write(user_set / "r.csv", "file,valence\na.png,2\nb.png,8.5\n")
    with pytest.raises(DataError, match=r"line 3: valence 8\.5 .* outside the scale \[1, 7\]"):
        load_csv(csv, image_root=user_set / "imgs", scale=(1, 7))
    assert len(load_csv(csv, image_root=user_set / "imgs", scale=(1, 9))) == 2
    csv = _write(user_set / "r.csv", "file,valence\na.png,high\n")
    with pytest.raises(DataError, match=r"line 2: valence 'high' .* is not a number"):
        load_csv(csv, image_root=user_set / "imgs", scale=(1, 7))
    csv = _write(user_set / "r.csv", "file,valence\na.png,inf\n")
    with pytest.raises(DataError, match=r"line 2"):
        load_csv(csv, image_root=user_set / "imgs", scale=(1, 7))


def test_scale_required(user_set: Path):
    csv = _write(user_set / "r.csv", "file,valence\na.png,2\n")
    with pytest.raises(DataError, match="native rating scale"):
        load_csv(csv, image_root=user_set / "imgs")


def test_absent_image_error_and_skip_with_count(user_set: Path):
    csv = _write(user_set / "r.csv", "file,valence\na.png,2\nghost.png,3\nb.png,4\nnope.jpg,5\n")
    with pytest.raises(DataError) as ei:
        load_csv(csv, image_root=user_set / "imgs", scale=(1, 9))
    msg = str(ei.value)
    assert "2 image(s)" in msg and "'ghost.png' (line 3)" in msg and "'nope.jpg' (line 5)" in msg
    rs = load_csv(csv, image_root=user_set / "imgs", scale=(1, 9), on_missing="skip")
    assert [p.name for p in rs.paths] == ["a.png", "b.png"]
    assert rs.skipped == [("ghost.png", "image not found"), ("nope.jpg", "image not found")]
    assert "skipped 2: 2 image not found" in rs.summary()


def test_empty_header_only_and_non_csv(tmp_path: Path):
    empty = _write(tmp_path / "empty.csv", "")
    with pytest.raises(DataError, match=r"empty\.csv: empty file"):
        load_csv(empty, scale=(1, 9))
    blank = _write(tmp_path / "blank.csv", "\r\n\r\n  \n")
    with pytest.raises(DataError, match="empty file"):
        load_csv(blank, scale=(1, 9))
    head = _write(tmp_path / "head.csv", "file,valence\n")
    with pytest.raises(DataError, match=r"head\.csv: no data rows"):
        load_csv(head, scale=(1, 9))
    png = _img(tmp_path / "ratings.csv", fmt="PNG")  # an image with a .csv name
    with pytest.raises(DataError, match=r"ratings\.csv: binary file, not a CSV"):
        load_csv(png, scale=(1, 9))
    prose = _write(tmp_path / "notes.txt", "just some notes\nabout images\n")
    with pytest.raises(DataError, match=r"notes\.txt: found a single column"):
        load_csv(prose, scale=(1, 9))
    with pytest.raises(DataError, match="file not found"):
        load_csv(tmp_path / "absent.csv", scale=(1, 9))


def test_duplicate_rows_rejected(user_set: Path):
    csv = _write(user_set / "r.csv", "file,valence\na.png,2\nb.png,3\na.png,4\n")
    with pytest.raises(DataError, match=r"line 4: duplicate image 'a.png' \(also on line 2\)"):
        load_csv(csv, image_root=user_set / "imgs", scale=(1, 9))


def test_read_table_cr_only_with_quotes(tmp_path: Path):
    p = tmp_path / "t.csv"
    p.write_bytes(b'\xef\xbb\xbf"Theme","Val"\r"Car crash 1 ",2.5\r"Sun, bright",3\r')
    t = read_table(p, strip=False)  # the loaders keep raw cells ('Crosswalk 1 ' is a real OASIS theme)
    assert t.header == ["Theme", "Val"]
    assert t.rows == [["Car crash 1 ", "2.5"], ["Sun, bright", "3"]]
    assert t.lines == [2, 3]
    assert read_table(p).rows == [["Car crash 1", "2.5"], ["Sun, bright", "3"]]


# ----------------------------------------------------------------------------- images


def test_verify_images_modes_corrupt_and_non_image(tmp_path: Path):
    d = tmp_path / "imgs"
    _img(d / "rgb.png")
    _img(d / "gray.png", "L")
    _img(d / "cmyk.jpg", "CMYK", fmt="JPEG")
    _img(d / "rgba.png", "RGBA")
    _img(d / "pal.gif", "P", fmt="GIF")
    good = _img(d / "trunc.jpg", fmt="JPEG")
    data = good.read_bytes()
    good.write_bytes(data[: len(data) // 3])  # truncated JPEG
    (d / "text.png").write_text("not an image at all")
    names = ["rgb.png", "gray.png", "cmyk.jpg", "rgba.png", "pal.gif", "trunc.jpg", "text.png"]
    csv = _write(tmp_path / "r.csv", "file,valence\n" + "".join(f"{n},{i + 1}\n" for i, n in enumerate(names)))
    rs = load_csv(csv, image_root=d, scale=(1, 9))
    assert len(rs) == 7
    with pytest.raises(DataError) as ei:
        verify_images(rs)
    msg = str(ei.value)
    assert "2 of 7 images unusable" in msg and "trunc.jpg" in msg and "text.png" in msg
    ok = verify_images(rs, on_error="skip")
    assert [p.name for p in ok.paths] == names[:5]
    assert ok.targets[:, 0].tolist() == pytest.approx(to_canonical([1, 2, 3, 4, 5], 1, 9).tolist())
    assert sorted(Path(f).name for f, _ in ok.skipped) == ["text.png", "trunc.jpg"]
    assert any("not an image" in why for _, why in ok.skipped)
    assert "skipped 2" in ok.summary()


# ----------------------------------------------------------------------------- OASIS / Emotion6 replicas


def _mini_oasis(root: Path, newline: str = "\r") -> Path:
    rows = [("Car crash 1", "Object", 2.0, 5.5), ("Car crash 2", "Object", 1.5, 6.0),
            ("War 2 ", "Person", 1.2, 5.0), ("War 1", "Person", 1.0, 6.5),
            ("Sun 1", "Scenery", 6.0, 3.0), ("Sun 2", "Scenery", 6.5, 3.5), ("Cat 10", "Animal", 6.2, 3.1)]
    text = ",Theme,Category,Source,Valence_mean,Valence_SD,Valence_N,Arousal_mean,Arousal_SD,Arousal_N\n"
    for i, (t, c, v, a) in enumerate(rows):
        text += f"I{i + 1},{t},{c},Pixabay,{v},1,100,{a},1,100\n"
        _img(root / "images" / f"{t.strip()}.jpg", fmt="JPEG")
    _write(root / "OASIS.csv", text, newline)
    return root


def test_oasis_replica_quirks(tmp_path: Path):
    root = _mini_oasis(tmp_path / "oasis")
    rs = load_oasis(root)
    assert len(rs) == 7 and rs.name == "oasis"
    assert rs.groups.tolist() == ["Car crash", "Car crash", "War", "War", "Sun", "Sun", "Cat"]
    assert rs.strata.tolist()[:3] == ["Object", "Object", "Person"]
    assert rs.paths[2].name == "War 2.jpg"
    assert rs.targets[3, :2].tolist() == pytest.approx([-1.0, (6.5 - 4) / 3])
    assert rs.sources["dominance"] == "missing"
    assert oasis_theme("Crosswalk 1 ") == "Crosswalk" and oasis_theme("Cat 10") == "Cat"
    assert load_dataset(root).name == "oasis"  # auto-detected
    (root / "images" / "Sun 2.jpg").unlink()
    with pytest.raises(DataError, match=r"OASIS\.csv: 1 image\(s\) .*'Sun 2\.jpg' \(line 7\)"):
        load_oasis(root)
    assert len(load_oasis(root, on_missing="skip")) == 6


def test_oasis_misnamed_column(tmp_path: Path):
    root = _mini_oasis(tmp_path / "oasis")
    csv = root / "OASIS.csv"
    csv.write_bytes(csv.read_bytes().replace(b"Valence_mean", b"Val_mean"))
    with pytest.raises(DataError, match=r"OASIS\.csv: missing column for valence.*'Val_mean'"):
        load_oasis(root)


def _mini_emotion6(root: Path) -> Path:
    lines = ["[image_filename]\t[valence]\t[arousal]\t" + "\t".join(f"[prob. {e}]" for e in EMOTIONS)]
    for folder, dist in (("joy", [0, 0, 0, 0.8, 0, 0.1, 0.1]), ("fear", [0.1, 0, 0.7, 0, 0.1, 0.1, 0])):
        for i in range(1, 4):
            _img(root / "images" / folder / f"{i}.jpg", fmt="JPEG")
            lines.append(f"{folder}/{i}.jpg\t{5 + i if folder == 'joy' else 5 - i}\t{3 + i}\t"
                         + "\t".join(str(x) for x in dist))
    _write(root / "ground_truth.txt", "\n".join(lines) + "\n")
    return root


def test_emotion6_replica(tmp_path: Path):
    root = _mini_emotion6(tmp_path / "e6")
    rs = load_emotion6(root)
    assert len(rs) == 6 and rs.emotion_dist.shape == (6, 7)
    assert rs.emotion_dist.sum(axis=1) == pytest.approx(np.ones(6), abs=1e-6)
    assert rs.strata.tolist() == ["joy"] * 3 + ["fear"] * 3
    assert rs.groups[0] == "joy/1.jpg"
    assert rs.targets[0, :2].tolist() == pytest.approx([0.25, -0.25])  # v 6, a 4 on 1-9
    sub = rs.subset([5, 0])
    assert sub.groups.tolist() == ["fear/3.jpg", "joy/1.jpg"] and sub.emotion_dist.shape == (2, 7)
    assert len(rs.subset(rs.strata == "joy")) == 3
    both = concat_sets([rs, rs.subset([0])], name="both")
    assert len(both) == 7 and both.emotion_dist.shape == (7, 7)
    gt = root / "ground_truth.txt"
    gt.write_text(gt.read_text().replace("0.8\t0\t0.1\t0.1", "0.8\t0\t0.5\t0.1", 1))
    with pytest.raises(DataError, match=r"ground_truth\.txt: line 2: emotion distribution"):
        load_emotion6(root)


# ----------------------------------------------------------------------------- splits


def test_grouped_kfold_never_leaks_and_balances():
    rng = np.random.default_rng(1)
    groups = np.repeat([f"t{i}" for i in range(40)], rng.integers(1, 7, size=40))
    folds = grouped_kfold(groups, k=5, seed=3)
    assert len(folds) == 5
    tests = np.concatenate([te for _, te in folds])
    assert sorted(tests.tolist()) == list(range(len(groups)))  # a partition
    sizes = [len(te) for _, te in folds]
    assert max(sizes) - min(sizes) <= 6
    for tr, te in folds:
        assert_no_group_leak(groups, tr, te)
        assert len(tr) + len(te) == len(groups)
    assert [te.tolist() for _, te in grouped_kfold(groups, k=5, seed=3)] == [te.tolist() for _, te in folds]
    assert [te.tolist() for _, te in grouped_kfold(groups, k=5, seed=4)] != [te.tolist() for _, te in folds]
    with pytest.raises(ValueError):
        grouped_kfold(["a", "a", "b"], k=5)


def test_assert_no_group_leak_detects_leak():
    groups = np.array(["a", "a", "b", "b"])
    with pytest.raises(AssertionError, match="straddle"):
        assert_no_group_leak(groups, [0, 2], [1, 3])
    with pytest.raises(AssertionError, match="both train and test"):
        assert_no_group_leak(groups, [0, 1], [1])
    assert_no_group_leak(groups, [0, 1], [2, 3])


def test_stratified_kfold_balances_strata():
    strata = np.array(["x"] * 30 + ["y"] * 20 + ["z"] * 7)
    folds = stratified_kfold(strata, k=5, seed=0)
    ids = fold_ids(folds, len(strata))
    assert (ids >= 0).all()
    for s, n in (("x", 30), ("y", 20)):
        counts = np.bincount(ids[strata == s], minlength=5)
        assert counts.tolist() == [n // 5] * 5
    sizes = [len(te) for _, te in folds]
    assert max(sizes) - min(sizes) <= 1


def test_default_folds_picks_grouping(tmp_path: Path):
    rs = load_oasis(_mini_oasis(tmp_path / "oasis"))
    folds, how = default_folds(rs, k=3)
    assert "grouped by theme" in how
    for tr, te in folds:
        assert_no_group_leak(rs.groups, tr, te)
    e6 = load_emotion6(_mini_emotion6(tmp_path / "e6"))
    folds, how = default_folds(e6, k=3)
    assert "stratified by folder" in how


# ----------------------------------------------------------------------------- real data


def test_real_oasis(datasets_dir: Path):
    rs = load_oasis(datasets_dir / "oasis")
    assert len(rs) == 900 and not rs.skipped
    assert len(np.unique(rs.groups)) == 248
    names = {p.name for p in rs.paths}
    assert "Crosswalk 1.jpg" in names and "War 2.jpg" in names
    idx = [i for i, p in enumerate(rs.paths) if p.name in ("Crosswalk 1.jpg", "War 2.jpg")]
    assert sorted(rs.groups[idx].tolist()) == ["Crosswalk", "War"]
    assert np.abs(rs.targets[:, :2]).max() <= 1.0
    for tr, te in grouped_kfold(rs.groups, k=5, seed=0):
        assert_no_group_leak(rs.groups, tr, te)
        assert 160 <= len(te) <= 200


def test_real_emotion6(datasets_dir: Path):
    rs = load_emotion6(datasets_dir / "emotion6")
    assert len(rs) == 1980 and rs.emotion_dist.shape == (1980, 7)
    assert sorted(set(rs.strata.tolist())) == sorted(["anger", "disgust", "fear", "joy", "sadness", "surprise"])
    assert np.abs(rs.targets[:, :2]).max() <= 1.0


def test_parse_columns_for_the_cli():
    from qdemo.emotion.datasets import parse_columns

    assert parse_columns("file=Image, valence=Val Mean") == {"file": "Image", "valence": "Val Mean"}
    assert parse_columns(["file=a", "arousal=b"]) == {"file": "a", "arousal": "b"}
    assert parse_columns(None) == {}
    with pytest.raises(DataError, match="unknown role 'happiness'"):
        parse_columns("happiness=x")
    with pytest.raises(DataError, match="not role=NAME"):
        parse_columns("valence")


def test_cp1252_windows_paths_and_dispatch_errors(user_set: Path):
    csv = user_set / "r.csv"
    csv.write_bytes("file;valence;note\r\nsub\\d.png;3;caf\xe9\r\n".encode("cp1252"))
    rs = load_csv(csv, image_root=user_set / "imgs", scale=(1, 9))
    assert rs.paths[0].name == "d.png" and rs.targets[0, 0] == pytest.approx(-0.5)
    with pytest.raises(DataError, match="unknown dataset format 'iaps'"):
        load_dataset(csv, format="iaps")
    with pytest.raises(DataError, match="cannot tell the format"):
        load_dataset(user_set / "imgs")
    with pytest.raises(DataError, match="not found"):
        load_dataset(user_set / "nothing")
    with pytest.raises(DataError, match=r"image folder not found"):
        load_csv(csv, image_root=user_set / "nope", scale=(1, 9))


def test_ratedset_rejects_inconsistent_shapes(tmp_path: Path):
    from qdemo.emotion.datasets import RatedSet

    with pytest.raises(ValueError, match="groups has shape"):
        RatedSet(name="x", root=tmp_path, paths=[tmp_path / "a.png"] * 2, targets=np.zeros((2, 3)),
                 sources={}, groups=np.array(["a"]), strata=np.array(["s", "s"]))


def test_per_dimension_scales(user_set: Path):
    csv = _write(user_set / "r.csv", "file,valence,dominance\na.png,7,0.5\nb.png,1,1\n")
    rs = load_csv(csv, image_root=user_set / "imgs", scale={"valence": (1, 7), "dominance": "0,1"})
    assert rs.targets[:, [0, 2]].ravel().tolist() == pytest.approx([1.0, 0.0, -1.0, 1.0])
    with pytest.raises(DataError, match="no rating scale given for dominance"):
        load_csv(csv, image_root=user_set / "imgs", scale={"valence": (1, 7)})
    with pytest.raises(DataError, match="unknown dimension 'pleasure'"):
        load_csv(csv, image_root=user_set / "imgs", scale={"pleasure": (1, 7)})


def test_load_image_array_modes_and_cache(tmp_path: Path):
    from qdemo.emotion.datasets import load_image_array

    d = tmp_path / "imgs"
    paths = [_img(d / "rgb.png", size=(40, 20)), _img(d / "gray.png", "L"), _img(d / "rgba.png", "RGBA"),
             _img(d / "cmyk.jpg", "CMYK", fmt="JPEG")]
    arr = load_image_array(paths, 16, cache_dir=tmp_path / "cache")
    assert arr.shape == (4, 3, 16, 16) and arr.dtype == np.uint8
    assert (arr[1, 0] == arr[1, 1]).all()  # grayscale -> equal channels
    cached = list((tmp_path / "cache").glob("images-16-resize-*.npy"))
    assert len(cached) == 1
    np.save(cached[0], np.zeros((4, 3, 16, 16), np.uint8))  # the cache is what a second call reads
    assert load_image_array(paths, 16, cache_dir=tmp_path / "cache").sum() == 0
    crop = load_image_array(paths[:1], 10, fit="center_crop")
    assert crop.shape == (1, 3, 10, 10)
    (d / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    with pytest.raises(DataError, match=r"bad\.png"):
        load_image_array([d / "bad.png"], 8)
