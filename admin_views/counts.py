"""How many rows a list shows: exact up to a cap, then "10,000+".

Counting every match costs a read of every match: at a million clients the unfiltered
client list spent more on its pager's count than on finding and drawing the page, and a
Staff member's list counted their whole scope. Nobody pages through ten thousand rows (they
search or filter), so past the cap the list says "10,000+" and counts no further; below it
the count is exact. The pager then offers the cap's worth of pages.
"""

import sqlalchemy as sa
from sqlalchemy.orm import Query

LIST_COUNT_CAP = 10_000


class AtLeast(int):
    """A count that stopped at its cap: arithmetic treats it as the cap, text shows "10,000+"."""

    def __str__(self) -> str:
        return f"{int(self):,}+"


def capped(count: int) -> int:
    """``count`` as a list shows it: past the cap, the cap as "10,000+"."""
    return AtLeast(LIST_COUNT_CAP) if count > LIST_COUNT_CAP else count


class CappedCountQuery(Query):
    """A Flask-Admin count query (``SELECT count(*) FROM … WHERE …``, filters and joins applied
    as usual) whose ``scalar()`` reads at most ``LIST_COUNT_CAP + 1`` matching rows.

    A screen that knows a cheaper way to count its rows as they stand says so with
    ``known_total``; any filter, search or join added afterwards drops it, so a narrowed list
    is always counted by its own query.
    """

    _known_total = None

    def known_total(self, total) -> "CappedCountQuery":
        """This query, counted by calling ``total()`` (returning None means: count it as usual)."""
        query = self._clone()
        query._known_total = total
        return query

    def filter(self, *criterion):
        return _narrowed(super().filter(*criterion))

    def join(self, *args, **kwargs):
        return _narrowed(super().join(*args, **kwargs))

    def outerjoin(self, *args, **kwargs):
        return _narrowed(super().outerjoin(*args, **kwargs))

    def scalar(self):
        known = self._known_total() if self._known_total is not None else None
        if known is not None:
            return capped(known)
        matches = self.with_entities(sa.literal(1)).limit(LIST_COUNT_CAP + 1).subquery()
        return capped(Query([sa.func.count()], session=self.session).select_from(matches).scalar())


def _narrowed(query: CappedCountQuery) -> CappedCountQuery:
    query._known_total = None
    return query


def capped_count_query(session, model) -> CappedCountQuery:
    """What ``get_count_query`` starts from: every row of ``model``, counted up to the cap."""
    return CappedCountQuery([sa.func.count("*")], session=session).select_from(model)
