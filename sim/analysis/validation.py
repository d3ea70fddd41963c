"""Model against published data, side by side.

Compares a scenario (normally the baseline) with every published figure it can be judged
against: the calibration targets (``targets.yaml``, marked "used in fit") and figures held
out of the fit (``validation.yaml``). Each statistic is computed per replication, so the
model's median and 90% range can be set beside the published value. Returns a table and a
:class:`~sim.outputs.charts.data.ChartData`; writes nothing (the command line publishes them
with :func:`sim.outputs.report.write_tables_and_charts`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from sim.analysis.calibration import STATISTICS, load_spec
from sim.errors import ScenarioError
from sim.model import compile_scenario, run_replication
from sim.outputs.charts.data import DATA_SOURCES, ChartData
from sim.scenario import Scenario, with_changes
from sim.scenario.loader import read_yaml

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
    out = [
        Comparison(t.name, t.statistic, t.value, t.source, True, t.options)
        for stage in load_spec(targets_path).stages
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
    scenario: Scenario, comparisons: list[Comparison], replications: int = 100, seed: int = 2025
) -> pd.DataFrame:
    """Per comparison: published value, the model's mean, median and 90% range across
    replications, whether the published value lies in that range, and the source."""
    run = with_changes(scenario, {"horizon_years": HORIZON_YEARS})
    inputs = compile_scenario(run)
    results = [run_replication(inputs, seed, r) for r in range(replications)]
    rows = []
    for c in comparisons:
        per_replication = np.array([STATISTICS[c.statistic]([r], c.options) for r in results])
        per_replication = per_replication[~np.isnan(per_replication)]
        pooled = STATISTICS[c.statistic](results, c.options)
        q05, q50, q95 = np.quantile(per_replication, (0.05, 0.5, 0.95))
        rows.append({
            "quantity": c.name, "published": c.published, "model_mean": pooled,
            "model_q05": q05, "model_median": q50, "model_q95": q95,
            "published_in_model_range": bool(q05 <= c.published <= q95),
            "relative_difference": pooled / c.published - 1 if c.published else np.nan,
            "used_in_fit": c.used_in_fit, "source": c.source,
        })  # fmt: skip
    return pd.DataFrame(rows)


def validation_chart(table: pd.DataFrame, scenario: str, replications: int, seed: int) -> ChartData:
    ratios = table.assign(
        low=table["model_q05"] / table["published"],
        median=table["model_median"] / table["published"],
        high=table["model_q95"] / table["published"],
        mean=table["model_mean"] / table["published"],
    )[["quantity", "used_in_fit", "low", "median", "high", "mean", "published_in_model_range"]]
    held = table[~table["used_in_fit"]]
    fitted = table[table["used_in_fit"]]
    inside = int(held["published_in_model_range"].sum())
    fitted_inside = int(fitted["published_in_model_range"].sum())
    return ChartData(
        key="validation",
        kind="validation",
        title=(
            f"{fitted_inside} of {len(fitted)} published figures used in the fit, and {inside} of "
            f"{len(held)} held out of it, lie within the model's 90% range"
        ),
        caption=(
            "Each row is a published figure (at 1 on the scale). The bar is the model's 90% range "
            "across replications relative to it; the dot is the model's mean. Blue rows were used "
            "to fit the model; orange rows were held out."
        ),
        alt_text=(
            f"Chart of {len(table)} model-to-published ratios with 90% ranges; "
            f"{int(table['used_in_fit'].sum())} figures used in the fit and {len(held)} held out, "
            f"of which {inside} lie within the model's range."
        ),
        footnote=f"Scenario: {scenario}. {replications} replications, seed {seed}, "
        f"{HORIZON_YEARS}-year runs. {DATA_SOURCES}",
        table=ratios,
        y_label="Model relative to published (published = 1)",
    )
