"""The import's held state is kept out of the garbage collector's way only while the import works:
afterwards (whether it finished or failed) every object is collectable again and the collector runs
as before, and side-by-side runs undo this only when the last of them leaves."""

import gc

import pytest

from app.services.ingest import heap, import_file, importer
from tests import factories
from tests.app.services.test_ingest_runs import export


@pytest.fixture(autouse=True)
def nothing_frozen_around():
    gc.unfreeze()
    gc.enable()
    yield
    gc.unfreeze()
    gc.enable()


def test_an_import_freezes_its_linking_state_while_it_writes_and_hands_it_back(tmp_path, db_session, monkeypatch):
    program = factories.create("programs")
    frozen_while_writing = []
    write_batch = importer.ImportRun._process_batch

    def watched(self, decisions):
        frozen_while_writing.append((gc.get_freeze_count(), gc.isenabled()))
        return write_batch(self, decisions)

    monkeypatch.setattr(importer.ImportRun, "_process_batch", watched)
    summary = import_file(export(tmp_path, program), "EMHware")
    assert summary.status == "success" and summary.inserted == 4
    assert frozen_while_writing and all(count > 0 and not automatic for count, automatic in frozen_while_writing)
    assert gc.get_freeze_count() == 0 and gc.isenabled()


def test_a_failed_import_hands_the_frozen_objects_back(tmp_path, db_session, monkeypatch):
    program = factories.create("programs")

    def broken(self, decisions):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(importer.ImportRun, "_process_batch", broken)
    with pytest.raises(importer.ImportStopped):
        import_file(export(tmp_path, program), "EMHware")
    assert gc.get_freeze_count() == 0 and gc.isenabled()


def test_side_by_side_runs_unfreeze_only_when_the_last_leaves():
    with heap.long_lived_state():
        heap.freeze()
        with heap.long_lived_state():
            heap.freeze()
        assert gc.get_freeze_count() > 0 and not gc.isenabled(), "the first run is still working"
    assert gc.get_freeze_count() == 0 and gc.isenabled()


def test_a_process_that_had_paused_the_collector_itself_keeps_it_paused():
    gc.disable()
    with heap.long_lived_state():
        pass
    assert not gc.isenabled()
