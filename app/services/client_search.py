"""Finding a client, forgivingly and alike on PostgreSQL and SQLite: the one search every screen uses.

What is typed is read as terms, each of which must match (so "Marie Tremblay" narrows, not
widens): a word is the start of a word of a first, last or preferred name or alias, with
accents and case ignored and in any order ("Alexander, Lori", the pickers' own format, is
"Lori Alexander"); a birth date in any common form (1971-05-05, 05/05/1971, 5 May 1971,
19710505); a phone number however it is punctuated; an email; a postal code with or without
its space; a UID or source id. Every term is looked up in ``client_search_keys`` through its
index (app/search_keys.py writes the stored and the searched keys alike). Only when nothing
the person may see matches is a name word read as a typo: every word one keystroke away is
computed here and those on file are looked up as whole words, so "Rouseau" finds "Rousseau"
with the same answer on either database.

The list's search box and the home page (search_condition), the type-ahead pickers
(find_clients) and the door's restriction check (identifying_condition) all come here; the
caller's query carries the person's scope (app/services/scope.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import date

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles

from app.models import Client, ClientSearchKey
from app.services.scope import client_visible, within
from app.search_keys import (
    BORN, EMAIL, NAME, PHONE, POSTAL, SOURCE, born_key, compact, email_key, fold, key, name_words, next_after_prefix,
    one_edit_away, phone_digits,
)

MIN_TYPO_LENGTH = 4  # a shorter word is one keystroke from too many other names to guess which was meant
NARROW_PREFIX = 4  # a name part this long finds people who share a name, not half the list
IGNORED_WORDS = frozenset({"born", "ne", "nee"})  # "Alexander, Lori, born 1971-05-05", as a picker shows a client

_MONTHS = {
    **dict.fromkeys(("january", "jan", "janvier", "janv"), 1),
    **dict.fromkeys(("february", "feb", "fevrier", "fev"), 2),
    **dict.fromkeys(("march", "mar", "mars"), 3), **dict.fromkeys(("april", "apr", "avril", "avr"), 4),
    **dict.fromkeys(("may", "mai"), 5), **dict.fromkeys(("june", "jun", "juin"), 6),
    **dict.fromkeys(("july", "jul", "juillet", "juil"), 7), **dict.fromkeys(("august", "aug", "aout"), 8),
    **dict.fromkeys(("september", "sep", "sept", "septembre"), 9), **dict.fromkeys(("october", "oct", "octobre"), 10),
    **dict.fromkeys(("november", "nov", "novembre"), 11), **dict.fromkeys(("december", "dec", "decembre"), 12),
}
_MONTH = "(" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\.?"
_DATE_FORMS = [  # (pattern, how its groups read as (year, month, day) candidates)
    (re.compile(r"(?<![\w])(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?![\w])"), lambda y, m, d: [(y, m, d)]),
    (re.compile(r"(?<![\w])(\d{1,2})[-/.](\d{1,2})[-/.](\d{4})(?![\w])"), lambda a, b, y: [(y, b, a), (y, a, b)]),
    (re.compile(rf"(?<![\w])(\d{{1,2}})(?:st|nd|rd|th|er)?[\s-]+{_MONTH},?[\s-]+(\d{{4}})(?![\w])"),
     lambda d, m, y: [(y, m, d)]),
    (re.compile(rf"(?<![\w]){_MONTH}[\s-]+(\d{{1,2}})(?:st|nd|rd|th)?,?[\s-]+(\d{{4}})(?![\w])"),
     lambda m, d, y: [(y, m, d)]),
]
_PHONE = re.compile(r"(?<![\w+])(?:\+?1[\s.-]?)?(?:\(\d{3}\)|\d{3})[\s.-]?\d{3}[\s.-]?\d{4}(?![\w])"
                    r"|(?<![\w-])\d{3}[\s.-]\d{4}(?![\w-])")
_POSTAL = re.compile(r"(?<![\w])([a-z]\d[a-z])[\s-]?(\d[a-z]\d)(?![\w])")
_SEPARATORS = re.compile(r"[\s,;]+")
_PHONE_LIKE = re.compile(r"[\d().+-]+")


def _day(year, month, day) -> date | None:
    month = _MONTHS.get(month) if isinstance(month, str) and not month.isdigit() else int(month)
    try:
        found = date(int(year), month, int(day))
    except (TypeError, ValueError):
        return None
    return found if 1900 <= found.year <= 2100 else None


@dataclass(frozen=True)
class Term:
    """One thing typed; a client matches it through any of its keys or key prefixes."""

    text: str
    exact: frozenset[str] = frozenset()
    prefixes: frozenset[str] = frozenset()
    typo_word: str | None = None  # a name word, which may be read as a typo if nothing matches

    @property
    def narrow(self) -> bool:
        """Whether it finds people who share a name or an identifier, not a good part of the list."""
        return all(len(prefix.split(":", 1)[1]) >= NARROW_PREFIX for prefix in self.prefixes)

    @property
    def kinds(self) -> set[str]:
        return {k.split(":", 1)[0] for k in self.exact | self.prefixes}


@dataclass(frozen=True)
class ClientQuery:
    terms: tuple[Term, ...] = field(default_factory=tuple)

    @property
    def narrow(self) -> bool:
        return bool(self.terms) and all(term.narrow for term in self.terms)

    @property
    def names(self) -> bool:
        return any(term.typo_word for term in self.terms)


def _take(pattern: re.Pattern, text: str, make) -> tuple[str, list[Term]]:
    """The terms ``make`` reads from the matches of ``pattern``, and the text with those it read blanked."""
    terms = []

    def blank(match):
        term = make(match)
        if term is None:
            return match.group(0)
        terms.append(term)
        return " "
    return pattern.sub(blank, text), terms


def _date_term(reading):
    def make(match) -> Term | None:
        days = {day for candidate in reading(*match.groups()) if (day := _day(*candidate))}
        return Term(match.group(0), exact=frozenset(born_key(day) for day in days)) if days else None
    return make


def _phone_term(match) -> Term:
    digits = phone_digits(match.group(0))
    return Term(match.group(0), exact=frozenset({key(PHONE, digits), key(SOURCE, digits)}))


def _postal_term(match) -> Term:
    return Term(match.group(0), exact=frozenset({key(POSTAL, match.group(1) + match.group(2))}))


def _word_terms(raw: str) -> list[Term]:
    """A word left over once dates, phones and postal codes are read: an email, an id, or name words."""
    if "@" in raw:
        email = email_key(raw)
        return [Term(raw, prefixes=frozenset({email}))] if email else [Term(raw)]
    if any(ch.isdigit() for ch in raw):
        cleaned = compact(raw)
        exact = {key(SOURCE, cleaned)} if cleaned else set()
        prefixes = set()
        if _PHONE_LIKE.fullmatch(raw) and len(phone_digits(raw)) in (7, 10):
            exact.add(key(PHONE, phone_digits(raw)))
        if re.fullmatch(r"\d{8}", raw) and (day := _day(raw[:4], raw[4:6], raw[6:])):
            exact.add(born_key(day))
        if re.fullmatch(r"[a-z]\d[a-z]\d[a-z]\d", cleaned):
            exact.add(key(POSTAL, cleaned))
        elif re.fullmatch(r"[a-z]\d[a-z]", cleaned):
            prefixes.add(key(POSTAL, cleaned))
        return [Term(raw, exact=frozenset(exact), prefixes=frozenset(prefixes))]
    if not name_words(raw) and raw.strip("-.'_%"):
        return [Term(raw)]  # something typed that no name can hold: it matches nobody
    words = [word for word in name_words(raw) if word not in IGNORED_WORDS]
    return [Term(word, prefixes=frozenset({key(NAME, word)}), typo_word=word) for word in words]


def parse(text: str) -> ClientQuery:
    """What was typed, as terms: birth dates, phone numbers and postal codes first (they hold spaces and
    punctuation), then every other word."""
    rest = fold((text or "").replace("\x00", " "))
    terms: list[Term] = []
    for pattern, reading in _DATE_FORMS:
        rest, found = _take(pattern, rest, _date_term(reading))
        terms += found
    for pattern, make in ((_PHONE, _phone_term), (_POSTAL, _postal_term)):
        rest, found = _take(pattern, rest, make)
        terms += found
    for raw in _SEPARATORS.split(rest):
        if raw:
            terms += _word_terms(raw)
    return ClientQuery(tuple(terms))


class one_of_ids(within):
    """``column IN (ids)``; on PostgreSQL ``column = ANY(ARRAY(ids))``, which a bitmap of the column's
    index answers: the matches' rows are fetched page by page, not one index probe each. Elsewhere
    it compiles as scope.within does."""

    inherit_cache = True


@compiles(one_of_ids, "postgresql")
def _one_of_ids_array(element, compiler, **kw):
    column, ids = compiler.process(element.column, **kw), compiler.process(element.ids, **kw)
    return f"{column} = ANY(ARRAY({ids}))"


def _term_matches(term: Term) -> sa.Select | None:
    """Ids of the clients with a key ``term`` names (None: no key can match it)."""
    k = ClientSearchKey.key
    ways = [k.in_(sorted(term.exact))] if term.exact else []
    ways += [sa.and_(k >= prefix, k < next_after_prefix(prefix)) for prefix in sorted(term.prefixes)]
    return sa.select(ClientSearchKey.client_id).where(sa.or_(*ways)) if ways else None


def query_condition(query: ClientQuery, staff=None):
    """Clients matching every term of ``query``; given ``staff``, the key index's matches are narrowed to
    that person's clients before any client is read (the planner checks them match by match or
    against the set of their clients, whichever is cheaper for the scope's size).

    The narrow terms' matches are intersected in the key index, then their clients looked up by
    id: the planner, expecting matches spread over the name order, would otherwise walk the name
    index to fill a page, and the count over the page makes that walk go to the end. On
    PostgreSQL they are fetched as one bitmap of the primary key (``id = ANY(ARRAY(…))``), so
    each table page is read once and in order. A term that can match anyone ("li") is left for
    the planner to check row by row.
    """
    matches = [_term_matches(term) for term in query.terms]
    if not matches or any(found is None for found in matches):
        return sa.false()
    narrow = [found for term, found in zip(query.terms, matches) if term.narrow]
    wide = [found for term, found in zip(query.terms, matches) if not term.narrow]
    conditions = [Client.id.in_(found) for found in wide]
    if narrow:
        common = narrow[0] if len(narrow) == 1 else sa.select(sa.intersect(*narrow).subquery().c[0])
        visible = None if staff is None else client_visible(common.selected_columns[0], staff, row_by_row=False)
        if visible is not None:
            common = common.where(visible)
        conditions.append(one_of_ids(Client.id, common))
    return sa.and_(*conditions)


def typos_on_file(session, words: list[str]) -> dict[str, set[str]]:
    """For each name word, the name words on file one keystroke away from it, found in one statement."""
    forms = {word: {key(NAME, form) for form in one_edit_away(word)} for word in words
             if len(word) >= MIN_TYPO_LENGTH}
    wanted = sorted(set().union(*forms.values())) if forms else []
    on_file = set(session.scalars(sa.select(ClientSearchKey.key).where(ClientSearchKey.key.in_(wanted))
                                  .distinct())) if wanted else set()
    return {word: keys & on_file for word, keys in forms.items()}


def forgiving(session, query: ClientQuery) -> ClientQuery:
    """``query`` with each name word also matching the names on file one typo away from it."""
    typos = typos_on_file(session, [term.typo_word for term in query.terms if term.typo_word])
    return ClientQuery(tuple(replace(term, exact=term.exact | frozenset(typos.get(term.typo_word, ())))
                             if term.typo_word else term for term in query.terms))


def matching_condition(session, base_query, query: ClientQuery, staff=None):
    """The condition for ``query`` within ``base_query``, which carries the person's scope: as typed, or,
    when that finds nobody there, with name words read as typos too. Given ``staff`` (the same person),
    the matches are narrowed to their clients in the key index first: a Staff member's "Johns" then
    reads only their own Johnsons, not every Johnson on file to check each one."""
    exact = query_condition(query, staff)
    if not query.names or session.query(base_query.filter(exact).exists()).scalar():
        return exact
    return query_condition(forgiving(session, query), staff)


def search_condition(session, base_query, text: str, staff=None):
    """The search box's condition (the client list, and the home page, which searches the list)."""
    return matching_condition(session, base_query, parse(text), staff)


