"""The report charts' palette: distinct colours, fixed per category whatever else is shown."""

from admin_views.chart_palette import NOT_STATED_COLOUR, PALETTE, category_colours, colour_at
from app.labels import NOT_STATED_LABEL


def test_sixty_categories_get_sixty_different_colours():
    colours = [colour_at(position) for position in range(60)]
    assert len(set(colours)) == 60
    assert NOT_STATED_COLOUR not in colours
    assert colours[:len(PALETTE)] == list(PALETTE)


def test_a_category_keeps_its_colour_when_others_are_hidden():
    every = ["Woman", "Man", "Non-binary", "Two-Spirit", "Transgender woman", "Transgender man", "Gender diverse",
             "Prefer not to answer", NOT_STATED_LABEL]
    all_shown = dict(zip(every, category_colours(every, every)))
    some = ["Man", "Prefer not to answer", NOT_STATED_LABEL]
    assert category_colours(every, some) == [all_shown[label] for label in some]
    assert all_shown["Woman"] != all_shown["Prefer not to answer"]
    assert all_shown[NOT_STATED_LABEL] == NOT_STATED_COLOUR
    assert len(set(all_shown.values())) == len(every)
