"""Domain logic as plain functions: screens, CLI commands and Celery tasks all call these."""
