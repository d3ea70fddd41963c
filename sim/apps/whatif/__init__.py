"""Instant what-if: change a few assumptions, re-run quickly and redraw.

Everything behind the what-if notebook (``notebooks/03_what_if.ipynb``), so that the
notebook only puts controls on the screen. Three parts, kept apart so the engine can be
used (and tested) without widgets:

* :mod:`~sim.apps.whatif.settings` -- :class:`Settings` (what the controls show) and
  :func:`build_scenario` (settings -> a validated scenario; :class:`WhatIfError` if the
  combination is invalid);
* :mod:`~sim.apps.whatif.engine` -- :class:`ResultCache`, :class:`WhatIf` (run the what-if
  and its base under the same random numbers) and :class:`Outcome` (results, the headline
  table of paired differences, charts prepared and drawn on demand, :class:`Charts`);
* :mod:`~sim.apps.whatif.panel` -- :class:`Panel`, the ipywidgets controls (the only module
  that uses ipywidgets, imported when a panel is made);
* :mod:`~sim.apps.whatif.drawing` -- a chart as PNG, as ``savefig`` draws it, with less
  work per update (imported when a chart is first drawn);
* :mod:`~sim.apps.whatif.notebook` -- helpers every notebook uses
  (:func:`replications_from_env`, :func:`find_scenarios`).

A what-if at a 5-year horizon with 50 replications runs in a few tenths of a second on a
2-core machine; see ``notebooks/README.md``. Apps layer: nothing in the package imports it.
"""

from sim.apps.whatif.engine import (
    CHART_ROWS,
    CHARTS,
    DEFAULT_REPLICATIONS,
    Charts,
    Outcome,
    ResultCache,
    WhatIf,
    chart_data,
    combine,
    headline,
    summary_of_rows,
    whole_horizon,
)
from sim.apps.whatif.notebook import (
    REPLICATIONS_VARIABLE,
    SCENARIOS_VARIABLE,
    find_scenarios,
    replications_from_env,
)
from sim.apps.whatif.panel import Panel
from sim.apps.whatif.settings import (
    BLEND_PHASE,
    DEFAULT_REFERRAL_RATE,
    REFERRAL_MODES,
    SEGMENTATION_RULES,
    WHAT_IF_NAME,
    WHAT_IF_NOTE,
    Settings,
    WhatIfError,
    build_scenario,
    check_settings,
    cut_date_options,
    rebalance_blend,
)

__all__ = [
    "BLEND_PHASE",
    "CHARTS",
    "CHART_ROWS",
    "DEFAULT_REFERRAL_RATE",
    "DEFAULT_REPLICATIONS",
    "REFERRAL_MODES",
    "REPLICATIONS_VARIABLE",
    "SCENARIOS_VARIABLE",
    "SEGMENTATION_RULES",
    "WHAT_IF_NAME",
    "WHAT_IF_NOTE",
    "Charts",
    "Outcome",
    "Panel",
    "ResultCache",
    "Settings",
    "WhatIf",
    "WhatIfError",
    "build_scenario",
    "chart_data",
    "check_settings",
    "combine",
    "cut_date_options",
    "find_scenarios",
    "headline",
    "rebalance_blend",
    "replications_from_env",
    "summary_of_rows",
    "whole_horizon",
]
