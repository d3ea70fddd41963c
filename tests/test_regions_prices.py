"""Forecasts by NHS England region, and costs in a stated price base and in cash terms.

Regions: ``in_programme_by_region``, ``waiting_by_region`` and ``referrals_by_region`` add
up to the all-trusts figures in every replication and period (history runs with mergers
included), and a region's stock is the count a planner would make by hand from the spells.
Prices: the scenario's ``team.prices`` (base year and inflation) leaves ``cost`` in
base-year prices as it was and gives ``cost_cash`` the factor ``(1 + i) ** (y - base)`` in
every period of financial year y; the summary and the cost chart say the price base; the
region chart's words are computed from the numbers it draws.
"""

from __future__ import annotations

import datetime as dt
import math
import re

import numpy as np
import pytest

from sim import run_experiment
from sim.data import read_table, trust_register
from sim.errors import ScenarioError
from sim.experiment.layout import FREQUENCIES, build_layout, reduce_replication
from sim.model.replication import run_replication
from sim.outputs.charts import chart_set, draw
from sim.outputs.summary import format_summary
from sim.scenario import load_scenario, with_changes
from sim.vocabulary import METRICS, PAYERS, REGIONS
from tests.conftest import SCENARIOS

REGION_TOTALS = {
    "in_programme_by_region": "in_programme",
    "waiting_by_region": "waiting",
    "referrals_by_region": "referrals",
}
"""Each region metric and the all-trusts metric its regions add up to."""
REPLICATIONS = 6


@pytest.fixture(scope="module")
def results(short):
    return run_experiment([short], replications=REPLICATIONS, seed=5, jobs=1)


@pytest.fixture(scope="module")
def summary(results):
    return results.summary()


def _rows(results, name: str, metric: str, frequency: str, group: str) -> np.ndarray:
    """(replications, periods) values of one metric, frequency and group."""
    keys = results.keys[name]
    return results.values[name][:, keys.select(metric, frequency, group)]


# ---------------------------------------------------------------------------- regions


def test_regions_are_the_seven_nhs_england_regions_of_the_data():
    assert len(REGIONS) == 7
    assert {row["region"] for row in read_table("trusts_by_region_type.csv")} == set(REGIONS)
    assert {metric for metric in REGION_TOTALS} <= set(METRICS)
    register = trust_register()
    assert [REGIONS[i] for i in register.region_index] == list(register.region)


@pytest.mark.parametrize("scenario_file", ["baseline.yaml", "history/regimes_2013_2026.yaml"])
def test_regions_add_up_to_all_trusts_in_every_replication_and_period(short, scenario_file):
    """The history has more trusts than 2025/26 and mergers that end spells; the baseline
    over two years is the forecast."""
    scenario = (
        short if scenario_file == "baseline.yaml" else load_scenario(SCENARIOS / scenario_file)
    )
    results = run_experiment([scenario], replications=4, seed=9, jobs=1)
    name = scenario.name
    for metric, total in REGION_TOTALS.items():
        for frequency in FREQUENCIES:
            all_trusts = _rows(results, name, total, frequency, "all")
            by_region = [_rows(results, name, metric, frequency, r) for r in REGIONS]
            assert all_trusts.shape[1] > 0 and all(
                part.shape == all_trusts.shape for part in by_region
            )
            # stocks at period ends and flows are whole counts: exactly equal; time
            # averages over the horizon are sums of spells' overlaps: equal to rounding
            np.testing.assert_allclose(sum(by_region), all_trusts, rtol=1e-12, atol=1e-12)
    assert _rows(results, name, "referrals_by_region", "horizon", "London").sum() > 0


def _hand_count(spells, trusts: list[int], t: float) -> tuple[int, int]:
    """Trusts of ``trusts`` in the programme and waiting just before time ``t``, spell by
    spell: admitted before t and not yet gone (exit, or a merger, at or after t); referred
    before t and not yet admitted or off the list."""
    in_programme = waiting = 0
    for k in range(len(spells["trust"])):
        if int(spells["trust"][k]) not in trusts:
            continue
        admission, exit_, end = (float(spells[c][k]) for c in ("admission", "exit", "support_end"))
        gone = min(exit_ if not math.isnan(exit_) else math.inf,
                   end if spells["merged"][k] else math.inf)  # fmt: skip
        if admission < t and not gone < t:
            in_programme += 1
        left = end if spells["left_list"][k] else admission
        if float(spells["referral"][k]) < t and not (not math.isnan(left) and left < t):
            waiting += 1
    return in_programme, waiting


