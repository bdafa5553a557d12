"""Finding a client by name, forgivingly and fast: partial names, accents of case, typos, at a million clients.

One condition serves the client list's search box and the type-ahead pickers. On
PostgreSQL a word also matches when it is close to a word of the client's names
(pg_trgm word similarity, so "Jonhson" finds "Johnson"); both forms use the trigram
index. SQLite, the embedded default, matches parts of names only.
"""

import sqlalchemy as sa

from app.models import Client
from app.models.clients import SEARCH_TEXT_SQL

SEARCH_TEXT = sa.text(SEARCH_TEXT_SQL)
MIN_TYPO_LENGTH = 4  # shorter words have too few trigrams to tell a typo from another name
# pg_trgm's default (0.6) misses two swapped letters in a short surname ("Jonhson" scores 0.33).
TYPO_SIMILARITY = 0.3


def _like_escape(term: str) -> str:
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def word_condition(word: str, dialect: str):
    """Rows whose names contain ``word``, or (PostgreSQL) hold a word similar to it; or whose UID is it."""
    lowered = word.lower()
    contains = sa.literal_column(f"({SEARCH_TEXT_SQL})").like(f"%{_like_escape(lowered)}%", escape="\\")
    conditions = [contains, sa.func.lower(Client.uid_external) == lowered]
    if dialect == "postgresql" and len(lowered) >= MIN_TYPO_LENGTH:
        conditions.append(sa.literal(lowered).op("<%")(sa.literal_column(f"({SEARCH_TEXT_SQL})")))
    return sa.or_(*conditions)


def name_search_condition(text: str, dialect: str):
    """Every word of ``text`` must match (so "Marie Tremblay" narrows, not widens)."""
    words = [word for word in text.split() if word]
    return sa.and_(*(word_condition(word, dialect) for word in words)) if words else sa.true()


def prepare_typo_search(session) -> None:
    """Set this transaction's typo tolerance (PostgreSQL); the indexed ``<%`` operator reads it."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(sa.text(f"SET LOCAL pg_trgm.word_similarity_threshold = {TYPO_SIMILARITY}"))
