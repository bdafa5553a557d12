"""Which characters a person's text may hold: one rule for forms, searches and filters.

Control characters are invisible, mean nothing in a name or a note, and PostgreSQL refuses
NUL in any text outright (a SQLite database would store it and show it garbled). Tab, line
feed and carriage return are ordinary text in a note and are kept.
"""

import re

# C0 controls except tab, LF and CR; DEL; C1 controls.
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def control_characters(text: str) -> list[str]:
    """The control characters in ``text``, each once, as a person can read them (``U+0000``)."""
    return sorted({f"U+{ord(char):04X}" for char in CONTROL_CHARACTERS.findall(text)})


def without_control_characters(text: str) -> str:
    return CONTROL_CHARACTERS.sub("", text)
