"""What a review page shows: the incoming row or client beside each candidate, labelled, and the evidence.

Everything here is read-only and made of plain values the templates print (escaped):
field labels come from app/labels.py, match internals (blocking keys, upload log ids, raw
per-field similarities) are never shown, and the evidence for and against a candidate is the
``match_details["evidence"]`` list the matcher stores (one entry per compared field, with its
match weight; see the matching contract). Rows stored before that list existed have none,
and their page shows no waterfall rather than guessing one.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

import sqlalchemy as sa

from app.extensions import db
from app.labels import label, match_type_label
from app.models import Client, ClientDuplicate, ClientSourceId, ImportRow
from app.services.merge import shown_value

# The client fields a reviewer compares first, in this order; others follow when the row carries them.
IDENTITY_FIELDS = ("first_name", "middle_name", "last_name", "preferred_name", "alias", "dob", "gender")
CONTACT_FIELDS = ("phone", "email", "address_line1", "city", "postal_code", "health_card_number")
CLIENT_COLUMNS = frozenset(column.key for column in sa.inspect(Client).column_attrs)
MINUS, PLUS_MINUS = "\u2212", "\u00b1"


# -- the evidence -------------------------------------------------------------------------------
@dataclass
class Bar:
    """One field's evidence: its words, its signed match weight, and how wide its bar is drawn (0-100, in
    steps of 5: the width is a CSS class in static/css/ccd-review.css)."""
    field: str
    text: str
    weight: float
    width: int

    @property
    def direction(self) -> str:
        return "for" if self.weight > 0 else "against" if self.weight < 0 else "neutral"

    @property
    def weight_text(self) -> str:
        sign = "+" if self.weight > 0 else MINUS if self.weight < 0 else PLUS_MINUS
        return f"{sign}{abs(self.weight):.1f}"

    @property
    def words(self) -> str:
        """The bar in words: "same birth date +6.1", "different gender −4.3"."""
        return f"{self.text} {self.weight_text}"


@dataclass
class Waterfall:
    bars: list[Bar]
    total: float | None

    @property
    def total_text(self) -> str | None:
        if self.total is None:
            return None
        return f"{'+' if self.total > 0 else MINUS if self.total < 0 else ''}{abs(self.total):.1f}"


def waterfall(details: dict | None) -> Waterfall | None:
    """The evidence of one candidate as bars, strongest first; None when the item stored no evidence."""
    evidence = (details or {}).get("evidence")
    if not isinstance(evidence, list) or not evidence:
        return None
    bars = []
    for entry in evidence:
        if not isinstance(entry, dict):
            continue
        try:
            weight = float(entry.get("weight", 0.0))
        except (TypeError, ValueError):
            continue
        name = str(entry.get("field") or "")
        text = str(entry.get("text") or (label(name) if name else ""))
        bars.append(Bar(name, text, weight, 0))
    if not bars:
        return None
    widest = max(abs(bar.weight) for bar in bars) or 1.0
    for bar in bars:
        bar.width = max(5, 5 * round(20 * abs(bar.weight) / widest)) if bar.weight else 0
    total = (details or {}).get("match_weight")
    try:
        total = float(total) if total is not None else sum(bar.weight for bar in bars)
    except (TypeError, ValueError):
        total = None
    return Waterfall(bars, total)


def probability(item: ClientDuplicate) -> float:
    """The candidate's match probability: what the matcher stored, else the item's score."""
    stored = (item.match_details or {}).get("probability")
    try:
        return float(stored) if stored is not None else float(item.similarity_score)
    except (TypeError, ValueError):
        return float(item.similarity_score)


# -- the people ---------------------------------------------------------------------------------
@dataclass
class Described:
    """A client as a reviewer tells it apart: name, birth date, CCD id, source system and source ids."""
    client_id: uuid.UUID
    name: str
    dob: str
    source_system: str
    source_ids: list[str]
    merged_away: bool


def source_ids_of(client_ids) -> dict[uuid.UUID, list[str]]:
    ids = list(client_ids)
    found: dict[uuid.UUID, list[str]] = {key: [] for key in ids}
    if not ids:
        return found
    for client_id, system, value in db.session.execute(
            sa.select(ClientSourceId.client_id, ClientSourceId.source_system, ClientSourceId.source_client_id)
            .where(ClientSourceId.client_id.in_(ids))
            .order_by(ClientSourceId.source_system, ClientSourceId.source_client_id)):
        found[client_id].append(f"{system} {value}")
    return found


def describe(client: Client, source_ids: list[str]) -> Described:
    return Described(client.id, client.full_name, client.dob.isoformat() if client.dob else "unknown",
                     client.source_system or "", source_ids, client.merged_into_id is not None)


@dataclass
class FieldRow:
    """One line of the side-by-side table: the field's label, the incoming value, each candidate's."""
    name: str
    label: str
    title: str  # the file's column title, when the value came from a file
    incoming: str
    candidates: list[str]

    @property
    def differs(self) -> list[bool]:
        return [bool(self.incoming or value) and value.casefold() != self.incoming.casefold()
                for value in self.candidates]


@dataclass
class Candidate:
    item: ClientDuplicate
    client: Described
    probability: float
    match_type: str
    waterfall: Waterfall | None


@dataclass
class HeldRowPage:
    row: ImportRow | None
    file_name: str
    source: str
    incoming_source_id: str
    candidates: list[Candidate]
    fields: list[FieldRow]
    service: list[tuple[str, str, str]] = field(default_factory=list)  # (label, column title, value)
    reason: str = ""


def incoming_values(row: ImportRow) -> dict[str, tuple[str, str]]:
    """The row's cells by CCD field, as read with its own import's columns: field -> (column title, text).

    Cells of columns the import did not map are listed under their own title.
    """
    details = (row.upload_log.upload_details if row.upload_log is not None else None) or {}
    headers = [str(h) for h in details.get("headers") or []]
    columns = details.get("columns") or {}
    cells = list(row.cells or [])
    values: dict[str, tuple[str, str]] = {}
    used = set()
    for name, title in columns.items():
        if title in headers:
            index = headers.index(title)
            used.add(index)
            values[name] = (title, str(cells[index]) if index < len(cells) and cells[index] is not None else "")
    for index, cell in enumerate(cells):
        if index in used or cell in (None, ""):
            continue
        title = headers[index] if index < len(headers) and headers[index].strip() else f"Column {index + 1}"
        values[f"column:{index}"] = (title, str(cell))
    return values


def _value_label(name: str, title: str) -> str:
    return title if name.startswith("column:") else label(name)


def held_row_page(item: ClientDuplicate) -> HeldRowPage:
    """The held row beside every client it was flagged against."""
    row = item.import_row
    items = list(db.session.scalars(sa.select(ClientDuplicate).where(ClientDuplicate.import_row_id == row.id)
                                    .order_by(ClientDuplicate.similarity_score.desc(), ClientDuplicate.id))) \
        if row is not None else [item]
    clients = [entry.primary_client for entry in items]
    held = source_ids_of(c.id for c in clients)
    candidates = [Candidate(entry, describe(entry.primary_client, held[entry.primary_client_id]),
                            probability(entry), match_type_label(entry.match_type), waterfall(entry.match_details))
                  for entry in items]
    incoming = incoming_values(row) if row is not None else {}
    names = [n for n in IDENTITY_FIELDS] + [n for n in incoming if n in CLIENT_COLUMNS and n not in IDENTITY_FIELDS]
    names += [n for n in CONTACT_FIELDS if n not in names and any(getattr(c, n) for c in clients)]
    fields = [FieldRow(n, label(n), incoming.get(n, ("", ""))[0], incoming.get(n, ("", ""))[1],
                       [shown_value(getattr(c, n)) for c in clients]) for n in names]
    # A field nobody has a value for tells the reviewer nothing.
    fields = [line for line in fields if line.incoming or any(line.candidates)]
    log = row.upload_log if row is not None else None
    source = log.source if log is not None else ""
    source_id = incoming.get("source_client_id", ("", ""))[1]
    if source:
        fields.append(FieldRow("source_client_id", f"{source} id", incoming.get("source_client_id", ("", ""))[0],
                               source_id, [", ".join(s.split(" ", 1)[1] for s in held[c.id]
                                                     if s.startswith(f"{source} ")) for c in clients]))
    service = [(_value_label(n, title), title, value) for n, (title, value) in incoming.items()
               if n not in CLIENT_COLUMNS and n != "source_client_id" and value]
    reason = (item.match_details or {}).get("reason") or ""
    return HeldRowPage(row, log.file_name if log is not None else "", source, source_id, candidates, fields,
                       service, str(reason))


@dataclass
class PairPage:
    first: Described
    second: Described
    probability: float
    match_type: str
    waterfall: Waterfall | None


def pair_page(item: ClientDuplicate) -> PairPage:
    """Two clients told apart, with the evidence for and against their being one person."""
    first, second = item.primary_client, item.duplicate_client
    held = source_ids_of((first.id, second.id))
    return PairPage(describe(first, held[first.id]), describe(second, held[second.id]), probability(item),
                    match_type_label(item.match_type), waterfall(item.match_details))
