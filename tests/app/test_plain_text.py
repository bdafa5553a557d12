"""The plain-text rule: control characters found by code, bidirectional controls shown as codes."""

from app.plain_text import control_characters, neutralise_bidi


def test_bidirectional_controls_are_shown_as_their_codes():
    assert neutralise_bidi("Smith\u202etxt.exe") == "Smith[U+202E]txt.exe"
    assert neutralise_bidi("\u2066a\u2069 \u202ab\u202c") == "[U+2066]a[U+2069] [U+202A]b[U+202C]"
    assert neutralise_bidi("Côté, محمد") == "Côté, محمد", "letters of any script are left alone"


def test_control_characters_are_named_once_each():
    assert control_characters("a\x00b\x00\x1f") == ["U+0000", "U+001F"]
