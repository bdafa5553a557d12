"""Which characters a person's text may hold: one rule for forms, searches and filters.

Control characters are invisible, mean nothing in a name or a note, and PostgreSQL refuses
NUL in any text outright (a SQLite database would store it and show it garbled). Tab, line
feed and carriage return are ordinary text in a note and are kept.

Bidirectional overrides and isolates are kept as stored (a name copied from a document may
carry one) but never shown working: an override turns the rest of a line around, so
"Smith\u202Etxt.exe" would show as "Smithexe.txt". Pages show each as its code instead.
"""

import re

# C0 controls except tab, LF and CR; DEL; C1 controls.
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def control_characters(text: str) -> list[str]:
    """The control characters in ``text``, each once, as a person can read them (``U+0000``)."""
    return sorted({f"U+{ord(char):04X}" for char in CONTROL_CHARACTERS.findall(text)})


def without_control_characters(text: str) -> str:
    return CONTROL_CHARACTERS.sub("", text)


# Left-to-right / right-to-left embeddings, overrides, their end, and the isolates.
BIDI_CONTROLS = re.compile(r"[\u202a-\u202e\u2066-\u2069]")


def neutralise_bidi(text: str) -> str:
    """``text`` with each bidirectional control shown as its code (``[U+202E]``), so it turns nothing around."""
    return BIDI_CONTROLS.sub(lambda found: f"[U+{ord(found.group()):04X}]", text)
