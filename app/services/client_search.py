"""Finding a client by name, forgivingly and fast: partial names, accents of case, typos, at a million clients.

One condition serves the client list's search box and the type-ahead pickers. On
PostgreSQL a word that matches no name is then read as a slip of the keyboard (two
neighbouring letters swapped, one letter too many: "Jonhson" finds "Johnson"), and only
when that finds nobody either, as a word close to a word of the client's names (pg_trgm
word similarity). All three forms use the trigram index; the first two ask it for exact
parts of names, so they read only the rows they find, while similarity reads every row
sharing a few trigrams (at a million clients, four times the rows it returns).
SQLite, the embedded default, matches parts of names only.
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


PARTS, SLIPS, SIMILAR = "parts", "slips", "similar"  # how a word may match, tried in this order


def slips_of(word: str) -> set[str]:
    """``word`` and what it would be with one slip undone: two neighbouring letters swapped back,
    or one letter too many dropped (kept to words long enough to tell apart)."""
    swapped = {word[:i] + word[i + 1] + word[i] + word[i + 2:] for i in range(len(word) - 1)}
    dropped = {word[:i] + word[i + 1:] for i in range(len(word))} if len(word) > MIN_TYPO_LENGTH else set()
    return {word} | swapped | dropped


def _search_text():
    return sa.literal_column(f"({SEARCH_TEXT_SQL})")


def _contains(form: str, inline: bool = False):
    """Names containing ``form``; ``inline`` writes the pattern into the SQL, so that a statement
    repeated with other patterns is never planned once for all of them (a generic plan cannot
    use the trigram index)."""
    pattern = f"%{_like_escape(form)}%"
    return _search_text().like(sa.literal(pattern, literal_execute=True) if inline else pattern, escape="\\")


def slips_on_file(session, word: str) -> list[str]:
    """The slips of ``word`` that some client's names contain: one indexed look-up each, all in one statement.

    Searching for only these, not every slip, keeps the planner's estimate of the matches
    honest: a dozen ORed patterns look like ten thousand rows, and it would then walk the
    whole list in name order to fill one page.
    """
    lowered = word.lower()
    if len(lowered) < MIN_TYPO_LENGTH:
        return [lowered]
    look_ups = [sa.select(sa.literal(form, sa.String))
                .where(sa.select(Client.id).where(_contains(form, inline=True)).exists())
                for form in sorted(slips_of(lowered))]
    return sorted(session.scalars(sa.union_all(*look_ups)))


def word_condition(word: str, match: str = PARTS, forms: list[str] | None = None):
    """Rows whose names contain ``word`` (or one of ``forms``, or with ``match`` SIMILAR a word similar
    to it), or whose UID is it.

    The UID is compared as typed so its unique index serves the lookup; every branch is
    indexed, so PostgreSQL combines them without reading the table.
    """
    lowered = word.lower()
    if match == SIMILAR:
        name_matches = sa.literal(lowered).op("<%")(_search_text())
    else:
        name_matches = sa.or_(sa.false(), *(_contains(form) for form in (forms if forms is not None else [lowered])))
    return sa.or_(name_matches, Client.uid_external == word)


def name_search_condition(text: str, match: str = PARTS, session=None):
    """Every word of ``text`` must match (so "Marie Tremblay" narrows, not widens); with ``match``
    SLIPS, ``session`` finds which slips of each word are on file."""
    words = [word for word in text.split() if word]
    if match == SIMILAR and any(len(word) < MIN_TYPO_LENGTH for word in words):
        return sa.false()  # a short word cannot be told from a typo of another: no guessing
    forms = {word: slips_on_file(session, word) if match == SLIPS else None for word in words}
    return sa.and_(*(word_condition(word, match, forms[word]) for word in words)) if words else sa.true()


def is_narrow(text: str) -> bool:
    """Whether every word of ``text`` is long enough (four letters or more) to find only people who
    share a name (tens of thousands at most of a million), best read from the trigram index, sorted
    and counted together (read_matches_directly, page_and_total). A shorter word can match anyone."""
    words = text.split()
    return bool(words) and all(len(word) >= MIN_TYPO_LENGTH for word in words)


def search_condition(session, base_query, text: str):
    """The condition for the search box: parts of names first; only when nothing matches and the
    database can (PostgreSQL's pg_trgm), slips of the keyboard, then close words, so "Jonhson"
    still finds "Johnson" while "Johns" lists the Johnsons and not every name that looks a
    little like it."""
    exact = name_search_condition(text)
    if session.get_bind().dialect.name != "postgresql":
        return exact
    if is_narrow(text):
        read_matches_directly(session)
    if session.query(base_query.filter(exact).exists()).scalar():
        return exact
    read_matches_directly(session)
    slips = name_search_condition(text, SLIPS, session)
    if session.query(base_query.filter(slips).exists()).scalar():
        return slips
    prepare_typo_search(session)
    return name_search_condition(text, SIMILAR)


def page_and_total(query) -> tuple[int, list]:
    """The clients on a paged ORM ``query``'s page and how many it finds in all, reading its matches once.

    A narrow search's matches are spread over the whole table: counting them (up to the
    list's cap), then sorting them for the page, read most of them twice (at a million
    clients, 13,000 rows for "Johns"), and carrying every column through the sort costs
    as much again. So the page's ids are sorted and counted in one statement, and only
    that page's clients are then read whole. Not for a search that matches anyone ("li"): counting every match
    first lets the planner fill the page by walking the name index, which counting with
    the page would make it walk to the end. A page past the end has no row to carry the
    total: it is counted on its own.
    """
    page = query.with_entities(Client.id, sa.func.count().over()).all()
    if not page:
        return query.limit(None).offset(None).order_by(None).count(), []
    on_page = query.session.query(Client).filter(Client.id.in_([client_id for client_id, _ in page]))
    clients = {client.id: client for client in on_page}
    return page[0][1], [clients[client_id] for client_id, _ in page]


def read_matches_directly(session) -> None:
    """Have this transaction read a name search's matches straight from the trigram index (PostgreSQL).

    Words of a name (four letters or more, or a typo of one) find people who share a name,
    so they sit together in name order, while the planner expects them spread evenly: to
    fill a page sorted by name it walks the name index from "A" and fetches every row
    before the first Johnson (tens of thousands). Without plain index scans it fetches the
    matches it found and sorts them. Shorter words, which can match anyone, are left to
    the planner.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(sa.text("SET LOCAL enable_indexscan = off"))


def prepare_typo_search(session) -> None:
    """Set this transaction's typo tolerance (PostgreSQL); the indexed ``<%`` operator reads it."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(sa.text(f"SET LOCAL pg_trgm.word_similarity_threshold = {TYPO_SIMILARITY}"))
