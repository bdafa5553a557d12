"""Training the model on the agency's clients: EM, u from random pairs, labels, storage, CLI and task."""

import random
from datetime import date, timedelta

import numpy as np
import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import ClientDuplicate, LinkageModelRecord
from app.services import matching
from app.services.matching import Person, comparisons as c
from app.services.matching.model import DEFAULT_MODEL, forget_active_model
from app.services.matching.training import (
    LEARNED_FIELDS, TrainingError, expectation_maximisation, level_shares, plausible_m, train,
)
from tasks.matching import TRAIN_TASK
from tests import factories

FIRSTS = ("Marie", "Jean", "Fatima", "Mohamed", "Olivia", "Louis", "Sarah", "Daniel", "Amina", "Pierre", "Chloé",
          "Omar", "Nadia", "Kwame", "Julie", "Eric")
LASTS = ("Tremblay", "Ali", "Gagnon", "Nguyen", "Okafor", "Roy", "Haddad", "Singh", "Côté", "Mensah", "Bouchard",
         "Wilson", "Lavoie", "Khan", "Asselin", "Duguay", "Fortin", "Moreau")


@pytest.fixture
def agency(db_session):
    """120 clients, 15 of them written twice (a typo or a transposed date), and the model cache reset."""
    rng = random.Random(3)
    clients = []
    for _ in range(120):
        dob = date(1950, 1, 1) + timedelta(days=rng.randrange(20_000))
        clients.append(factories.client(first_name=rng.choice(FIRSTS), last_name=rng.choice(LASTS), dob=dob,
                                        gender=rng.choice(("Woman", "Man"))))
    for original in clients[:15]:
        clients.append(factories.client(first_name=original.first_name, last_name=original.last_name.upper(),
                                        dob=original.dob + timedelta(days=1), gender=original.gender))
    db.session.add_all(clients)
    db.session.commit()
    forget_active_model()
    yield clients
    forget_active_model()


def _generated_pairs(rng: np.random.Generator, m, u, share, size):
    matches = rng.random(size) < share
    levels = {}
    for f in LEARNED_FIELDS:
        drawn_m = rng.choice(len(m[f]), size=size, p=m[f])
        drawn_u = rng.choice(len(u[f]), size=size, p=u[f])
        levels[f] = np.where(matches, drawn_m, drawn_u).astype(np.int8)
    return levels


def _evidence_levels(f, probabilities):
    """Known probabilities over the levels that are evidence (the neutral ones never drawn)."""
    counted = [level not in c.NEUTRAL_LEVELS[f] for level in matching.LEVELS[f]]
    p = np.array([x if keep else 0.0 for x, keep in zip(probabilities, counted)])
    return p / p.sum()


def test_em_recovers_known_m_and_the_share_of_matches():
    rng = np.random.default_rng(5)
    m = {f: _evidence_levels(f, DEFAULT_MODEL.m[f]) for f in LEARNED_FIELDS}
    u = {f: _evidence_levels(f, DEFAULT_MODEL.u[f]) for f in LEARNED_FIELDS}
    levels = _generated_pairs(rng, m, u, 0.2, 40_000)
    start = {f: level_shares(np.arange(len(matching.LEVELS[f])), f) for f in LEARNED_FIELDS}  # uniform
    u_known = {f: np.where(u[f] > 0, u[f], 1.0) for f in u}  # neutral levels: 1.0, as level_shares gives them
    learned, share, iterations, converged = expectation_maximisation(levels, u_known, start, 0.05)
    assert converged and share == pytest.approx(0.2, abs=0.01)
    for f in LEARNED_FIELDS:
        counted = u[f] > 0
        assert learned[f][counted] == pytest.approx(m[f][counted], abs=0.02), f


def test_labels_take_part_with_their_label():
    levels = {f: np.zeros(0, dtype=np.int8) for f in LEARNED_FIELDS}
    labelled = {f: np.zeros(10, dtype=np.int8) for f in LEARNED_FIELDS}
    labelled["dob"][:5] = c.D_ONE_DIGIT
    u = {f: level_shares(np.arange(len(matching.LEVELS[f])), f) for f in LEARNED_FIELDS}
    learned, *_ = expectation_maximisation(levels, u, u, 0.1, labelled, np.ones(10))
    assert learned["dob"][c.D_EXACT] == pytest.approx(0.5, abs=1e-3)
    assert learned["dob"][c.D_ONE_DIGIT] == pytest.approx(0.5, abs=1e-3)


