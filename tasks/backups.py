"""The nightly backup (beat: 02:15 agency time)."""

from celery import shared_task
from flask import current_app

from app.services import backups
from app.services.clock import agency_today


@shared_task(name="ccd.backup")
def backup() -> str:
    settings = backups.BackupSettings.from_config(current_app.config)
    return backups.run_backup(settings, agency_today()).describe()
