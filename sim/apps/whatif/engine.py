"""The what-if engine: run a what-if beside its base scenario, with a cache, and prepare
the headline table and the charts' data (drawn only when asked for).

* :class:`ResultCache` keeps recent results keyed by the scenario's content hash
  (:func:`sim.scenario.scenario_hash`), the replications and the seed, so going back to a
  combination already seen is instant.
* :class:`WhatIf` runs a what-if and the base scenario under the same random numbers (so
  their difference is paired) and returns an :class:`Outcome`: the results, the headline
  differences and the charts.

No widgets here (ipywidgets is imported only by :mod:`sim.apps.whatif.panel`), and no
statistics of its own: differences come from :func:`sim.analysis.compare.paired_differences`.
"""

from __future__ import annotations

import io
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from sim.analysis.compare import paired_differences
from sim.apps.whatif.settings import WHAT_IF_NAME, Settings, WhatIfError, build_scenario
from sim.experiment.pool import WorkerPool
from sim.experiment.runner import DEFAULT_SEED, run_experiment
from sim.experiment.settings import RunSettings, resolve_jobs
from sim.results import KEY_COLUMNS, Results, RowKeys
from sim.scenario import Scenario, scenario_hash
from sim.vocabulary import HEADLINES, Headline

DEFAULT_REPLICATIONS = 50
"""Replications per what-if: enough for stable medians and bands at a 5-year horizon,
few enough to re-run in well under a second on two cores."""

CHARTS = {
    "caseload": "Trusts in the programme",
    "waiting": "Waiting list",
    "team": "Demand on each source of support",
    "comparison": "Difference from the base scenario",
}
"""The what-if's charts, by key, with their tab titles."""


# ---------------------------------------------------------------------------- cache

Runner = Callable[..., Results]


class ResultCache:
    """Recent results, keyed by scenario content hash, replications and seed.

    Results do not depend on the number of workers, so ``jobs`` is not part of the key.
    The least recently used entry is dropped beyond ``maxsize``.
    """

    def __init__(self, maxsize: int = 32, runner: Runner = run_experiment):
        if maxsize < 1:
            raise ValueError(f"maxsize must be at least 1, got {maxsize}")
        self.maxsize = maxsize
        self.runner = runner
        self.runs = 0
        """How many times the runner was called (cache misses)."""
        self._entries: OrderedDict[tuple[str, int, int], Results] = OrderedDict()

    @staticmethod
    def key(scenario: Scenario, replications: int, seed: int) -> tuple[str, int, int]:
        return scenario_hash(scenario), int(replications), int(seed)

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: tuple[str, int, int]) -> bool:
        return key in self._entries

    def get(
        self,
        scenario: Scenario,
        replications: int,
        seed: int,
        jobs: int | str = "auto",
        pool: WorkerPool | None = None,
    ) -> tuple[Results, bool]:
        """Results of ``scenario``, run now or from the cache; and whether they were cached.
        ``pool``: worker processes kept alive between runs (the same results)."""
        key = self.key(scenario, replications, seed)
        if key in self._entries:
            self._entries.move_to_end(key)
            return self._entries[key], True
        # the assumptions held at their values: a what-if shows the effect of its change
        # alone (a slider's value inside its range would otherwise be drawn again)
        settings = RunSettings(replications, seed, jobs=jobs, pool=pool, uncertainty="noise")
        results = self.runner([scenario], settings=settings)
        self.runs += 1
        self._entries[key] = results
        while len(self._entries) > self.maxsize:
            self._entries.popitem(last=False)
        return results, False

    def clear(self) -> None:
        self._entries.clear()


# --------------------------------------------------------------------------- outcome


