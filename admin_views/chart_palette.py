"""The report charts' one palette: a distinct colour per category, the same category always the same colour.

Chart.js's own defaults repeat after seven colours, so the eighth category of a doughnut
("Prefer not to answer" after "Woman") came out the same blue as the first. Here a category's
colour follows its place in the full list of categories (the option list's order, zero counts
included), so hiding an empty category or filtering the report never shifts the others. "Not
stated" is always grey. Past the fixed palette, hues step by the golden angle, so no two repeat.
"""

from app.labels import NOT_STATED_LABEL

# Kelly's colours of maximum contrast (less white, black and the greys), then a few more distinct ones.
PALETTE = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf",
    "#bcbd22", "#f3c300", "#875692", "#a1caf1", "#be0032", "#c2b280", "#008856", "#e68fac",
    "#0067a5", "#f99379", "#604e97", "#882d17",
)
NOT_STATED_COLOUR = "#9e9e9e"
_GOLDEN_ANGLE = 137.508


def colour_at(position: int) -> str:
    """The colour of the category at ``position`` in its full list."""
    if position < len(PALETTE):
        return PALETTE[position]
    hue = (position - len(PALETTE)) * _GOLDEN_ANGLE % 360
    lightness = 38 + (position // 7) % 3 * 10
    return f"hsl({hue:.1f}, 65%, {lightness}%)"


def category_colours(all_labels: list[str], shown: list[str]) -> list[str]:
    """The colours of the ``shown`` labels, each by its position in ``all_labels`` (the full category list)."""
    positions = {label: index for index, label in enumerate(all_labels)}
    return [NOT_STATED_COLOUR if label == NOT_STATED_LABEL else colour_at(positions[label]) for label in shown]
