"""Charts: what each shows and means, and drawing it.

Chart data and words (no matplotlib): :mod:`~sim.outputs.charts.data` (the shared record and
words), :mod:`~sim.outputs.charts.forecast` (one scenario's charts, with
:mod:`~sim.outputs.charts.regions` for the chart by region),
:mod:`~sim.outputs.charts.comparison` (against a baseline), :mod:`~sim.outputs.charts.analysis`
(sensitivity, planner, validation, back-test), :mod:`~sim.outputs.charts.workforce` (the
workforce question across plausible futures) and :mod:`~sim.outputs.charts.pack` (the chart
pack); :mod:`~sim.outputs.charts.draw` (with :mod:`~sim.outputs.charts.draw_fan`,
:mod:`~sim.outputs.charts.draw_regions` and :mod:`~sim.outputs.charts.draw_workforce`) draws
them as matplotlib Figures. Imported separately from
the model so that running simulations never loads matplotlib."""

import html
import re
from pathlib import Path

from matplotlib import rc_context

from sim.outputs.charts.comparison import comparison
from sim.outputs.charts.data import ChartData
from sim.outputs.charts.draw import draw, without_words
from sim.outputs.charts.forecast import (
    caseload_fan,
    cost,
    exceedance,
    segments,
    team_demand,
    waiting_fan,
    waiting_times,
)
from sim.outputs.charts.pack import chart_set
from sim.outputs.charts.regions import regions

PNG_DPI = 150
BARE_PAD_INCHES = 0.12
"""White space kept around a bare chart, inches."""

__all__ = [
    "ChartData",
    "caseload_fan",
    "chart_set",
    "comparison",
    "cost",
    "draw",
    "exceedance",
    "regions",
    "save",
    "segments",
    "team_demand",
    "waiting_fan",
    "waiting_times",
]


def save(chart: ChartData, folder: str | Path, words: bool = True) -> None:
    """Draw ``chart`` and write it to ``folder`` as ``<key>.png`` and ``<key>.svg``.

    ``words``: the title, subtitle, caption and footnote in the image, for a chart used on
    its own; without them (bare, cropped to the plot and its legend) for a page or document
    that gives them as its own text, or a house style that sets its own. The SVG keeps its
    text as text (editable, searchable) and carries the title and alt text as its
    ``<title>`` and ``<desc>``; the PNG carries them as its Title and Description.
    """
    figure = draw(chart)
    options = {}
    if not words:
        without_words(figure)
        # cropped to what is drawn: the box is found once, for both files (a third faster
        # than "tight", which draws the figure again for each)
        options = {"bbox_inches": figure.get_tightbbox().padded(BARE_PAD_INCHES)}
    path = Path(folder) / chart.key
    figure.savefig(path.with_suffix(".png"), dpi=PNG_DPI,
                   metadata={"Title": chart.title, "Description": chart.alt_text}, **options)  # fmt: skip
    with rc_context({"svg.fonttype": "none", "svg.hashsalt": chart.key}):
        figure.savefig(path.with_suffix(".svg"), metadata={"Date": None}, **options)
    label_svg(path.with_suffix(".svg"), chart.title, chart.alt_text)


def label_svg(path: Path, title: str, description: str) -> None:
    """Give the SVG at ``path`` a ``<title>`` and ``<desc>`` as its first elements, and the
    role of an image labelled by them, so screen readers and editors read its title and
    alt text."""
    text = path.read_text(encoding="utf-8")
    opening = re.search(r"<svg\b[^>]*>", text)
    if opening is None:
        return
    tag = opening.group(0)
    labelled = tag[:-1] + ' role="img" aria-labelledby="chart-title chart-desc">'
    inside = (f'\n <title id="chart-title">{html.escape(title)}</title>'
              f'\n <desc id="chart-desc">{html.escape(description)}</desc>')  # fmt: skip
    text = text[: opening.start()] + labelled + inside + text[opening.end():]
    path.write_text(text, encoding="utf-8")