@dataclass
class Outcome:
    """One what-if update: the scenario, results and charts, or the reason it could not run.

    ``results`` holds the base scenario and the what-if, run under the same random
    numbers. Charts are drawn only when asked for (:meth:`figure`, :meth:`png`).
    """

    settings: Settings
    scenario: Scenario | None = None
    results: Results | None = None
    cached: bool = False
    seconds: float = 0.0
    """Wall time to build the scenario, run (or fetch) and prepare the charts' data."""
    error: str | None = None
    charts: dict = field(default_factory=dict)
    """Chart data (:class:`sim.outputs.charts.ChartData`) by key of :data:`CHARTS`."""
    headline: pd.DataFrame | None = None
    _pngs: dict = field(default_factory=dict, repr=False)
    """Drawn charts, shared by every outcome of the same what-if."""

    @property
    def ok(self) -> bool:
        return self.error is None

    def figure(self, key: str):
        """A matplotlib Figure of one chart (see :data:`CHARTS`)."""
        from sim.outputs.charts import draw

        if not self.ok:
            raise WhatIfError(f"nothing to draw: {self.error}")
        if key not in self.charts:
            raise KeyError(f"no chart {key!r}; have {', '.join(self.charts)}")
        return draw(self.charts[key])

    def png(self, key: str, dpi: int = 144) -> bytes:
        """One chart as PNG bytes (drawn once per outcome, then kept), trimmed to what is
        drawn (as a notebook shows a figure: a legend or caption wider than the figure is
        kept, not cut off)."""
        if (key, dpi) not in self._pngs:
            buffer = io.BytesIO()
            self.figure(key).savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
            self._pngs[key, dpi] = buffer.getvalue()
        return self._pngs[key, dpi]

    def status(self) -> str:
        """One line for the analyst: what ran and how long it took, or what is wrong."""
        if not self.ok:
            return f"Not run: {self.error}"
        how = "from the cache" if self.cached else f"{self.results.replications} replications run"
        return f"{self.scenario.description} ({how} in {self.seconds:.2f} s)"


# ----------------------------------------------------------------------------- what-if


class WhatIf:
    """Run what-ifs of a base scenario quickly, with a cache.

    Parameters
    ----------
    base
        The scenario the what-if starts from (usually the baseline).
    replications, seed, jobs
        Run settings; the base scenario and every what-if use the same ones, so their
        differences are paired (common random numbers).
    thresholds
        A scenario with fixed-threshold segmentation rules, offered as the alternative
        entry rule (see :func:`build_scenario`).
    cache
        A shared :class:`ResultCache` (a new one by default).

    With more than one worker, the workers are started at the first update and kept
    until :meth:`close` (or the end of a with-block, or the interpreter's exit), so an
    update does not wait for new processes: ``what_if.pool`` (None with one worker). The
    results are the same as a serial run's.
    """

    def __init__(
        self,
        base: Scenario,
        replications: int = DEFAULT_REPLICATIONS,
        seed: int = DEFAULT_SEED,
        jobs: int | str = "auto",
        thresholds: Scenario | None = None,
        cache: ResultCache | None = None,
    ):
        if replications < 2:
            raise ValueError(f"replications must be at least 2 for intervals, got {replications}")
        self.base = base
        self.replications = int(replications)
        self.seed = int(seed)
        self.jobs = jobs
        self.thresholds = thresholds
        self.cache = cache if cache is not None else ResultCache()
        self.pool = WorkerPool(jobs) if resolve_jobs(jobs) > 1 else None
        self.defaults = Settings.from_scenario(base)
        self.name = WHAT_IF_NAME if base.name != WHAT_IF_NAME else f"{WHAT_IF_NAME}_variant"
        self._prepared: OrderedDict[tuple[str, int, int], tuple[dict, pd.DataFrame, dict]] = (
            OrderedDict()
        )
        """Chart data, headline table and drawn charts of recent what-ifs, by cache key."""

    def __enter__(self) -> WhatIf:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Stop the worker processes kept for updates (a later update starts new ones)."""
        if self.pool is not None:
            self.pool.close()
            self.pool = WorkerPool(self.jobs)  # started only if another update comes

    def scenario(self, settings: Settings) -> Scenario:
        """The what-if scenario for ``settings`` (raises :class:`WhatIfError` if invalid)."""
        return build_scenario(self.base, settings, self.thresholds, name=self.name)

    def run(self, settings: Settings) -> tuple[Results, bool]:
        """Results of the base scenario and the what-if together, and whether the what-if
        came from the cache."""
        scenario = self.scenario(settings)
        run = (self.replications, self.seed, self.jobs, self.pool)
        base, _ = self.cache.get(self.base, *run)
        what_if, cached = self.cache.get(scenario, *run)
        return combine(base, what_if), cached

    def update(self, settings: Settings | None = None, **changes: Any) -> Outcome:
        """Build, run (or fetch) and prepare the charts for one what-if.

        ``settings`` default to the base scenario's; keyword arguments change single
        settings (``update(cap=20)``). An invalid combination does not raise: the outcome
        carries the reason in ``error``.
        """
        clock = time.perf_counter()
        settings = settings or self.defaults
        try:
            settings = settings.replace(**changes) if changes else settings
            scenario = self.scenario(settings)
        except WhatIfError as exc:
            return Outcome(settings=settings, error=str(exc), seconds=time.perf_counter() - clock)
        results, cached = self.run(settings)
        key = ResultCache.key(scenario, self.replications, self.seed)
        prepared = self._prepared.get(key) if cached else None
        if prepared is None:
            prepared = (
                chart_data(results, self.base.name, scenario.name),
                headline(results, self.base.name, scenario.name),
                {},
            )
            self._prepared[key] = prepared
            while len(self._prepared) > self.cache.maxsize:
                self._prepared.popitem(last=False)
        else:
            self._prepared.move_to_end(key)
        charts, table, pngs = prepared
        outcome = Outcome(
            settings=settings,
            scenario=scenario,
            results=results,
            cached=cached,
            charts=charts,
            headline=table,
            _pngs=pngs,
        )
        outcome.seconds = time.perf_counter() - clock
        return outcome


def combine(*parts: Results) -> Results:
    """Put results of separate runs (same replications and seed) into one Results.

    The manifest is the last part's. Raises ValueError if the runs are not comparable.
    """
    reps = {p.replications for p in parts}
    seeds = {p.manifest.get("seed") for p in parts}
    if len(reps) != 1 or len(seeds) != 1:
        raise ValueError(
            f"results to combine need the same replications and seed, got {reps} and {seeds}"
        )
    scenarios, keys, values = {}, {}, {}
    for part in parts:
        scenarios.update(part.scenarios)
        keys.update(part.keys)
        values.update(part.values)
    manifest = dict(parts[-1].manifest)
    manifest["scenarios"] = {
        k: v for p in parts for k, v in p.manifest.get("scenarios", {}).items()
    }
    return Results(scenarios=scenarios, keys=keys, values=values, manifest=manifest)


def chart_data(results: Results, base: str, what_if: str) -> dict:
    """The what-if's chart data by key of :data:`CHARTS` (no drawing)."""
    from sim.outputs.charts import caseload_fan, comparison, team_demand, waiting_fan

    summary = Results(
        scenarios={what_if: results.scenarios[what_if]},
        keys={what_if: results.keys[what_if]},
        values={what_if: results.values[what_if]},
        manifest=results.manifest,
    ).summary()
    return {
        "caseload": caseload_fan(results, summary, what_if),
        "waiting": waiting_fan(results, summary, what_if),
        "team": team_demand(results, summary, what_if),
        "comparison": comparison(whole_horizon(results), base),
    }


