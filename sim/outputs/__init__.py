"""Outputs: words and pictures made from results and analyses.

* :mod:`sim.outputs.summary` -- plain-text summaries for the terminal and logs;
* :mod:`sim.outputs.charts` -- what each chart shows and says (``data``, ``forecast``,
  ``comparison``, ``analysis``, ``pack``) and drawing it (``draw``);
* :mod:`sim.outputs.report` -- the chart pack folder and its web page.

Above the analysis layer: takes tables from :mod:`sim.results` and :mod:`sim.analysis` and
computes no statistic a table does not already hold; runs no simulation.
"""