def test_a_regions_stock_is_the_hand_count_from_the_spells(baseline_inputs):
    layout = build_layout(baseline_inputs)
    region = REGIONS.index("Midlands")
    members = [
        i for i, r in enumerate(baseline_inputs.population.register.region) if r == "Midlands"
    ]
    checked = 0
    for replication in range(3):
        result = run_replication(baseline_inputs, 2025, replication)
        values = reduce_replication(result, layout)
        ends = layout.period_edges_weeks["quarter"][1:]
        for metric, index in (("in_programme_by_region", 0), ("waiting_by_region", 1)):
            mask = (layout.metric == metric) & (layout.frequency == "quarter")
            mask &= layout.group == REGIONS[region]
            counted = [_hand_count(result.spells, members, t)[index] for t in ends]
            assert values[mask].tolist() == counted
            checked += sum(counted)
    assert checked > 0  # the region has trusts in the programme or waiting to count


# ----------------------------------------------------------------------------- prices


def _with_prices(scenario, inflation: float, name: str, **changes):
    return with_changes(scenario, {
        "name": name, "team.prices": {"base_year": "2025/26", "inflation_per_year": inflation},
        **changes,
    })  # fmt: skip


def test_no_inflation_gives_the_costs_of_today_in_cash_terms_too(short):
    none = _with_prices(short, 0.0, "no_inflation")
    some = _with_prices(short, 0.04, "inflation")
    no_prices = with_changes(short, {"name": "no_prices", "team.prices": None})
    results = run_experiment([short, none, some, no_prices], replications=3, seed=4, jobs=1)
    for frequency in FREQUENCIES:
        for metric, groups in (("cost", ("total", "national")), ("cost_by_payer", PAYERS)):
            for group in groups:
                today = _rows(results, short.name, metric, frequency, group)
                for name in ("no_inflation", "inflation", "no_prices"):
                    # base-year prices do not move with inflation: identical, not just close
                    assert np.array_equal(_rows(results, name, metric, frequency, group), today)
                for name in ("no_inflation", "no_prices"):
                    cash = _rows(results, name, f"{metric}_cash", frequency, group)
                    assert np.array_equal(cash, today)
    assert no_prices.price_basis().base_year == "2026/27"  # the start date's year
    assert no_prices.price_basis().inflation_per_year == 0.0


def test_a_known_inflation_gives_its_factor_in_every_financial_year(short):
    """From 1 October 2026 (a part-year first), base 2025/26 at 10% a year: every month,
    quarter and year of 2026/27 carries 1.1, of 2027/28 1.21; January to March belong to
    the financial year that began the April before."""
    scenario = _with_prices(short, 0.10, "ten_percent", start_date="2026-10-01")
    results = run_experiment([scenario], replications=2, seed=6, jobs=1)
    keys = results.keys[scenario.name]
    checked = set()
    for frequency in ("month", "quarter", "year"):
        for group in ("total", "consultancy"):
            base = keys.select("cost", frequency, group)
            cash = keys.select("cost_cash", frequency, group)
            assert list(keys.period[base]) == list(keys.period[cash])
            for period, b, c in zip(keys.period[base], results.values[scenario.name][:, base].T,
                                    results.values[scenario.name][:, cash].T, strict=True):  # fmt: skip
                first = int(period[:4]) - (frequency == "month" and int(period[5:7]) < 4)
                assert c == pytest.approx(b * 1.1 ** (first - 2025), rel=1e-12)
                checked.add((period, first))
    assert ("2027-01", 2026) in checked and ("2027-04", 2027) in checked
    assert ("2026/27 Q4", 2026) in checked and ("2028/29", 2028) in checked
    for metric, group in (("cost", "total"), ("cost_by_payer", "trusts")):
        years = _rows(results, scenario.name, f"{metric}_cash", "year", group)
        horizon = _rows(results, scenario.name, f"{metric}_cash", "horizon", group)
        np.testing.assert_allclose(horizon[:, 0], years.sum(axis=1), rtol=1e-12)
        assert (horizon > _rows(results, scenario.name, metric, "horizon", group)).all()


def test_the_price_base_must_be_a_financial_year(short):
    for bad, words in (("2025/27", "is not a financial year"), ("1850/51", "outside the years"),
                       ("2025-26", "should match pattern")):  # fmt: skip
        with pytest.raises(ScenarioError, match=words):
            _with_prices(short, 0.02, "bad", **{"team.prices.base_year": bad})
    with pytest.raises(ScenarioError, match="less than or equal to 0.5"):
        _with_prices(short, 0.8, "bad")


def test_the_baseline_states_its_price_base_with_a_ranged_assumption(baseline):
    prices = baseline.price_basis()
    assert (prices.base_year, prices.inflation_per_year) == ("2025/26", 0.025)
    note = baseline.notes["team.prices.inflation_per_year"]
    assert note.assumption and note.range == [0.01, 0.04]