def whole_horizon(results: Results) -> Results:
    """The same results with only the whole-forecast rows (``frequency == "horizon"``).

    The comparison chart and the headline table use only these rows; pairing a few dozen
    rows rather than thousands keeps a what-if update quick.
    """
    keys, values = {}, {}
    for name, row_keys in results.keys.items():
        mask = row_keys.frequency == "horizon"
        keys[name] = RowKeys(*(getattr(row_keys, c)[mask] for c in KEY_COLUMNS))
        values[name] = results.values[name][:, mask]
    return Results(scenarios=results.scenarios, keys=keys, values=values, manifest=results.manifest)


def measure_label(figure: Headline) -> str:
    """The headline table's label: the figure's own, with its unit added when the label
    does not already say what it measures in brackets ('National team utilisation (%)')."""
    return figure.label if "(" in figure.label else f"{figure.label} ({figure.display_unit})"


def headline(results: Results, base: str, what_if: str) -> pd.DataFrame:
    """Whole-horizon headline figures: base, what-if, paired difference and its 95% CI."""
    differences = paired_differences(whole_horizon(results), base)
    horizon = differences[
        (differences["frequency"] == "horizon") & (differences["scenario"] == what_if)
    ]
    rows = []
    for figure in HEADLINES:
        scale = figure.scale
        row = horizon[(horizon["metric"] == figure.metric) & (horizon["group"] == figure.group)]
        if row.empty:
            continue
        row = row.iloc[0]
        rows.append(
            {
                "measure": measure_label(figure),
                base: row["baseline_mean"] * scale,
                what_if: (row["baseline_mean"] + row["mean_difference"]) * scale,
                "difference": row["mean_difference"] * scale,
                "95% CI low": row["ci_low"] * scale,
                "95% CI high": row["ci_high"] * scale,
            }
        )
    return pd.DataFrame(rows).set_index("measure")
