"""Chart words against chart data (issue 12, item 3).

Every number in a chart's title, caption or alt text must come from the data the chart
draws, by the run summary's definitions (:mod:`sim.outputs.summary`); stocks are drawn at the
end of their period on a date axis; the national team's cut is a step at its date.
"""

from __future__ import annotations

import datetime as dt
import re

import numpy as np
import pytest
from matplotlib import dates as mdates
from matplotlib.patches import StepPatch

from sim import run_experiment
from sim.data import read_table
from sim.outputs.charts import chart_set, draw, waiting_fan
from sim.outputs.charts import data as chart_data
from sim.outputs.summary import format_summary
from sim.scenario import with_changes

REPLICATIONS = 12


@pytest.fixture(scope="module")
def results(baseline):
    short = with_changes(baseline, {"horizon_years": 3})
    cap_20 = with_changes(short, {"name": "cap_20", "programme.cap": 20})
    return run_experiment([short, cap_20], replications=REPLICATIONS, seed=3)


@pytest.fixture(scope="module")
def charts(results):
    return {chart.key: chart for chart in chart_set(results)}


@pytest.fixture(scope="module")
def summary(results):
    return results.summary()


def _percents(text: str) -> list[int]:
    return [int(p) for p in re.findall(r"(\d+)%", text)]


def _summary_share(results, summary, scenario: str, label: str) -> int:
    """The run summary's "<label>: in X% of replications" (0 when it says it never happens)."""
    text = format_summary(
        summary[summary["scenario"] == scenario],
        results.replications,
        3,
        {scenario: results.scenarios[scenario].start_date},
    )
    line = next(ln for ln in text.splitlines() if ln.strip().startswith(label))
    found = re.search(r"in (\d+)% of replications", line)
    return int(found.group(1)) if found else 0


def _day_number(date: dt.date) -> float:
    return mdates.date2num(np.datetime64(date, "D"))


# ---------------------------------------------------------------------------- dates


def test_period_dates_are_the_first_and_last_day_of_the_period():
    period_dates = chart_data.period_dates
    assert period_dates("2027/28 Q1") == (dt.date(2027, 4, 1), dt.date(2027, 6, 30))
    assert period_dates("2027/28 Q4") == (dt.date(2028, 1, 1), dt.date(2028, 3, 31))
    assert period_dates("2027/28") == (dt.date(2027, 4, 1), dt.date(2028, 3, 31))
    assert period_dates("2027-05") == (dt.date(2027, 5, 1), dt.date(2027, 5, 31))
    # clipped to a forecast from 15 May 2027 to 1 June 2027 (exclusive)
    assert period_dates("2027/28 Q1", dt.date(2027, 5, 15), dt.date(2027, 6, 1)) == (
        dt.date(2027, 5, 15),
        dt.date(2027, 5, 31),
    )
    with pytest.raises(ValueError, match="not a month, quarter or year"):
        period_dates("Q1 of next year")


def test_stocks_are_drawn_at_the_end_of_their_quarter_on_a_date_axis(charts):
    chart = charts["baseline-caseload"]
    first = chart.table.iloc[0]
    assert first["period"] == "2026/27 Q1"
    assert first["period_end"] == dt.date(2026, 6, 30)
    ax = draw(chart).axes[0]
    median = next(line for line in ax.get_lines() if line.get_label().startswith("Median"))
    assert median.get_xdata()[0] == pytest.approx(_day_number(dt.date(2026, 6, 30)))
    labels = [t.get_text() for t in ax.get_xticklabels() if t.get_text()]
    assert labels and all(label.startswith("1 Apr ") for label in labels)
    for tick, label in zip(ax.get_xticks(), ax.get_xticklabels(), strict=True):
        if label.get_text():  # a labelled tick sits on the 1 April it names
            assert tick == pytest.approx(_day_number(dt.date(int(label.get_text()[-4:]), 4, 1)))


# ------------------------------------------------------------------------- caseload


