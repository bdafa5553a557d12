"""Retraining the matching model (weekly, BEAT_SCHEDULE "weekly-matcher-training")."""

from celery import shared_task

from app.extensions import db
from app.services.matching.training import train

TRAIN_TASK = "ccd.train_matcher"


@shared_task(name=TRAIN_TASK)
def train_matcher(seed: int = 0) -> str:
    result = train(db.session, seed=seed, trained_by=f"task {TRAIN_TASK}")
    db.session.commit()
    return result.describe()
