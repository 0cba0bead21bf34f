"""Image sizes for the box formats: from the task data, or read from the image's own header.

COCO and Label Studio need each image's width and height. The task data may
say (``width``/``height``); otherwise the header of the image itself is read
when the image is at hand: a ``data:`` URL in the task, or a file under the
directory the server allows (``CONCORD_EXPORT_IMAGE_DIR``). Nothing is ever
fetched over the network, and no path outside that directory is opened, so a
tenant's task data cannot probe the server's files.

Only the header is parsed (PNG, JPEG, GIF, WebP, BMP), with no image library.
A JPEG whose EXIF orientation turns it a quarter (orientations 5 to 8) has its
width and height swapped: browsers show it turned, and the workers drew their
boxes on what the browser showed.
"""

from __future__ import annotations

import base64
import binascii
import struct
from pathlib import Path
from urllib.parse import unquote_to_bytes, urlsplit

# Most headers sit in the first bytes; a JPEG's frame header follows its metadata segments (EXIF
# thumbnails, ICC profiles), so a JPEG not sized by the first 64 KiB is read on, up to 1 MiB.
FIRST_BYTES = 64 << 10
HEADER_BYTES = 1 << 20
_SOF_MARKERS = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def _positive(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value > 0


def image_size(data: dict, field: str, image_dir: str | None = None) -> tuple[float, float] | None:
    """(width, height) of a task's image in pixels, or None when neither the data nor the image says.

    The data's own positive ``width`` and ``height`` win (the API checks boxes against them); else the
    header of a ``data:`` URL, or of a local file under ``image_dir``, is read.
    """
    width, height = data.get("width"), data.get("height")
    if _positive(width) and _positive(height):
        return width, height
    source = data.get(field)
    if not isinstance(source, str) or not source:
        return None
    read = _data_url_bytes if source[:5].lower() == "data:" else _local_file_head
    head = read(source, image_dir, FIRST_BYTES)
    size = header_size(head) if head else None
    if size is None and head and head[:2] == b"\xff\xd8" and len(head) >= FIRST_BYTES:
        head = read(source, image_dir, HEADER_BYTES)
        size = header_size(head) if head else None
    return size


def _data_url_bytes(url: str, _image_dir: str | None, limit: int) -> bytes | None:
    """The first ``limit`` bytes of the payload of a ``data:[<type>][;base64],<payload>`` URL (RFC 2397),
    or None if malformed."""
    meta, sep, payload = url[5:].partition(",")
    if not sep:
        return None
    if meta.lower().endswith(";base64"):
        # Enough base64 for ``limit`` bytes (4 characters carry 3 bytes), on a 4-character boundary.
        chunk = "".join(payload[: limit * 4 // 3 + 8].split())
        chunk = chunk[: len(chunk) - len(chunk) % 4]
        try:
            return base64.b64decode(unquote_to_bytes(chunk), validate=False)[:limit]
        except (binascii.Error, ValueError):
            return None
    return unquote_to_bytes(payload[:limit])[:limit]


def _local_file_head(source: str, image_dir: str | None, limit: int) -> bytes | None:
    """The first ``limit`` bytes of a file named by a path (or a ``file:`` URL) inside ``image_dir``;
    else None."""
    if not image_dir:
        return None
    parts = urlsplit(source)
    if parts.scheme.lower() == "file":
        if parts.netloc not in ("", "localhost"):
            return None
        source = unquote_to_bytes(parts.path).decode("utf-8", "replace")
    elif parts.scheme and len(parts.scheme) > 1:  # http:, s3:, ... (a one-letter "scheme" is a drive)
        return None
    root = Path(image_dir).resolve()
    try:
        path = (root / source).resolve()
        # resolve() follows symbolic links, so a link pointing out of the directory is refused too.
        if not path.is_relative_to(root) or not path.is_file():
            return None
        with open(path, "rb") as fh:
            return fh.read(limit)
    except (OSError, ValueError):
        return None


def header_size(head: bytes) -> tuple[int, int] | None:
    """(width, height) from the first bytes of a PNG, JPEG, GIF, WebP or BMP image; None otherwise."""
    try:
        if head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR":
            return _checked(*struct.unpack(">II", head[16:24]))
        if head[:6] in (b"GIF87a", b"GIF89a"):
            return _checked(*struct.unpack("<HH", head[6:10]))
        if head[:2] == b"\xff\xd8":
            return _jpeg_size(head)
        if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
            return _webp_size(head)
        if head[:2] == b"BM":
            width, height = struct.unpack("<ii", head[18:26])
            return _checked(width, abs(height))  # a negative height means rows run top-down
    except (struct.error, IndexError):  # cut short
        return None
    return None


def _checked(width: int, height: int) -> tuple[int, int] | None:
    return (width, height) if width > 0 and height > 0 else None


def _jpeg_size(head: bytes) -> tuple[int, int] | None:
    position, orientation = 2, 1
    while position + 4 <= len(head):
        if head[position] != 0xFF:
            return None
        marker = head[position + 1]
        if marker == 0xFF:  # fill byte
            position += 1
            continue
        if marker in (0x01, *range(0xD0, 0xD8)):  # markers without a length
            position += 2
            continue
        (length,) = struct.unpack(">H", head[position + 2 : position + 4])
        segment = head[position + 4 : position + 2 + length]
        if marker == 0xE1 and segment[:6] == b"Exif\x00\x00":
            orientation = _exif_orientation(segment[6:]) or orientation
        elif marker in _SOF_MARKERS:
            height, width = struct.unpack(">HH", segment[1:5])
            return _checked(height, width) if orientation in (5, 6, 7, 8) else _checked(width, height)
        elif marker == 0xDA:  # start of scan: no frame header before it
            return None
        position += 2 + length
    return None


def _exif_orientation(tiff: bytes) -> int | None:
    """The Orientation tag (0x0112) of the first image directory of an EXIF (TIFF) block."""
    order = {b"II": "<", b"MM": ">"}.get(tiff[:2])
    if order is None:
        return None
    (offset,) = struct.unpack(order + "I", tiff[4:8])
    (count,) = struct.unpack(order + "H", tiff[offset : offset + 2])
    for i in range(count):
        entry = tiff[offset + 2 + 12 * i : offset + 14 + 12 * i]
        tag, kind, _n = struct.unpack(order + "HHI", entry[:8])
        if tag == 0x0112 and kind == 3:  # SHORT
            return struct.unpack(order + "H", entry[8:10])[0]
    return None


def _webp_size(head: bytes) -> tuple[int, int] | None:
    chunk = head[12:16]
    if chunk == b"VP8 " and head[23:26] == b"\x9d\x01\x2a":
        width, height = struct.unpack("<HH", head[26:30])
        return _checked(width & 0x3FFF, height & 0x3FFF)
    if chunk == b"VP8L" and head[20] == 0x2F:
        bits = int.from_bytes(head[21:25], "little")
        return _checked((bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1)
    if chunk == b"VP8X":
        return _checked(int.from_bytes(head[24:27], "little") + 1, int.from_bytes(head[27:30], "little") + 1)
    return None
