"""The what-if engine: run a what-if beside its base scenario, with a cache, and prepare
the headline table and the charts' data (drawn only when asked for).

* :class:`ResultCache` keeps recent results keyed by the scenario's content hash
  (:func:`sim.scenario.scenario_hash`), the replications and the seed, so going back to a
  combination already seen is instant.
* :class:`WhatIf` runs a what-if and the base scenario under the same random numbers (so
  their difference is paired) and returns an :class:`Outcome`: the results, the headline
  differences and the charts.

An update's work besides the simulation is kept small: a chart's data is prepared, and
the chart drawn (:mod:`sim.apps.whatif.drawing`), only when asked for (:class:`Charts`);
its statistics are taken only for the rows it draws (:data:`CHART_ROWS`,
:func:`summary_of_rows`: the same figures as the whole summary's); the headline table pairs
only the whole-forecast rows; and a scenario is built once for each combination of settings.

No widgets here (ipywidgets is imported only by :mod:`sim.apps.whatif.panel`), and no
statistics of its own: differences come from :func:`sim.analysis.compare.paired_differences`.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from sim.analysis.compare import paired_differences
from sim.apps.whatif.settings import WHAT_IF_NAME, Settings, WhatIfError, build_scenario
from sim.experiment.pool import WorkerPool
from sim.experiment.runner import DEFAULT_SEED, run_experiment
from sim.experiment.settings import RunSettings, resolve_jobs
from sim.results import KEY_COLUMNS, Results, RowKeys
from sim.scenario import Scenario, scenario_hash
from sim.vocabulary import HEADLINES, SOURCES, Headline

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

CHART_ROWS = {
    "caseload": (("in_programme", "quarter", "all"),),
    "waiting": (("waiting", "quarter", "all"),),
    "team": (
        *(("demand_hours", "quarter", source) for source in SOURCES),
        *(("capacity_hours", "quarter", source) for source in SOURCES),
    ),
    "comparison": (),  # paired differences of the whole-forecast rows, no summary
}
"""By key of :data:`CHARTS`, (metric, frequency, group) of the summary rows the chart
draws: the only rows the what-if summarises for it. ``tests/test_whatif.py`` checks that
the charts are the same as from the whole summary."""


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
        key: tuple[str, int, int] | None = None,
    ) -> tuple[Results, bool]:
        """Results of ``scenario``, run now or from the cache; and whether they were cached.
        ``pool``: worker processes kept alive between runs (the same results). ``key``:
        :meth:`key` of these arguments, if already known (saves hashing the scenario)."""
        key = key or self.key(scenario, replications, seed)
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
    """Wall time to build the scenario, run (or fetch) it and prepare the headline table
    (a chart's data is prepared when it is first drawn)."""
    error: str | None = None
    charts: Mapping = field(default_factory=dict)
    """Chart data (:class:`sim.outputs.charts.ChartData`) by key of :data:`CHARTS`
    (:class:`Charts`: each prepared when first asked for)."""
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
            from sim.apps.whatif.drawing import png

            self._pngs[key, dpi] = png(self.figure(key), dpi)
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
        self._prepared: OrderedDict[tuple[str, int, int], tuple[Charts, pd.DataFrame, dict]] = (
            OrderedDict()
        )
        """Chart data, headline table and drawn charts of recent what-ifs, by cache key."""
        self._base_hash: tuple[Scenario, str] | None = None
        """The base scenario and its content hash (hashed once)."""
        self._scenarios: OrderedDict[
            tuple[str, str], tuple[Scenario, Scenario | None, Scenario, str]
        ] = OrderedDict()
        """Recent what-if scenarios and their content hashes, by ``repr`` of their settings
        and name, with the base and thresholds they were built from: each built, validated
        and hashed once (scenarios are frozen)."""

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
        return self._built(settings)[0]

    def _built(self, settings: Settings) -> tuple[Scenario, tuple[str, int, int]]:
        """The what-if scenario for ``settings`` and its cache key, built and validated once
        for each combination of settings, base scenario and thresholds (the settings' repr
        tells 20 from 20.0 and a date from a datetime, so equal keys build equal scenarios).
        """
        label = (repr(settings), self.name)
        kept = self._scenarios.get(label)
        if kept is not None and kept[0] is self.base and kept[1] is self.thresholds:
            self._scenarios.move_to_end(label)
            scenario, digest = kept[2], kept[3]
        else:
            scenario = build_scenario(self.base, settings, self.thresholds, name=self.name)
            digest = scenario_hash(scenario)
            self._scenarios[label] = (self.base, self.thresholds, scenario, digest)
            while len(self._scenarios) > self.cache.maxsize:
                self._scenarios.popitem(last=False)
        return scenario, (digest, self.replications, self.seed)

    def run(self, settings: Settings) -> tuple[Results, bool]:
        """Results of the base scenario and the what-if together, and whether the what-if
        came from the cache."""
        return self._run(*self._built(settings))

    def _run(self, scenario: Scenario, key: tuple[str, int, int]) -> tuple[Results, bool]:
        run = (self.replications, self.seed, self.jobs, self.pool)
        if self._base_hash is None or self._base_hash[0] is not self.base:
            self._base_hash = (self.base, scenario_hash(self.base))
        base_key = (self._base_hash[1], self.replications, self.seed)
        base, _ = self.cache.get(self.base, *run, key=base_key)
        what_if, cached = self.cache.get(scenario, *run, key=key)
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
            scenario, key = self._built(settings)
        except WhatIfError as exc:
            return Outcome(settings=settings, error=str(exc), seconds=time.perf_counter() - clock)
        results, cached = self._run(scenario, key)
        prepared = self._prepared.get(key) if cached else None
        if prepared is None:
            prepared = (
                Charts(results, self.base.name, scenario.name),
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


class Charts(Mapping):
    """The what-if's chart data (:class:`sim.outputs.charts.ChartData`) by key of
    :data:`CHARTS`, each prepared when first asked for and then kept: the panel draws only
    the open tab, so an update prepares only its chart.

    A chart's statistics are taken for the rows it draws alone (:data:`CHART_ROWS`): the
    same figures as from the whole summary, a fraction of the work.
    """

    def __init__(self, results: Results, base: str, what_if: str):
        self.results, self.base, self.what_if = results, base, what_if
        self._charts: dict = {}
        self._lock = threading.Lock()

    def __getitem__(self, key: str):
        if key not in CHARTS:
            raise KeyError(key)
        with self._lock:
            if key not in self._charts:
                self._charts[key] = self._prepare(key)
        return self._charts[key]

    def __iter__(self) -> Iterator[str]:
        return iter(CHARTS)

    def __len__(self) -> int:
        return len(CHARTS)

    def __contains__(self, key: object) -> bool:
        return key in CHARTS

    def prepared(self) -> list[str]:
        """The charts prepared so far."""
        return [key for key in CHARTS if key in self._charts]

    def _prepare(self, key: str):
        from sim.outputs.charts import caseload_fan, comparison, team_demand, waiting_fan

        if key == "comparison":
            return comparison(whole_horizon(self.results), self.base)
        build = {"caseload": caseload_fan, "waiting": waiting_fan, "team": team_demand}[key]
        summary = summary_of_rows(self.results, CHART_ROWS[key], [self.what_if])
        return build(self.results, summary, self.what_if)


def chart_data(results: Results, base: str, what_if: str) -> dict:
    """The what-if's chart data by key of :data:`CHARTS`, all prepared now (no drawing);
    :class:`Charts` prepares each when first asked for."""
    return dict(Charts(results, base, what_if))


def rows_mask(keys: RowKeys, rows: Iterable[tuple[str, str, str]]) -> np.ndarray:
    """Boolean mask of the rows of ``keys`` that are among ``rows`` ((metric, frequency,
    group) each)."""
    mask = np.zeros(len(keys), dtype=bool)
    for metric, frequency, group in rows:
        mask |= keys.select(metric, frequency, group)
    return mask


def select_rows(
    results: Results,
    masks: Mapping[str, np.ndarray],
    names: Sequence[str] | None = None,
    contiguous: bool = False,
) -> Results:
    """The same results with only the rows ``masks[name]`` of each scenario (of ``names``,
    by default all), in their order.

    ``contiguous``: the values in C order, as the whole matrix's are (numpy gives the
    columns picked by a mask in Fortran order, and sums each such column pairwise rather
    than a replication at a time, which can differ in the last digits).
    """
    names = list(results.values) if names is None else list(names)
    keys, values = {}, {}
    for name in names:
        row_keys, mask = results.keys[name], masks[name]
        keys[name] = RowKeys(*(getattr(row_keys, c)[mask] for c in KEY_COLUMNS))
        picked = results.values[name][:, mask]
        values[name] = np.ascontiguousarray(picked) if contiguous else picked
    scenarios = {name: results.scenarios[name] for name in names}
    return Results(scenarios=scenarios, keys=keys, values=values, manifest=results.manifest)


def summary_of_rows(
    results: Results,
    rows: Iterable[tuple[str, str, str]],
    names: Sequence[str] | None = None,
) -> pd.DataFrame:
    """The rows of ``results.summary()`` for ``rows`` ((metric, frequency, group) each) of
    the scenarios ``names`` (by default all): the same table, row for row and figure for
    figure, with the statistics taken for those rows alone.

    Every statistic is taken column by column, so a few columns give the figures of the
    whole matrix to the last digit, provided numpy adds them up in the same order: the
    columns are taken in C order, as the whole matrix's, and since numpy sums a lone column
    in another order (see :func:`sim.results.statistics.column_blocks`), a lone row is
    summarised beside a neighbour, which is then left out.
    """
    names = list(results.values) if names is None else list(names)
    rows = list(rows)
    masks, extra = {}, []
    offset = 0
    for name in names:
        mask = rows_mask(results.keys[name], rows)
        chosen = np.flatnonzero(mask)
        if len(chosen) == 0 and len(mask) > 0:  # no rows: one, left out, gives the types
            mask[0] = True
            extra.append(offset)
        elif len(chosen) == 1 and len(mask) > 1:
            neighbour = chosen[0] + 1 if chosen[0] + 1 < len(mask) else chosen[0] - 1
            mask[neighbour] = True
            extra.append(offset + int(neighbour > chosen[0]))
        masks[name] = mask
        offset += int(mask.sum())
    summary = select_rows(results, masks, names, contiguous=True).summary()
    if extra:
        summary = summary.drop(index=extra).reset_index(drop=True)
    return summary


def whole_horizon(results: Results) -> Results:
    """The same results with only the whole-forecast rows (``frequency == "horizon"``).

    The comparison chart and the headline table use only these rows; pairing a few dozen
    rows rather than thousands keeps a what-if update quick. (The values as numpy picks
    them, in Fortran order: the figures paired from them are those the what-if has always
    shown.)
    """
    masks = {name: keys.frequency == "horizon" for name, keys in results.keys.items()}
    return select_rows(results, masks)


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
