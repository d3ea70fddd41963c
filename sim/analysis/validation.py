"""Model against published data, side by side.

Compares a scenario (normally the baseline) with every published figure it can be judged
against: the calibration targets (``targets.yaml``, marked "used in fit") and figures held
out of the fit (``validation.yaml``). Each statistic is computed per replication, so the
model's median and 90% range can be set beside the published value. Returns a table;
draws and writes nothing (its chart is :func:`sim.outputs.charts.analysis.validation_chart`).
Targets and statistics come from :mod:`sim.analysis.targets`, not from the fitter.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from sim.analysis.targets import STATISTICS, load_spec
from sim.errors import ScenarioError
from sim.experiment.runner import RunSettings, replicate
from sim.model import compile_scenario
from sim.scenario import Scenario, with_changes
from sim.scenario.files import read_yaml

log = logging.getLogger(__name__)

HORIZON_YEARS = 8
"""Long enough for most programme spells to end, so spell lengths can be compared."""


@dataclass(frozen=True)
class Comparison:
    name: str
    statistic: str
    published: float
    source: str
    used_in_fit: bool
    options: dict = field(default_factory=dict)


def load_comparisons(targets_path: str | Path, held_out_path: str | Path) -> list[Comparison]:
    """Calibration targets (used in the fit) and held-out figures, from their files."""
    # stages that run their own scenario (the history since 2013) are compared with the
    # data by the back-test, on that scenario, not here on the baseline
    out = [
        Comparison(t.name, t.statistic, t.value, t.source, True, t.options)
        for stage in load_spec(targets_path).stages
        if stage.scenario is None
        for t in stage.targets
    ]
    raw = read_yaml(Path(held_out_path))
    for i, item in enumerate(raw.get("held_out", [])):
        where = f"held_out[{i}]"
        for key in ("name", "statistic", "value", "source"):
            if key not in item:
                raise ScenarioError(held_out_path, f"{where}.{key}", "required field is missing")
        if item["statistic"] not in STATISTICS:
            raise ScenarioError(
                held_out_path, f"{where}.statistic", f"unknown statistic {item['statistic']!r}"
            )
        out.append(Comparison(str(item["name"]), item["statistic"], float(item["value"]),
                              str(item["source"]), False, dict(item.get("options", {}))))  # fmt: skip
    return out


def compare_with_data(
    scenario: Scenario,
    comparisons: list[Comparison],
    replications: int = 100,
    seed: int = 2025,
    progress: bool | None = False,
) -> pd.DataFrame:
    """Per comparison: published value, the model's mean, median and 90% range across
    replications, whether the published value lies in that range, and the source.
    ``progress``: a bar of the replications (None: only on a terminal; by default none)."""
    run = with_changes(scenario, {"horizon_years": HORIZON_YEARS})
    inputs = compile_scenario(run)
    log.info("validation: %d published figures; %d replications of %s over %d years",
             len(comparisons), replications, scenario.name, HORIZON_YEARS)  # fmt: skip
    results = list(replicate(inputs, RunSettings(replications, seed, progress=progress)))
    rows = []
    for c in comparisons:
        options = c.options | {"start_date": run.start_date, "end_date": run.end_date}
        per_replication = np.array([STATISTICS[c.statistic]([r], options) for r in results])
        per_replication = per_replication[~np.isnan(per_replication)]
        pooled = STATISTICS[c.statistic](results, options)
        q05, q50, q95 = np.quantile(per_replication, (0.05, 0.5, 0.95))
        rows.append({
            "quantity": c.name, "published": c.published, "model_mean": pooled,
            "model_q05": q05, "model_median": q50, "model_q95": q95,
            "published_in_model_range": bool(q05 <= c.published <= q95),
            "relative_difference": pooled / c.published - 1 if c.published else np.nan,
            "used_in_fit": c.used_in_fit, "source": c.source,
        })  # fmt: skip
    return pd.DataFrame(rows)
