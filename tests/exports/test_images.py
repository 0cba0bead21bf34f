"""Image sizes read from headers by the exports, checked against images Pillow writes and reads."""

from __future__ import annotations

import base64
import io
import os

import pytest
from PIL import Image

from backend.exports.images import header_size, image_size


def encoded(fmt, size=(37, 21), **save):
    out = io.BytesIO()
    Image.new("RGB", size, (10, 20, 30)).save(out, format=fmt, **save)
    return out.getvalue()


@pytest.mark.parametrize(("fmt", "save"), [
    ("PNG", {}), ("JPEG", {}), ("JPEG", {"progressive": True}), ("GIF", {}), ("WEBP", {}),
    ("WEBP", {"lossless": True}), ("WEBP", {"exif": b"Exif\x00\x00II*\x00\x08\x00\x00\x00\x00\x00"}), ("BMP", {}),
])
def test_header_sizes_agree_with_pillow(fmt, save):
    body = encoded(fmt, **save)
    assert header_size(body) == Image.open(io.BytesIO(body)).size == (37, 21)


def test_a_jpeg_turned_by_exif_is_sized_as_shown():
    for orientation, shown in ((1, (37, 21)), (3, (37, 21)), (6, (21, 37)), (8, (21, 37))):
        exif = Image.Exif()
        exif[0x0112] = orientation
        assert header_size(encoded("JPEG", exif=exif)) == shown, orientation


def test_a_jpeg_whose_frame_header_comes_late_is_still_sized(tmp_path):
    body = encoded("JPEG", (640, 480))
    padding = b"".join(b"\xff\xe2" + (65_000).to_bytes(2, "big") + bytes(64_998) for _ in range(3))
    late = body[:2] + padding + body[2:]  # 195 kB of metadata segments before the frame header
    (tmp_path / "late.jpg").write_bytes(late)
    assert image_size({"image": "late.jpg"}, "image", str(tmp_path)) == (640, 480)
    url = "data:image/jpeg;base64," + base64.b64encode(late).decode()
    assert image_size({"image": url}, "image") == (640, 480)


def test_sizes_come_from_the_data_first_then_data_urls_then_allowed_files(tmp_path):
    root = tmp_path / "images"
    root.mkdir()
    (root / "a.png").write_bytes(encoded("PNG", (12, 34)))
    (tmp_path / "secret.png").write_bytes(encoded("PNG", (99, 99)))
    os.symlink(tmp_path / "secret.png", root / "link.png")
    url = "data:image/png;base64," + base64.b64encode(encoded("PNG", (5, 6))).decode()
    cases = {
        "given": ({"image": "a.png", "width": 640, "height": 480.5}, (640, 480.5)),
        "relative path": ({"image": "a.png"}, (12, 34)),
        "absolute path inside": ({"image": str(root / "a.png")}, (12, 34)),
        "file URL": ({"image": (root / "a.png").as_uri()}, (12, 34)),
        "data URL": ({"image": url}, (5, 6)),
        "percent-encoded data URL": ({"image": "data:image/gif," + "".join(
            f"%{b:02X}" for b in encoded("GIF", (7, 8)))}, (7, 8)),
        "outside the directory": ({"image": str(tmp_path / "secret.png")}, None),
        "climbing out": ({"image": "../secret.png"}, None),
        "a link pointing out": ({"image": "link.png"}, None),
        "a URL": ({"image": "https://example.test/a.png"}, None),
        "missing": ({"image": "nope.png"}, None),
        "not an image": ({"image": "data:text/plain,hello"}, None),
        "broken base64": ({"image": "data:image/png;base64,@@@"}, None),
        "NUL in the path": ({"image": "a\x00.png"}, None),
        "no image": ({}, None),
    }
    for name, (data, size) in cases.items():
        assert image_size(data, "image", str(root)) == size, name
    # Without an image directory no file is read at all.
    assert image_size({"image": str(root / "a.png")}, "image", None) is None


def test_truncated_or_odd_headers_give_no_size():
    for body in (b"", b"\x89PNG\r\n\x1a\n", encoded("PNG")[:20], encoded("JPEG")[:100], b"GIF89a\x00", b"RIFF",
                 b"BM" + bytes(10), b"\xff\xd8\xff\xda\x00\x02"):
        assert header_size(body) is None, body[:12]