def test_the_summary_states_the_price_base_and_costs_by_payer_and_region(results, summary, short):
    text = format_summary(summary, REPLICATIONS, 5, prices={short.name: short.price_basis()})
    assert "cost, £m, 2025/26 prices" in text
    assert "cash terms (+2.5% a year from 2025/26)" in text
    horizon = summary[summary["frequency"] == "horizon"]
    for payer, words in (("trusts", "trusts"), ("nhs_england", "NHS England")):
        line = next(ln for ln in text.splitlines() if f"of which paid by {words} " in ln)
        for metric in ("cost_by_payer", "cost_by_payer_cash"):
            row = horizon[(horizon["metric"] == metric) & (horizon["group"] == payer)].iloc[0]
            assert f"{row['q50'] / 1e6:.1f} ({row['q05'] / 1e6:.1f}-{row['q95'] / 1e6:.1f})" in line
    last = summary[(summary["frequency"] == "year")]["period"].iloc[-1]
    assert f"trusts by NHS England region at the end of {last}" in text
    for region in REGIONS:
        line = next(ln for ln in text.splitlines() if ln.strip().startswith(region))
        row = summary[(summary["metric"] == "waiting_by_region") & (summary["group"] == region)
                      & (summary["period"] == last)].iloc[0]  # fmt: skip
        assert line.rstrip().endswith(f"{row['q50']:.0f} ({row['q05']:.0f}-{row['q95']:.0f})")


# ----------------------------------------------------------------------------- charts


@pytest.fixture(scope="module")
def charts(results):
    return {chart.key: chart for chart in chart_set(results)}


def test_the_cost_chart_states_the_price_base_and_draws_ranges(charts):
    chart = charts["baseline-cost"]
    assert "2025/26 prices" in chart.title and "2025/26 prices" in chart.y_label
    assert "2.5% a year from 2025/26" in chart.caption
    total = chart.table[chart.table["split"] == "total"]
    assert ((total["q05"] <= total["median"]) & (total["median"] <= total["q95"])).all()
    assert (total["q25"] >= total["q05"]).all() and (total["q75"] <= total["q95"]).all()
    widest = (total["q95"] - total["q05"]).max()
    assert f"at most £{widest:.2f}m wide" in chart.caption
    cash = chart.table[chart.table["split"] == "cash"].set_index("period")["mean_cost_millions"]
    years = chart.meta["title_years"]
    assert f"£{cash[years].mean():.1f}m a year over" in chart.caption
    left, right = draw(chart).axes[:2]
    assert len(left.collections) >= 2 and len(right.collections) >= 2  # the 50% and 90% lines


def test_the_region_chart_title_is_computed_from_the_data_drawn(charts, results, summary):
    chart = charts["baseline-regions"]
    table = chart.table
    assert list(table["region"].unique()) == list(REGIONS)
    numbers = [float(n) for n in re.findall(r"(\d+\.\d)", chart.title)]
    spans = []
    for measure in ("in_programme", "waiting"):
        medians = table.loc[table["measure"] == measure, "median"]
        spans += [round(medians.min(), 1), round(medians.max(), 1)]
    assert numbers == spans
    assert chart.title.startswith("Regions have ")
    waiting = table[table["measure"] == "waiting"]
    top = waiting.loc[waiting["median"].round(1) == waiting["median"].round(1).max(), "region"]
    assert (f"{top.iloc[0]} has the longest waiting list" in chart.caption) == (len(top) == 1)
    # the caption's totals: the regions' means add up to the all-trusts means
    for measure, metric in (("in_programme", "in_programme"), ("waiting", "waiting")):
        total = summary[(summary["metric"] == metric) & (summary["frequency"] == "horizon")
                        & (summary["group"] == "all")]["mean"].iloc[0]  # fmt: skip
        summed = table.loc[table["measure"] == measure, "mean"].sum()
        assert summed == pytest.approx(total, rel=1e-9)
        assert f"{summed:.1f}" in chart.caption
    subtitle = chart.subtitle
    register = trust_register()
    assert (
        f"the {register.n_trusts} trusts of the register in the 7 NHS England regions" in subtitle
    )
    scenario = results.scenarios["baseline"]
    last_day = scenario.end_date - dt.timedelta(days=1)  # two years of 365.25 days
    assert f"averaged over time from 1 Apr 2026 to {last_day.day} {last_day:%b %Y}." in subtitle
    assert table.drop_duplicates("region")["trusts"].sum() == register.n_trusts
    figure = draw(chart)
    labels = [t.get_text() for t in figure.axes[0].get_yticklabels()]
    assert sorted(label.split(" (")[0] for label in labels) == sorted(REGIONS)


def test_charts_of_results_written_before_regions_and_cash_costs_still_draw(results, summary):
    """A results folder from before these metrics has neither: no region chart, and a cost
    chart without the cash-terms diamonds."""
    from sim.outputs.charts.forecast import cost
    from sim.outputs.charts.regions import regions

    older = summary[~summary["metric"].isin([*REGION_TOTALS, "cost_cash", "cost_by_payer_cash"])]
    assert regions(results, older, "baseline") is None
    chart = cost(results, older, "baseline")
    assert "cash terms" not in chart.caption and "  " not in chart.caption
    assert chart.meta["inflation"] == 0.0
    assert draw(chart).axes
