"""Outputs: words and pictures made from results and analyses.

* :mod:`sim.outputs.summary` -- plain-text summaries for the terminal and logs;
* :mod:`sim.outputs.charts` -- what each chart shows and says (``data``, ``forecast``,
  ``comparison``, ``overlay``, ``analysis``, ``pack``) and drawing it (``draw``);
* :mod:`sim.outputs.report` -- the chart pack folder, its web page and printed report, with
  :mod:`~sim.outputs.findings` (the key findings), :mod:`~sim.outputs.assumptions` (the
  assumptions in words), :mod:`~sim.outputs.sections` (the page's other sections),
  :mod:`~sim.outputs.printing` (``report.pdf``) and :mod:`~sim.outputs.workbook`
  (``charts.xlsx``);

Above the analysis layer: takes tables from :mod:`sim.results` and :mod:`sim.analysis` and
computes no statistic a table does not already hold; runs no simulation.
"""
