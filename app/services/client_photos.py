"""Client photos: checked by content, re-encoded so only pixels are kept, stored outside any public folder.

An upload is judged by what it holds, never by its name or declared type: it must be
within the size limit, open as a JPEG, PNG, GIF or WebP image of sensible dimensions, and
hold nothing that reads as a web page or script (a "polyglot" that is an image and a page
at once is refused, not cleaned, so the person learns the file was not what it seemed).
What is stored is a new JPEG drawn from the pixels alone: no metadata (EXIF, GPS, comments),
no trailing bytes, no second frame, turned upright and at most PHOTO_MAX_SIDE pixels a side.

Files live in CLIENT_PHOTO_DIR under a fresh random name per upload; the client's
``photo_file`` names the current one, so a change is a client update the session audits
and guards like any other. The caller commits, then discards the replaced file.
"""

from __future__ import annotations

import io
import re
import uuid
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

ACCEPTED_FORMATS = frozenset({"JPEG", "PNG", "GIF", "WEBP"})
PHOTO_MAX_SIDE = 1024
MAX_PIXELS = 40_000_000
MIN_SIDE = 16
JPEG_QUALITY = 85
PHOTO_MIMETYPE = "image/jpeg"
# Markup or script a browser could run if the file were ever served as something else.
# Each needs the tag's name and what follows it, so the odds that compressed pixels spell one by chance stay
# far below one in a million per photo.
ACTIVE_CONTENT = re.compile(rb"<\s*(script|html|body|svg|iframe|object|embed)[\s>/]|<\?php\b|javascript:",
                            re.IGNORECASE)
_NAME = re.compile(r"^[0-9a-f]{32}\.jpg$")


class PhotoRefused(ValueError):
    """The upload is not stored; the message says why in words the person can act on."""


def prepared_photo(data: bytes, max_bytes: int) -> bytes:
    """The JPEG to store for an uploaded file, or PhotoRefused."""
    if not data:
        raise PhotoRefused("The file is empty; choose a photo.")
    if len(data) > max_bytes:
        raise PhotoRefused(f"The photo is larger than {max_bytes / (1 << 20):.3g} MB; choose a smaller one.")
    if ACTIVE_CONTENT.search(data):
        raise PhotoRefused("The file holds web page or script content as well as (or instead of) an image, "
                           "so it was not stored. Save the photo again from a camera or photo app.")
    try:
        with Image.open(io.BytesIO(data)) as probe:
            kind, (width, height) = probe.format, probe.size
            if kind not in ACCEPTED_FORMATS:
                raise PhotoRefused(f"{kind} images are not accepted; use a JPEG, PNG, GIF or WebP photo.")
            if width * height > MAX_PIXELS:
                raise PhotoRefused(f"The photo is {width}×{height} pixels, too large to be a photo of a person.")
            if min(width, height) < MIN_SIDE:
                raise PhotoRefused(f"The photo is only {width}×{height} pixels; choose a larger one.")
            probe.verify()
        with Image.open(io.BytesIO(data)) as image:
            image.seek(0)
            upright = ImageOps.exif_transpose(image)
            upright.thumbnail((PHOTO_MAX_SIDE, PHOTO_MAX_SIDE))
            pixels = _flattened(upright)
    except PhotoRefused:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError):
        raise PhotoRefused("The file is not an image CCD can read; use a JPEG, PNG, GIF or WebP photo.") from None
    except (OSError, SyntaxError, ValueError):
        raise PhotoRefused("The image is damaged or incomplete; save it again and upload the new file.") from None
    out = io.BytesIO()
    pixels.save(out, format="JPEG", quality=JPEG_QUALITY, optimize=True)
    return out.getvalue()


def _flattened(image: Image.Image) -> Image.Image:
    """Plain RGB pixels in a new image: transparency laid on white, nothing of the original's info kept."""
    if image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        base = Image.new("RGB", rgba.size, (255, 255, 255))
        base.paste(rgba, mask=rgba.getchannel("A"))
        return base
    plain = Image.new("RGB", image.size)
    plain.paste(image.convert("RGB"))
    return plain


def store(client, data: bytes, folder, max_bytes: int) -> str | None:
    """Re-encode and store ``data`` as the client's photo; returns the replaced file's name (to discard after
    the commit), or None. The client's new ``photo_file`` is set in the session, not committed."""
    photo = prepared_photo(data, max_bytes)
    target = Path(folder)
    target.mkdir(parents=True, exist_ok=True)
    name = f"{uuid.uuid4().hex}.jpg"
    (target / name).write_bytes(photo)
    replaced, client.photo_file = client.photo_file, name
    return replaced


def remove(client) -> str | None:
    """Take the photo off the record (in the session); returns the file name to discard after the commit."""
    replaced, client.photo_file = client.photo_file, None
    return replaced


def photo_path(client, folder) -> Path | None:
    """The stored photo of a client, or None (no photo, or a name that is not one this module wrote)."""
    name = client.photo_file
    if not name or not _NAME.match(name):
        return None
    path = Path(folder) / name
    return path if path.is_file() else None


def discard(folder, name: str | None) -> None:
    """Delete a replaced or abandoned photo file; a name this module did not write is left alone."""
    if name and _NAME.match(name):
        (Path(folder) / name).unlink(missing_ok=True)
