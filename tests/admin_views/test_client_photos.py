"""The photo on a client's record: uploaded by those who edit records, served only to those who may open it."""

import io

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import AuditLog, Client
from tests import factories
from tests.app.services.test_client_photos import image_bytes
from tests.conftest import csrf_token, make_staff, sign_in


@pytest.fixture
def photo_dir(app, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "CLIENT_PHOTO_DIR", str(tmp_path / "photos"))
    return tmp_path / "photos"


def _upload(client, someone, data, name="me.png"):
    return client.post("/admin/clients/photo/upload/", data={
        "id": str(someone.id), "csrf_token": csrf_token(client, f"/admin/clients/details/?id={someone.id}"),
        "photo": (io.BytesIO(data), name)}, content_type="multipart/form-data", follow_redirects=True)


def test_a_coordinator_uploads_a_photo_that_is_shown_and_audited(client, sign_in_as, photo_dir):
    someone = factories.create("clients")
    coordinator = sign_in_as("Coordinator")
    page = _upload(client, someone, image_bytes("PNG"))
    assert "Photo saved." in page.get_data(as_text=True)
    db.session.expire_all()
    stored = db.session.get(Client, someone.id).photo_file
    assert (photo_dir / stored).is_file()
    assert f"/admin/clients/photo/?id={someone.id}" in page.get_data(as_text=True)
    served = client.get(f"/admin/clients/photo/?id={someone.id}")
    assert served.status_code == 200 and served.mimetype == "image/jpeg"
    assert served.data[:3] == b"\xff\xd8\xff" and "no-store" in served.headers["Cache-Control"]
    [row] = db.session.scalars(sa.select(AuditLog).where(AuditLog.entity_id == someone.id,
                                                         AuditLog.changed_by_id == coordinator.id)).all()
    assert row.action == "update" and row.diff_json["photo_file"]["after"] == stored


def test_replacing_and_removing_discard_the_old_file(client, sign_in_as, photo_dir):
    someone = factories.create("clients")
    sign_in_as("Coordinator")
    _upload(client, someone, image_bytes("PNG"))
    db.session.expire_all()
    first = db.session.get(Client, someone.id).photo_file
    _upload(client, someone, image_bytes("GIF"), "me.gif")
    db.session.expire_all()
    second = db.session.get(Client, someone.id).photo_file
    assert second != first and not (photo_dir / first).exists() and (photo_dir / second).exists()
    removed = client.post("/admin/clients/photo/upload/", data={
        "id": str(someone.id), "remove": "yes", "csrf_token": csrf_token(client, "/admin/")}, follow_redirects=True)
    assert "Photo removed." in removed.get_data(as_text=True)
    assert not (photo_dir / second).exists()
    assert client.get(f"/admin/clients/photo/?id={someone.id}").status_code == 404


@pytest.mark.parametrize("data, message", [
    (image_bytes("PNG") + b"<script>alert(1)</script>", "web page or script"),
    (b"just text, named like a photo", "not an image CCD can read"),
])
def test_a_refused_upload_says_why_and_stores_nothing(client, sign_in_as, photo_dir, data, message):
    someone = factories.create("clients")
    sign_in_as("Coordinator")
    page = _upload(client, someone, data, "photo.jpg")
    assert message in page.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Client, someone.id).photo_file is None
    assert not photo_dir.exists() or list(photo_dir.iterdir()) == []


def test_an_oversized_upload_is_refused(client, sign_in_as, photo_dir, app, monkeypatch):
    monkeypatch.setitem(app.config, "CLIENT_PHOTO_MAX_MB", 0.01)
    someone = factories.create("clients")
    sign_in_as("Coordinator")
    page = _upload(client, someone, image_bytes("PNG") + b"\x00" * 20_000)
    assert "larger than 0.01 MB" in page.get_data(as_text=True)


def test_the_photo_is_served_only_within_scope_and_managers_cannot_upload(client, photo_dir):
    manager = make_staff("Manager")
    mine, other = factories.create("clients", visible_to=manager), factories.create("clients")
    coordinator = make_staff("Coordinator")
    sign_in(client, coordinator)
    _upload(client, mine, image_bytes("PNG"))
    _upload(client, other, image_bytes("PNG"))
    client.post("/logout", data={"csrf_token": csrf_token(client, "/admin/")})
    sign_in(client, manager)
    assert client.get(f"/admin/clients/photo/?id={mine.id}").status_code == 200
    assert client.get(f"/admin/clients/photo/?id={other.id}").status_code == 404
    details = client.get(f"/admin/clients/details/?id={mine.id}").get_data(as_text=True)
    assert 'id="ccd-client-photo"' in details and "Upload photo" not in details and "Replace photo" not in details
    refused = _upload(client, mine, image_bytes("GIF"), "new.gif")
    assert "a photo cannot be proposed" in refused.get_data(as_text=True)


def test_staff_without_the_client_in_scope_get_no_photo(client, sign_in_as, photo_dir):
    someone = factories.create("clients")
    sign_in_as("Staff")
    assert client.get(f"/admin/clients/photo/?id={someone.id}").status_code == 404
