from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from qdemo.errors import DataError
from qdemo.io import atomic_path, atomic_write_json, list_images, load_image, open_rgb, save_png, sha256_file


def test_atomic_write_keeps_old_file_on_failure(tmp_path):
    target = tmp_path / "m.json"
    atomic_write_json(target, {"a": 1})
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half written")
            raise RuntimeError("interrupted")
    assert json.loads(target.read_text()) == {"a": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["m.json"]  # no temp file left behind


@pytest.mark.parametrize("mode", ["L", "CMYK", "RGBA", "LA", "P", "I;16", "1"])
def test_any_mode_loads_as_rgb(tmp_path, mode):
    rng = np.random.default_rng(1)
    rgb = Image.fromarray((rng.random((10, 12, 3)) * 255).astype(np.uint8), "RGB")
    im = rgb.convert(mode) if mode != "I;16" else Image.fromarray((rng.random((10, 12)) * 60000).astype(np.uint16))
    suffix = ".jpg" if mode == "CMYK" else ".png" if mode != "I;16" else ".tif"
    path = tmp_path / f"x{suffix}"
    im.save(path)
    t = load_image(path)
    assert t.shape == (3, 10, 12) and t.dtype == torch.float32
    assert 0.0 <= float(t.min()) and float(t.max()) <= 1.0


def test_fully_transparent_pixels_become_neutral_grey(tmp_path):
    im = Image.new("RGBA", (4, 4), (255, 0, 0, 0))
    im.save(tmp_path / "t.png")
    arr = np.asarray(open_rgb(tmp_path / "t.png"))
    assert (arr == 128).all()


def test_corrupt_non_image_and_missing_files_name_the_file(tmp_path):
    (tmp_path / "notes.png").write_text("this is not a png")
    good = tmp_path / "good.jpg"
    Image.new("RGB", (64, 64), (10, 20, 30)).save(good)
    truncated = tmp_path / "trunc.jpg"
    truncated.write_bytes(good.read_bytes()[:200])
    for name, fragment in [("notes.png", "not an image"), ("trunc.jpg", "corrupt"), ("missing.jpg", "not found")]:
        with pytest.raises(DataError) as err:
            load_image(tmp_path / name)
        assert name in str(err.value) and fragment in str(err.value)


def test_save_png_roundtrip_and_resize(tmp_path):
    img = torch.rand(3, 8, 6)
    save_png(img, tmp_path / "out" / "a.png")
    back = load_image(tmp_path / "out" / "a.png")
    assert torch.allclose(back, img, atol=1 / 255 + 1e-6)
    assert load_image(tmp_path / "out" / "a.png", size=4).shape == (3, 4, 4)
    assert len(sha256_file(tmp_path / "out" / "a.png")) == 64


def test_list_images_filters_by_suffix(tmp_path, image_dir):
    (image_dir / "readme.txt").write_text("x")
    found = list_images(image_dir)
    assert len(found) == 6 and all(p.suffix == ".png" for p in found)
    with pytest.raises(DataError, match="not a directory"):
        list_images(tmp_path / "nope")


def test_atomic_files_get_normal_permissions(tmp_path):
    import os
    import stat

    atomic_write_json(tmp_path / "p.json", {})
    mode = stat.S_IMODE(os.stat(tmp_path / "p.json").st_mode)
    assert mode & stat.S_IRGRP and mode & stat.S_IROTH  # readable by others, not 0600