def client_records_condition(session, model, text: str, staff=None):
    """The search box of a list of clients' records (enrollments, intakes, discharges, restrictions): the
    records of the clients the one client search finds, or, where the records name a program, of the
    programs whose name holds the text."""
    from app.models import Program

    clients = sa.select(Client.id).where(search_condition(session, session.query(Client), text, staff))
    condition = model.client_id.in_(clients)
    words = " ".join(text.split())
    if words and hasattr(model, "program_id"):
        escaped = words.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        named = sa.select(Program.id).where(Program.name.ilike(f"%{escaped}%", escape="\\"))
        condition = sa.or_(condition, model.program_id.in_(named))
    return condition


def is_narrow(text: str) -> bool:
    """Whether every term finds only people who share a name or an identifier (tens of thousands at most
    of a million), best read from the key index and looked up by id, sorted and counted together
    (page_and_total). A name part shorter than four letters can match anyone."""
    return parse(text).narrow


def find_clients(session, base_query, text: str, *, staff=None, offset: int = 0, limit: int = 10) -> list[Client]:
    """A page of the clients in ``base_query`` (the person's scope) that ``text`` finds, in name order:
    what the type-ahead pickers offer. Nothing typed yet lists the first clients, as a drop-down opens."""
    if text.strip():
        base_query = base_query.filter(matching_condition(session, base_query, parse(text), staff))
    return (base_query.order_by(Client.last_name, Client.first_name, Client.id)
            .offset(max(offset, 0)).limit(limit).all())


