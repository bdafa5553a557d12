"""Client photos are judged by content and stored as fresh pixels only."""

import io

import pytest
from PIL import Image

from app.services import client_photos
from app.services.client_photos import PhotoRefused

LIMIT = 1 << 20


def image_bytes(kind="PNG", size=(64, 48), mode="RGB", **save_args) -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, (200, 30, 30) if mode == "RGB" else None).save(out, format=kind, **save_args)
    return out.getvalue()


def test_a_photo_is_re_encoded_as_jpeg_without_its_metadata():
    exif = Image.Exif()
    exif[0x010E] = "secret description"  # ImageDescription
    exif[0x8825] = {2: (43.0, 39.0, 0.0)}  # GPS
    stored = client_photos.prepared_photo(image_bytes("JPEG", exif=exif.tobytes()), LIMIT)
    with Image.open(io.BytesIO(stored)) as image:
        assert image.format == "JPEG" and image.size == (64, 48) and image.mode == "RGB"
        assert not image.getexif() and "exif" not in image.info
    assert b"secret description" not in stored


def test_a_large_photo_is_scaled_down_and_transparency_laid_on_white():
    stored = client_photos.prepared_photo(image_bytes("PNG", size=(3000, 1500), mode="RGBA"), 8 * LIMIT)
    with Image.open(io.BytesIO(stored)) as image:
        assert image.size == (client_photos.PHOTO_MAX_SIDE, client_photos.PHOTO_MAX_SIDE // 2)
        assert image.getpixel((5, 5)) == (255, 255, 255)


def test_trailing_bytes_after_the_image_are_not_kept():
    stored = client_photos.prepared_photo(image_bytes("PNG") + b"TRAILING-PAYLOAD" * 10, LIMIT)
    assert b"TRAILING-PAYLOAD" not in stored


@pytest.mark.parametrize("data, message", [
    (b"", "empty"),
    (image_bytes("PNG") + b"<script>alert(document.cookie)</script>", "web page or script"),
    (b"GIF89a/*" + b"\x00" * 20 + b"*/=1;<html><body>hi</body></html>", "web page or script"),
    (b"<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'/>", "web page or script"),
    (b"%PDF-1.4 not an image at all" * 4, "not an image"),
    (image_bytes("BMP"), "BMP images are not accepted"),
    (image_bytes("PNG", size=(8, 8)), "only 8×8"),
    (image_bytes("PNG")[:60], "damaged or incomplete"),
])
def test_what_is_not_a_plain_photo_is_refused_with_a_clear_message(data, message):
    with pytest.raises(PhotoRefused, match=message):
        client_photos.prepared_photo(data, LIMIT)


def test_an_oversized_upload_is_refused_before_it_is_opened():
    with pytest.raises(PhotoRefused, match="larger than 0.5 MB"):
        client_photos.prepared_photo(image_bytes("PNG") + b"\x00" * LIMIT, LIMIT // 2)


def test_a_decompression_bomb_is_refused():
    with pytest.raises(PhotoRefused, match="too large to be a photo"):
        client_photos.prepared_photo(image_bytes("PNG", size=(8000, 8000), mode="L"), LIMIT)


def test_storing_names_a_new_file_and_hands_back_the_old_one(tmp_path):
    class Record:
        photo_file = None

    record = Record()
    assert client_photos.store(record, image_bytes(), tmp_path, LIMIT) is None
    first = record.photo_file
    assert client_photos.photo_path(record, tmp_path) == tmp_path / first
    assert client_photos.store(record, image_bytes(), tmp_path, LIMIT) == first
    assert record.photo_file != first
    client_photos.discard(tmp_path, first)
    assert not (tmp_path / first).exists()
    record.photo_file = "../../etc/passwd"
    assert client_photos.photo_path(record, tmp_path) is None