def test_caseload_title_counts_quarters_at_the_cap_from_the_medians_drawn(charts, results):
    for name in results.scenarios:
        chart = charts[f"{name}-caseload"]
        medians, cap = chart.table["median"].to_numpy(), chart.meta["cap"]
        at_cap = int(np.sum(medians >= cap))
        if at_cap == len(medians):
            assert "every quarter end" in chart.title
        elif at_cap:
            assert f"at {at_cap} of {len(medians)} quarter ends" in chart.title
        else:
            low, high = int(np.floor(medians.min())), int(np.ceil(medians.max()))
            assert f"{low} to {high} trusts" in chart.title
        # the statistic, coverage and period are in the subtitle (ONS and GOV.UK guidance)
        assert chart.subtitle.startswith("Trusts in the programme at the end of each quarter")
        assert f"of {REPLICATIONS} replications" in chart.subtitle and "Median" in chart.subtitle
        assert "30 Jun 2026 to 31 Mar 2029" in chart.subtitle
        last = chart.table.iloc[-1]
        assert f"{last['median']:.0f} on 31 Mar 2029" in chart.alt_text


def test_caseload_median_is_drawn_over_the_cap_and_the_published_points_fit(charts):
    chart = charts["baseline-caseload"]
    ax = draw(chart).axes[0]
    lines = {line.get_label(): line for line in ax.get_lines()}
    median = next(line for label, line in lines.items() if label.startswith("Median"))
    cap = next(line for label, line in lines.items() if label.startswith("Cap"))
    assert median.get_zorder() > cap.get_zorder()
    assert median.get_linewidth() > cap.get_linewidth()
    published = [line for label, line in lines.items() if label.startswith("Published")]
    assert published
    bottom, top = ax.get_ylim()
    heights = [y for line in published for y in line.get_ydata()]
    highest = max(chart.meta["cap"], chart.table["q90"].max(), *heights)
    assert top >= highest * 1.1  # headroom above the cap and the published markers
    left, right = ax.get_xlim()
    assert all(left < x < right for line in published for x in line.get_xdata())


# ---------------------------------------------------------------- graded fans, history