def identifying_condition(session, base_query, text: str):
    """The condition for a question that must name one person (the door's restriction check): a name with
    a birth date or a postal code, or a phone number, an email or a source id. Anything vaguer raises
    ValueError, so the check cannot be used to list who is restricted."""
    query = parse(text)
    kinds = set().union(*(term.kinds for term in query.terms)) if query.terms else set()
    named = query.names and kinds & {BORN, POSTAL}
    an_id = any(SOURCE in term.kinds and len(compact(term.text)) >= 4 for term in query.terms)
    if not (named or an_id or kinds & {PHONE, EMAIL}):
        raise ValueError("Give the person's name and date of birth, or a phone number, email or source id.")
    return matching_condition(session, base_query, query)


def page_and_total(query) -> tuple[int, list]:
    """The clients on a paged ORM ``query``'s page and how many it finds in all, reading its matches once.

    A narrow search's matches are spread over the whole table: counting them (up to the
    list's cap), then sorting them for the page, read most of them twice, and carrying
    every column through the sort costs as much again. So the page's ids are sorted and
    counted in one statement, and only that page's clients are then read whole. Not for a
    search that matches anyone ("li"): counting every match first lets the planner fill
    the page by walking the name index, which counting with the page would make it walk to
    the end. A page past the end has no row to carry the total: it is counted on its own.
    """
    page = query.with_entities(Client.id, sa.func.count().over()).all()
    if not page:
        return query.limit(None).offset(None).order_by(None).count(), []
    on_page = query.session.query(Client).filter(Client.id.in_([client_id for client_id, _ in page]))
    clients = {client.id: client for client in on_page}
    return page[0][1], [clients[client_id] for client_id, _ in page]
