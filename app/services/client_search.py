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


def word_condition(word: str, typos: bool = False):
    """Rows whose names contain ``word`` (or, with ``typos``, hold a word similar to it), or whose UID is it.

    The UID is compared as typed so its unique index serves the lookup; every branch is
    indexed, so PostgreSQL combines them without reading the table.
    """
    lowered = word.lower()
    search_text = sa.literal_column(f"({SEARCH_TEXT_SQL})")
    if typos:
        name_matches = sa.literal(lowered).op("<%")(search_text)
    else:
        name_matches = search_text.like(f"%{_like_escape(lowered)}%", escape="\\")
    return sa.or_(name_matches, Client.uid_external == word)


def name_search_condition(text: str, typos: bool = False):
    """Every word of ``text`` must match (so "Marie Tremblay" narrows, not widens)."""
    words = [word for word in text.split() if word]
    if typos and any(len(word) < MIN_TYPO_LENGTH for word in words):
        return sa.false()  # a short word cannot be told from a typo of another: no guessing
    return sa.and_(*(word_condition(word, typos) for word in words)) if words else sa.true()


def search_condition(session, base_query, text: str):
    """The condition for the search box: parts of names first; only when nothing matches and the
    database can (PostgreSQL's pg_trgm), close words, so "Jonhson" still finds "Johnson" while
    "Johns" lists the Johnsons and not every name that looks a little like it."""
    exact = name_search_condition(text)
    if session.get_bind().dialect.name != "postgresql":
        return exact
    if session.query(base_query.filter(exact).exists()).scalar():
        return exact
    prepare_typo_search(session)
    return name_search_condition(text, typos=True)


def prepare_typo_search(session) -> None:
    """Set this transaction's typo tolerance (PostgreSQL); the indexed ``<%`` operator reads it."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(sa.text(f"SET LOCAL pg_trgm.word_similarity_threshold = {TYPO_SIMILARITY}"))