def _band_limits(collection, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The lowest and highest y a filled band covers at each of ``x`` (its polygon's
    vertices there)."""
    vertices = collection.get_paths()[0].vertices
    at = [vertices[np.isclose(vertices[:, 0], value), 1] for value in x]
    return np.array([v.min() for v in at]), np.array([v.max() for v in at])


@pytest.mark.parametrize("which", ["caseload", "waiting-list"])
def test_fan_bands_are_graded_from_ten_to_ninety_and_nest_around_the_median(charts, which):
    chart = charts[f"baseline-{which}"]
    ax = draw(chart).axes[0]
    x = np.array([_day_number(d) for d in chart.table["period_end"]])
    bands = [c for c in ax.collections if c.get_label().startswith("Middle")]
    assert [b.get_label().split(" (")[0] for b in bands] == [
        "Middle 80%", "Middle 60%", "Middle 40%", "Middle 20%"]  # fmt: skip
    outer_low, outer_high = np.full(len(x), -np.inf), np.full(len(x), np.inf)
    lightness = []
    for band, (low, high) in zip(bands, chart_data.FAN_BANDS, strict=True):
        drawn_low, drawn_high = _band_limits(band, x)
        np.testing.assert_allclose(drawn_low, chart.table[f"q{low:02d}"])
        np.testing.assert_allclose(drawn_high, chart.table[f"q{high:02d}"])
        # each band lies inside the one before it, and the median inside them all
        assert (drawn_low >= outer_low).all() and (drawn_high <= outer_high).all()
        assert (drawn_low <= chart.table["median"]).all()
        assert (chart.table["median"] <= drawn_high).all()
        outer_low, outer_high = drawn_low, drawn_high
        lightness.append(float(np.mean(band.get_facecolor()[0][:3])))
    assert lightness == sorted(lightness, reverse=True)  # darker towards the median
    assert [b.get_zorder() for b in bands] == sorted(b.get_zorder() for b in bands)
    # the caption says the convention, with the shares of the bands drawn
    assert "Bank of England" in chart.caption
    assert "middle 20%, 40%, 60% and 80%" in chart.caption
    assert "10% lie above the fan and 10% below" in chart.caption
    last = chart.table.iloc[-1]
    assert f"80% of replications between {last['q10']:.0f} and {last['q90']:.0f}" in chart.alt_text


def test_published_history_is_drawn_before_the_forecast_starts_and_not_after(charts, results):
    chart = charts["baseline-caseload"]
    start = results.scenarios["baseline"].start_date
    observed = chart.meta["observed"]
    assert len(observed) >= 2  # the Recovery Support Programme's count and the first wave
    assert (observed["date"] < start).all()
    ax = draw(chart).axes[0]
    marker = next(line for line in ax.get_lines() if line.get_gid() == "forecast-start")
    assert list(marker.get_xdata()) == [pytest.approx(_day_number(start))] * 2
    words = [t for t in ax.texts if t.get_text().strip() == "forecast starts"]
    assert len(words) == 1 and words[0].get_position()[0] == pytest.approx(_day_number(start))
    published = [line for line in ax.get_lines() if line.get_label().startswith("Published")]
    drawn = sorted((x, y) for line in published for x, y in line.get_xydata())
    assert drawn == [(_day_number(d), v) for d, v in zip(observed["date"], observed["value"],
                                                        strict=True)]  # fmt: skip
    assert all(x < _day_number(start) for x, _ in drawn)
    # the forecast is drawn from the start on, the cap only over the forecast
    median = next(line for line in ax.get_lines() if line.get_label().startswith("Median"))
    cap = next(line for line in ax.get_lines() if line.get_label().startswith("Cap"))
    assert min(median.get_xdata()) > _day_number(start)
    assert min(cap.get_xdata()) == pytest.approx(_day_number(start))
    # the words name every published count drawn, and the start date
    for label in observed["label"]:
        assert label in chart.caption and label in chart.alt_text
    assert f"where the forecast starts ({start.day} {start:%b %Y})" in chart.caption
    # the waiting list has no published history: no marker, no points
    waiting = draw(charts["baseline-waiting-list"]).axes[0]
    assert not [line for line in waiting.get_lines() if line.get_gid() == "forecast-start"]
    assert "published" not in charts["baseline-waiting-list"].caption


def test_published_counts_are_those_of_every_route_dated_before_the_start():
    rsp, wave = dt.date(2024, 12, 5), dt.date(2025, 10, 1)  # in held_out_history.csv; the wave
    counts = chart_data.published_caseload(dt.date(2026, 4, 1), years=5)
    assert list(counts["date"]) == [rsp, wave]
    assert list(counts["regime"]) == ["rsp", "pip"]
    assert counts["value"].iloc[0] == 20 and "Recovery Support Programme" in counts["label"][0]
    # not after the start, and not before the window
    assert list(chart_data.published_caseload(dt.date(2025, 1, 1), years=5)["date"]) == [rsp]
    assert list(chart_data.published_caseload(dt.date(2026, 4, 1), years=1)["date"]) == [wave]
    # counts of one route (quality special measures alone) are the back-test's, not drawn here
    assert list(chart_data.published_caseload(dt.date(2021, 4, 1), years=8)["date"]) == []


def test_published_first_wave_is_read_from_the_data(monkeypatch):
    facts = read_table("programme_facts.csv")
    history = read_table("programme_history.csv")
    wave = next(r for r in facts if r["measure"] == "pip_expected_first_entrants")
    changed = [dict(r, value="12 trusts") if r is wave else r for r in facts]
    with monkeypatch.context() as patch:
        patch.setattr(
            chart_data,
            "read_table",
            lambda name: changed if name == "programme_facts.csv" else read_table(name),
        )
        observed = chart_data.observed_caseload(dt.date(2026, 4, 1))
    assert observed["value"].tolist() == [12.0]
    assert "about 12 trusts" in observed["label"].iloc[0]

    observed = chart_data.observed_caseload(dt.date(2026, 4, 1))
    first_entry = min(r["date"] for r in history if r["regime"] == "pip")
    assert observed["value"].tolist() == [float(wave["value"].split()[0])]
    assert observed["date"].iloc[0] == dt.date(*map(int, first_entry.split("-")[:2]), 1)


# ----------------------------------------------------------------------- waiting


def test_waiting_list_title_peak_is_the_drawn_median_peak(charts, results):
    for name in results.scenarios:
        chart = charts[f"{name}-waiting-list"]
        table = chart.table
        peak, last = table.loc[table["median"].idxmax()], table.iloc[-1]
        if peak["median"] > 0:
            day = (last if last["median"] == peak["median"] else peak)["period_end"]
            assert f"{peak['median']:.0f} trusts" in chart.title
            assert f"{day.day} {day:%b %Y}" in chart.title
            if last["median"] < peak["median"]:
                assert chart.title.endswith(f"ending at {last['median']:.0f}")


def test_an_empty_median_waiting_list_is_told_by_the_fan_s_top_edge(results, summary):
    rows = (summary["metric"] == "waiting") & (summary["frequency"] == "quarter")
    quiet = summary.copy()
    quiet.loc[rows, ["q10", "q20", "q30", "q40", "q50", "q60", "q70", "q80"]] = 0.0
    quiet.loc[rows, "q90"] = np.arange(rows.sum()) % 5  # busiest at the 5th quarter end
    chart = waiting_fan(results, quiet, "baseline")
    busiest = chart.table.loc[chart.table["q90"].idxmax()]
    day = busiest["period_end"]
    assert chart.title == (
        "The waiting list is mostly empty; in 10% of replications "
        f"{busiest['q90']:.0f} or more wait on {day.day} {day:%b %Y}"
    )
    quiet.loc[rows, "q90"] = 0.0
    assert waiting_fan(results, quiet, "baseline").title == (
        "The waiting list is empty at every quarter end in at least 90% of replications"
    )


def test_waiting_time_bars_add_up_and_the_title_sums_the_bars_drawn(charts, results):
    for name in results.scenarios:
        chart = charts[f"{name}-waiting-times"]
        ax = draw(chart).axes[0]
        heights = np.array([bar.get_height() for bar in ax.patches])
        assert len(heights) == 5
        assert heights.sum() == pytest.approx(1.0)
        over_13 = heights[2:].sum()  # bands 13-26, 26-52 and 52+ weeks
        assert _percents(chart.title) == [round(over_13 * 100)]
        assert "13 weeks or more" in chart.title and "average" in chart.title.lower()
        assert _percents(chart.alt_text) == [round(h * 100) for h in heights]
        assert "add up to 100%" in chart.caption


# ---------------------------------------------------------------------- segments


def test_segments_title_counts_the_programme_across_every_table(charts, results):
    for name in results.scenarios:
        chart = charts[f"{name}-segments"]
        table = chart.table
        first, last = table["period"].iloc[0], table["period"].iloc[-1]

        def total(period, segment, league_table=None, table=table):
            rows = table[(table["period"] == period) & (table["segment"] == segment)]
            if league_table:
                rows = rows[rows["league_table"] == league_table]
            return rows["mean_trusts"].sum()

        programme, acute = total(last, 5), total(last, 5, "acute")
        assert round(programme) != round(acute)  # the old title's bug shows in this data
        before, after = f"{total(first, 5):.0f}", f"{programme:.0f}"
        assert (f"the programme stays at {after}" if before == after
                else f"the programme {'grows' if programme > total(first, 5) else 'falls'} "
                f"from {before} to {after}") in chart.title  # fmt: skip
        acute_4 = (f"{total(first, 4, 'acute'):.0f}", f"{total(last, 4, 'acute'):.0f}")
        assert chart.title.startswith("Segment 4 acute trusts ")
        assert (f"from {acute_4[0]} to {acute_4[1]};" in chart.title) != (acute_4[0] == acute_4[1])
        assert f"{programme:.0f} trusts are in the programme" in chart.alt_text
        assert "Mean of" in chart.subtitle and "segment 5 of every table" in chart.subtitle


# ------------------------------------------------------------------ national team


def test_team_demand_title_uses_the_run_summary_share_short(charts, results, summary):
    shares = {}
    for name in results.scenarios:
        chart = charts[f"{name}-team-demand"]
        share = _summary_share(results, summary, name, "national team first short of hours")
        shares[name] = share
        assert "quarters" not in chart.title
        national = chart.table[chart.table["source"] == "national"]
        peak = national.loc[national["demand_median"].idxmax()]
        assert f"peaks at {peak['demand_median']:.0f} hours a week" in chart.caption
        assert f"against {peak['capacity']:.0f} available" in chart.caption
        if share:
            assert _percents(chart.title) == [share]
            assert f"short of hours at some time in {share}% of replications" in chart.title
            assert f"short at some time in {share}% of replications" in chart.alt_text
        else:
            assert "every replication" in chart.title
        assert round(chart.meta["share_short"] * 100) == share
    assert shares["cap_20"] > 0  # the fixture must exercise a team that is short


def test_national_cut_is_a_step_on_its_date(charts, results):
    chart = charts["baseline-team-demand"]
    steps = results.scenarios["baseline"].team.national.wte_schedule
    before, after = steps[0].wte, steps[1].wte
    cut = steps[1].effective_from
    assert [c["date"] for c in chart.meta["cuts"]] == [cut]
    ax = draw(chart).axes[0]  # the national team's panel
    capacity = next(
        p for p in ax.patches if isinstance(p, StepPatch) and p.get_label() == "Capacity"
    )
    values, edges = capacity.get_data().values, capacity.get_data().edges
    where = int(np.flatnonzero(np.isclose(edges, _day_number(cut)))[0])
    assert values[where] / values[where - 1] == pytest.approx(after / before, rel=1e-6)
    assert any(line.get_xdata()[0] == pytest.approx(_day_number(cut)) for line in ax.get_lines())


def test_exceedance_words_match_the_run_summary_and_the_lines_drawn(charts, results, summary):
    for name in results.scenarios:
        chart = charts[f"{name}-exceedance"]
        full = _summary_share(results, summary, name, "programme first full")
        short = _summary_share(results, summary, name, "national team first short of hours")
        assert f"The programme fills in {full}% of replications" in chart.title
        if short:
            assert f"the national team is short in {short}%" in chart.title
        else:
            assert "never short" in chart.title
        assert "at some time in each quarter and by each quarter's end" in chart.subtitle
        last = chart.table.iloc[-1]
        assert round(last["cap_reached_by_end"] * 100) == full
        assert round(last["national_team_short_by_end"] * 100) == short
        ax = draw(chart).axes[0]
        drawn = {line.get_label(): line.get_ydata()[-1] for line in ax.get_lines()}
        assert drawn["Programme has been at its cap, by the quarter's end"] == pytest.approx(
            full / 100, abs=0.005
        )


# -------------------------------------------------------------- cost, comparison


def test_cost_title_is_the_mean_of_whole_years_drawn(charts, results):
    for name in results.scenarios:
        chart = charts[f"{name}-cost"]
        table = chart.table
        source = table[table["split"] == "source"].groupby("period", sort=False)
        by_year = source["mean_cost_millions"].sum()  # three whole financial years
        trusts = table[table["group"] == "trusts"].set_index("period")["mean_cost_millions"]
        assert f"£{by_year.mean():.1f}m a year" in chart.title
        assert _percents(chart.title) == [round(100 * trusts.sum() / by_year.sum())]
        assert chart.meta["title_years"] == list(by_year.index)


def test_comparison_title_is_a_drawn_difference_with_an_interval_below_zero(charts):
    chart = charts["comparison-vs-baseline"]
    waiting = chart.table[chart.table["measure"] == "Trusts waiting (average)"]
    row = waiting.set_index("scenario").loc["cap_20"]
    if row["ci_high"] < 0:
        assert f"{abs(row['mean_difference']):.1f} fewer trusts" in chart.title
    else:
        assert chart.title.startswith("No scenario clearly shortens")
    assert "cap_20" not in chart.title + chart.subtitle + chart.caption + chart.alt_text


# ------------------------------------------------------- scenarios on the same axes


def test_overlay_titles_give_the_lowest_and_highest_last_median_drawn(charts, results):
    """Each headline figure with every scenario on the same axes: the title's numbers are
    the lowest and highest median of the last period drawn, by the overlay's own words."""
    from sim.outputs.charts.overlay import OVERLAYS, number

    names = list(results.scenarios)
    for spec in OVERLAYS:
        chart = charts[f"compare-{spec.metric.replace('_', '-')}"]
        table = chart.table
        assert list(dict.fromkeys(table["scenario"])) == names
        last = table[table["period"] == table["period"].iloc[-1]]
        low, high = (number(v, spec.unit, with_unit=False)
                     for v in (last["median"].min(), last["median"].max()))  # fmt: skip
        assert (f"{low} to {high}" in chart.title) if low != high else (high in chart.title)
        assert (table["q25"] <= table["median"]).all() and (table["median"] <= table["q75"]).all()
        assert f"of {REPLICATIONS} replications" in chart.subtitle
        assert "cap_20" not in chart.title + chart.subtitle + chart.caption + chart.alt_text
        ax = draw(chart).axes[0]
        labels = [t.get_text() for t in ax.texts]
        for group in chart.meta["groups"]:  # each line labelled with its scenarios' titles
            titles = [table.loc[table["scenario"] == n, "title"].iloc[0] for n in group]
            assert any(all(t.replace(" ", "") in label.replace("\n", "").replace(" ", "")
                           for t in titles) for label in labels), (titles, labels)  # fmt: skip
