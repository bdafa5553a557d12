"""Option lists: seeding the defaults and reading the values a form offers."""

import sqlalchemy as sa

from app.choices import DEFAULT_OPTIONS
from app.extensions import db
from app.models import ChoiceOption


def ensure_default_options() -> int:
    """Add any default option the table lacks; never re-activates one an administrator retired."""
    existing = {(key, value.lower()) for key, value in db.session.execute(
        sa.select(ChoiceOption.list_key, ChoiceOption.value))}
    added = 0
    for key, values in DEFAULT_OPTIONS.items():
        for order, value in enumerate(values):
            if (key, value.lower()) not in existing:
                db.session.add(ChoiceOption(list_key=key, value=value, sort_order=order * 10))
                added += 1
    return added


def active_options(list_key: str) -> list[str]:
    """The values offered for a list, in the administrator's order."""
    if list_key not in DEFAULT_OPTIONS:
        raise KeyError(f"No option list called {list_key!r}.")
    return list(db.session.scalars(
        sa.select(ChoiceOption.value)
        .where(ChoiceOption.list_key == list_key, ChoiceOption.is_active)
        .order_by(ChoiceOption.sort_order, ChoiceOption.value)
    ))
