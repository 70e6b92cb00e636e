"""Files in: any Pillow mode becomes RGB explicitly, EXIF orientation is honoured."""

import pytest
from PIL import Image

from semcodec.errors import InvalidInput
from semcodec.imageio import load_image, save_image


def test_modes_are_converted_to_rgb(tmp_path):
    Image.new("L", (5, 3), 200).save(tmp_path / "grey.png")
    Image.new("RGBA", (5, 3), (255, 0, 0, 0)).save(tmp_path / "clear.png")
    Image.new("P", (5, 3), 7).save(tmp_path / "pal.png")
    Image.new("CMYK", (5, 3), (0, 255, 0, 0)).save(tmp_path / "cmyk.jpg")
    grey = load_image(tmp_path / "grey.png")
    assert grey.shape == (3, 3, 5) and abs(grey[:, 0, 0].mean().item() - 200 / 255) < 1e-6
    clear = load_image(tmp_path / "clear.png")  # transparent pixels composite on white
    assert clear[:, 0, 0].tolist() == [1.0, 1.0, 1.0]
    assert load_image(tmp_path / "pal.png").shape == (3, 3, 5)
    assert load_image(tmp_path / "cmyk.jpg").shape == (3, 3, 5)


def test_exif_orientation_is_applied(tmp_path):
    im = Image.new("RGB", (6, 2), (0, 0, 255))
    exif = im.getexif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise when displayed
    im.save(tmp_path / "rot.jpg", exif=exif)
    assert load_image(tmp_path / "rot.jpg").shape == (3, 6, 2)


def test_round_trip_and_clear_errors(tmp_path):
    Image.new("RGB", (4, 4), (10, 20, 30)).save(tmp_path / "a.png")
    x = load_image(tmp_path / "a.png")
    save_image(x, tmp_path / "b.png")
    assert Image.open(tmp_path / "b.png").tobytes() == Image.open(tmp_path / "a.png").tobytes()
    (tmp_path / "trunc.png").write_bytes((tmp_path / "a.png").read_bytes()[:30])
    with pytest.raises(InvalidInput, match="not a readable image"):
        load_image(tmp_path / "trunc.png")