def test_training_stores_a_model_and_the_next_scoring_uses_it(agency):
    before, = matching.find_candidates(db.session, [Person("Marie", "Tremblay", date(1980, 3, 4))])
    assert all(found.score.model == DEFAULT_MODEL.label for found in before)
    result = train(db.session, seed=1, random_sample=80, em_sample=60)
    record = db.session.get(LinkageModelRecord, result.record_id)
    assert record.is_active and record.client_count == 135 and record.trained_by == "ccd train-matcher"
    figures = record.figures
    assert 6000 < figures["random_pairs"] <= 80 * 80  # less the pairs of a client with itself
    assert figures["em_clients"] == 60 and figures["em_pairs"] > 0 and figures["em_iterations"] >= 1
    assert set(figures["levels"]["dob"]) == set(matching.LEVELS["dob"])
    assert record.parameters["frequencies"]["last_name"]["total"] == 135

    found, = matching.find_candidates(db.session, [Person(agency[0].first_name, agency[0].last_name, agency[0].dob)])
    assert {f.score.model for f in found} == {record.label}
    same = next(f for f in found if f.client_id == agency[0].id)
    last = next(e for e in same.score.evidence if e.field == "last_name")
    assert "clients)" in last.text or "(rare)" in last.text  # the trained name frequencies are in the words


def test_training_is_deterministic_for_a_seed(agency):
    first = train(db.session, seed=4, random_sample=60, em_sample=50)
    second = train(db.session, seed=4, random_sample=60, em_sample=50)
    assert first.model.m == second.model.m and first.model.u == second.model.u
    assert first.figures["em_pairs"] == second.figures["em_pairs"]


def test_the_latest_active_model_is_used(agency):
    older = train(db.session, seed=1, random_sample=40, em_sample=40)
    newer = train(db.session, seed=2, random_sample=40, em_sample=40)
    assert matching.active_model(db.session, refresh=True).id == newer.record_id
    db.session.get(LinkageModelRecord, newer.record_id).is_active = False
    db.session.flush()
    assert matching.active_model(db.session, refresh=True).id == older.record_id


def test_reviewers_decisions_are_labels(agency):
    a, b = agency[0], agency[120]  # one person written twice
    c_ = agency[1]
    db.session.add_all([
        ClientDuplicate(primary_client_id=a.id, duplicate_client_id=b.id, similarity_score=0.9, match_type="x",
                        confidence_level="high", status="merged"),
        ClientDuplicate(primary_client_id=a.id, duplicate_client_id=c_.id, similarity_score=0.6, match_type="x",
                        confidence_level="low", status="not_duplicate",
                        match_details={"levels": {"first_name": "different", "last_name": "different",
                                                  "dob": "different", "gender": "same"}}),
    ])
    db.session.flush()
    result = train(db.session, seed=1, random_sample=40, em_sample=40)
    assert result.figures["labels"] == {"matches": 1, "non_matches": 1, "skipped": 0}


def test_too_few_clients_is_a_clear_error(db_session):
    with pytest.raises(TrainingError, match="at least 50"):
        train(db.session)


def test_the_command_trains_and_reports(app, agency):
    result = app.test_cli_runner().invoke(args=["ccd", "train-matcher", "--seed", "3", "--random-sample", "50",
                                                "--em-sample", "40"])
    assert result.exit_code == 0, result.output
    assert "Trained linkage model" in result.output and "on 135 clients" in result.output
    record = db.session.scalar(sa.select(LinkageModelRecord).order_by(LinkageModelRecord.trained_at.desc()))
    assert record.seed == 3 and record.trained_by == "ccd train-matcher"


def test_the_task_trains_and_is_scheduled_weekly(app, agency):
    from app.config import BEAT_SCHEDULE

    task = app.extensions["celery"].tasks[TRAIN_TASK]
    assert "Trained linkage model" in task.apply().get()
    assert BEAT_SCHEDULE["weekly-matcher-training"]["task"] == TRAIN_TASK


def test_an_implausible_em_result_keeps_the_built_in_m():
    assert plausible_m("dob", DEFAULT_MODEL.m["dob"])
    assert not plausible_m("dob", (0.2, 0.0, 0.0, 0.02, 0.0, 0.78, 1.0, 1.0))
