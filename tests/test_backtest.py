"""The back-test: published programme history beside the model run through the regimes.

Statistics are checked by hand on a small synthetic set of spells and against the model's
own count of trusts in the programme; the verdicts on figures placed at and far from the
model's median; the files' errors (named file and field, exit code 2, no folder); the
command's folder and lines; and that the same seed gives the same table. The model runs
a forecast scenario moved back to 2020 (not the history scenario), so these tests do not
depend on the history files.
"""

from __future__ import annotations

import datetime as dt
import math
import re

import numpy as np
import pandas as pd
import pytest
import yaml

from sim.analysis import backtest as bt
from sim.apps.cli import build_parser, main
from sim.errors import ScenarioError
from sim.experiment.runner import RunSettings, replicate
from sim.outputs.charts import draw
from sim.outputs.charts.analysis import backtest_chart
from sim.outputs.charts.draw import DRAWERS, draw_backtest
from sim.results.folder import scenario_to_yaml_tree
from sim.scenario import with_changes
from sim.vocabulary import ROUTES

START = dt.date(2020, 4, 1)
HEADER = "measure,date,date_to,value,route,regime,note,source\n"
SETTINGS = RunSettings(30, 3, progress=False)


@pytest.fixture(scope="module")
def trial(baseline):
    """The baseline moved back to April 2020 for six years (the rule and team in force from
    the start): a small stand-in for the history scenario."""
    return with_changes(baseline, {
        "name": "trial", "start_date": START, "horizon_years": 6,
        "segmentation.rules[0].effective_from": START,
        "team.national.wte_schedule[0].effective_from": START,
    })  # fmt: skip


@pytest.fixture(scope="module")
def runs(trial):
    return bt.run_history(trial, SETTINGS)


@pytest.fixture
def in_tmp(tmp_path, monkeypatch):
    """Work in an empty folder, so no default figures file of the project is picked up."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def write_csv(path, rows: list[str]):
    path.write_text(HEADER + "".join(row + "\n" for row in rows), encoding="utf-8")
    return path


def figure(measure: str, date: dt.date, date_to: dt.date | None = None, value: float = 1.0,
           route: str = "", **extra) -> bt.HistoryFigure:  # fmt: skip
    return bt.HistoryFigure(name=f"{measure} {date}", measure=measure, date=date,
                            date_to=date_to, value=value, route=route, regime="rsp",
                            source="test", used_in_fit=False, **extra)  # fmt: skip


# ----------------------------------------------------------------- statistics by hand

DAY0 = dt.date(2020, 1, 6)


def week(w: float) -> dt.date:
    return DAY0 + dt.timedelta(weeks=w)


def synthetic(with_routes: bool = True) -> dict[str, np.ndarray]:
    """Six spells (times in weeks since DAY0): one under way at the start, one never
    admitted, one ended by a merger at week 10; trust 2 is admitted twice."""
    nan = math.nan
    spells = {
        "trust": np.array([1, 2, 3, 2, 4, 5]),
        "admission": np.array([-10, 0, 5, 20, nan, 8]),
        "exit": np.array([3, nan, 12, 30, nan, nan]),
        "support_end": np.array([20, nan, 30, 40, nan, 10]),
        "merged": np.array([False, False, False, False, False, True]),
    }
    if with_routes:
        names = ("initial", "quality", "finance", "quality", "segment", "segment")
        spells["route"] = np.array([ROUTES.index(n) for n in names], dtype=np.int8)
    return spells


def value(spells, f) -> float:
    """The figure's statistic in a run from DAY0 to week 52."""
    return bt.figure_value(spells, f, DAY0, week(52))


def test_stock_is_a_hand_count_of_spells():
    """Admitted at or before t and not left by t; a merger ends a spell with no exit."""
    spells = synthetic()
    counts = {0: 2, 3: 1, 5: 2, 8: 3, 9.9: 3, 10: 2, 12: 1, 20: 2, 29: 2, 30: 1}
    assert list(bt.stock_at(spells, list(counts))) == list(counts.values())
    assert value(spells, figure("in_programme", week(8))) == 3
    assert value(spells, figure("in_programme", week(20), route="quality")) == 2


def test_flows_count_the_half_open_interval():
    spells = synthetic()
    assert value(spells, figure("admissions", week(5), week(20))) == 2  # 20 is outside
    assert value(spells, figure("admissions", week(5), week(21))) == 3
    assert value(spells, figure("exits", week(3), week(12))) == 1  # the exit at 3, not 12
    assert value(spells, figure("exits", week(3), week(13))) == 2  # a merger is no exit
    assert value(spells, figure("admissions", week(0), week(30))) == 4
    assert value(spells, figure("ever_entered", week(0), week(30))) == 3  # trust 2 twice
    assert value(spells, figure("admissions", week(0), week(30), route="quality")) == 2
    # trusts placed in the programme as the run starts (the Keogh trusts, July 2013) were
    # admitted then; those already under way before it (negative times) were not
    placed = {**spells, "admission": np.array([-10, 0, 5, 20, math.nan, 0])}
    assert value(placed, figure("admissions", week(0), week(1))) == 2


def test_spell_lengths_by_hand():
    spells = synthetic()
    months = bt.WEEKS_PER_MONTH
    mean = figure("mean_completed_spell_months", week(0), week(30))
    assert value(spells, mean) == pytest.approx((7 + 10) / 2 / months)  # by the run's end
    by = figure("mean_completed_spell_months", week(0), week(30), by=week(25))
    assert value(spells, by) == pytest.approx(7 / months)  # the exit at 30 comes after
    within = figure("share_completed_within", week(0), week(30), months=2)  # 8.7 weeks
    assert value(spells, within) == pytest.approx(1 / 4)
    exits = figure("mean_length_of_exits", week(0), week(31))  # exits at 3, 12 and 30
    assert value(spells, exits) == pytest.approx((13 + 7 + 10) / 3 / months)


def test_stock_by_route_is_a_hand_count_of_spells():
    """programme_stock's series for a route counts only spells begun by it; blank, every
    route. Month starts from DAY0 (6 January 2020) are weeks 3.7 (1 February), 7.9, 12.3,
    16.6, 21, 25.3, 29.7 and 34.1 (1 September)."""
    spells = synthetic()
    stock = bt.programme_stock([spells, spells], DAY0, week(52), routes=("", "quality", "finance"))
    assert list(stock.columns) == ["route", "month", "median", "q05", "q25", "q75", "q95"]
    assert list(dict.fromkeys(stock["route"])) == ["", "quality", "finance"]
    by_hand = {  # spells in at each month's start: see synthetic()
        "": [1, 2, 1, 1, 2, 2, 2, 1],  # the merger at week 10 ends spell 5
        "quality": [1, 1, 1, 1, 2, 2, 2, 1],  # trust 2 from week 0, again from 20 to 30
        "finance": [0, 1, 0, 0, 0, 0, 0, 0],  # weeks 5 to 12
    }
    for route, counts in by_hand.items():
        series = stock[stock["route"] == route]
        assert series["month"].iloc[0] == dt.date(2020, 2, 1)
        assert list(series["median"].iloc[:8]) == counts, route
        assert (series["q05"] == series["q95"]).all()  # the same spells twice: no spread
    # the same count as a published figure of that route on that date
    assert value(spells, figure("in_programme", dt.date(2020, 6, 1), route="quality")) == 2


def test_stock_routes_are_those_with_published_stock_figures_in_the_run():
    figures = [
        figure("in_programme", week(8), route="finance"),
        figure("in_programme", week(9), route="quality"),
        figure("in_programme", week(10)),
        figure("admissions", week(0), week(30), route="system"),  # a flow
        figure("in_programme", DAY0 - dt.timedelta(days=1), route="segment"),
    ]  # before
    assert bt.stock_routes(figures, DAY0, week(52)) == ["", "quality", "finance"]


def test_published_routes_are_routes_of_the_model():
    assert set(bt.PUBLISHED_ROUTES) <= set(ROUTES)


def test_a_route_the_spells_do_not_record_counts_every_route_with_a_note():
    spells = synthetic(with_routes=False)
    routed = figure("admissions", week(0), week(30), value=4, route="quality")
    table = bt.backtest_table([spells, spells], [routed], DAY0, week(52))
    row = table.iloc[0]
    assert row["model_mean"] == 4 and row["inside"]
    assert "no entry route" in row["note"]


def test_stock_from_spells_is_the_models_own_count(trial):
    """The programme's state log, in force at each month's start, says the same."""
    months = bt.month_starts(trial.start_date, trial.end_date)
    weeks = np.array([(m - trial.start_date).days / 7 for m in months])
    for result in replicate(trial, RunSettings(4, 11, progress=False)):
        timeline = result.timeline
        state = np.searchsorted(timeline.times, weeks, side="right") - 1
        expected = timeline.in_programme()[state]
        np.testing.assert_array_equal(bt.stock_at(result.spells, weeks), expected)


# ------------------------------------------------------------------------- verdicts


def test_a_figure_at_the_models_median_is_inside_and_one_far_away_misses(trial, runs):
    date = dt.date(2023, 4, 1)
    median = float(np.median(bt.figure_values(runs, figure("in_programme", date), START,
                                              trial.end_date)))  # fmt: skip
    admissions = figure("admissions", dt.date(2021, 4, 1), dt.date(2022, 4, 1))
    flow_median = float(np.median(bt.figure_values(runs, admissions, START, trial.end_date)))
    figures = [figure("in_programme", date, value=median),
               figure("in_programme", date, value=10 * median + 50),
               figure("admissions", admissions.date, admissions.date_to, value=flow_median),
               figure("admissions", admissions.date, admissions.date_to, value=500)]  # fmt: skip
    table = bt.backtest_table(runs, figures, START, trial.end_date)
    assert list(table["inside"]) == [True, False, True, False]
    assert (table["model_q05"] <= table["model_median"]).all()
    assert (table["model_median"] <= table["model_q95"]).all()
    assert table["model_median"].iloc[0] == median


def test_the_figures_range_is_the_monthly_bands_range(trial, runs):
    """A stock figure on a month's start and programme_stock.csv's row agree."""
    stock = bt.programme_stock(runs, START, trial.end_date, routes=("", "segment"))
    date = dt.date(2024, 10, 1)
    figures = [figure("in_programme", date), figure("in_programme", date, route="segment")]
    table = bt.backtest_table(runs, figures, START, trial.end_date)
    for route, row in zip(("", "segment"), table.itertuples(), strict=True):
        month = stock[(stock["month"] == date) & (stock["route"] == route)].iloc[0]
        assert row.model_q05 == month["q05"] and row.model_q95 == month["q95"]
    assert stock["month"].iloc[0] == START and len(stock) == 2 * (6 * 12 + 1)  # to April 2026


def test_figures_outside_the_run_are_not_compared(trial, runs):
    early = figure("in_programme", dt.date(2019, 4, 1))
    late = figure("exits", dt.date(2025, 4, 1), dt.date(2026, 7, 1))
    table = bt.backtest_table(runs, [early, late], START, trial.end_date)
    assert not table["compared"].any() and not table["inside"].any()
    assert table["note"].str.contains("outside the simulated period").all()


def test_same_seed_same_table_serial_or_parallel(trial):
    figures = [figure("in_programme", dt.date(2022, 4, 1), value=12),
               figure("exits", dt.date(2021, 4, 1), dt.date(2023, 4, 1), value=8)]  # fmt: skip
    first = bt.backtest(trial, figures, RunSettings(12, 5, progress=False))
    again = bt.backtest(trial, figures, RunSettings(12, 5, jobs=2, progress=False))
    other = bt.backtest(trial, figures, RunSettings(12, 6, progress=False))
    pd.testing.assert_frame_equal(first.table, again.table)
    pd.testing.assert_frame_equal(first.stock, again.stock)
    assert not first.stock.equals(other.stock)


def test_regimes_from_the_constant_clipped_to_the_run(trial):
    regimes = bt.regime_eras(trial)
    assert regimes.programmes == [
        ("Special measures", START),
        ("Recovery Support Programme", dt.date(2021, 7, 1)),
        ("Provider Improvement Programme", dt.date(2025, 7, 1)),
    ]
    assert regimes.frameworks == []  # the Single Oversight Framework began before 2020


def test_regimes_from_a_scenario_that_names_them(trial):
    if "eras" not in type(trial.programme).model_fields:
        pytest.skip("the scenario schema has no programme eras yet")
    named = with_changes(trial, {
        "programme.name": "Special measures",
        "programme.eras": [{"effective_from": dt.date(2021, 7, 1),
                            "name": "Recovery Support Programme"}],
        "segmentation.rules[0].label": "SOF",  # at the start: no line of its own
    })  # fmt: skip
    regimes = bt.regime_eras(named)
    assert regimes.programmes == [
        ("Special measures", START),
        ("Recovery Support Programme", dt.date(2021, 7, 1)),
    ]
    assert regimes.frameworks == []


def drawn_points(figure) -> list[list[float]]:
    """The published counts drawn in each panel of a back-test figure, top to bottom."""
    return [sorted(y for line in ax.get_lines() if line.get_linestyle() == "None"
                   for y in line.get_ydata()) for ax in figure.axes]  # fmt: skip


def test_chart_title_counts_the_points_drawn(trial, runs):
    median = float(np.median(bt.figure_values(runs, figure("in_programme", dt.date(2022, 4, 1)),
                                              START, trial.end_date)))  # fmt: skip
    figures = [figure("in_programme", dt.date(2022, 4, 1), value=median),
               figure("in_programme", dt.date(2024, 4, 1), value=99),
               figure("in_programme", dt.date(2023, 4, 1), value=98, route="segment"),
               figure("in_programme", dt.date(2019, 4, 1), value=97),  # before the run
               figure("exits", dt.date(2021, 4, 1), dt.date(2023, 4, 1), value=8)]  # fmt: skip
    result = bt.backtest(trial, figures, SETTINGS)
    assert list(dict.fromkeys(result.stock["route"])) == ["", "segment"]
    chart = backtest_chart(result)
    # the counts compared, each on its own series: two of every route and one of the
    # segment route (not the one before the run, nor the flow); one inside
    assert chart.title.startswith("1 of 3 published counts") and "held out" in chart.title
    table = result.table
    counts = table[(table["measure"] == "in_programme") & table["compared"]]
    assert chart.title.startswith(f"{int(counts['inside'].sum())} of {len(counts)} ")
    points = chart.meta["points"]
    assert list(points["inside"]) == [True, False, False]
    assert list(points["route"]) == ["", "", "segment"]
    assert [heading for _, heading in chart.meta["panels"]] == [
        "Every entry route: 1 of 2 published counts inside the model's 90% range",
        "Lowest-segment route: 0 of 1 published count inside the model's 90% range",
    ]
    assert "30 replications" in chart.subtitle
    fig = draw(chart)  # the shared drawer, by kind
    assert DRAWERS["backtest"] is draw_backtest
    assert drawn_points(fig) == [sorted([median, 99]), [98]]  # one panel per series
    assert len(fig.axes) == 2 and fig.axes[0].get_shared_x_axes().joined(*fig.axes)


def test_chart_without_route_counts_has_one_panel(trial, runs):
    result = bt.backtest(trial, [figure("in_programme", dt.date(2022, 4, 1), value=99)],
                         SETTINGS)  # fmt: skip
    chart = backtest_chart(result)
    assert chart.title == ("0 of 1 published count of trusts in the programme lies inside the "
                           "model's 90% range, all held out of the fit")  # fmt: skip
    assert drawn_points(draw(chart)) == [[99]]


# ----------------------------------------------------------------------- reading files


@pytest.mark.parametrize(
    "row, field, words",
    [
        ("in_programme,2021-13-01,,5,,rsp,,s", "line 2, date", "not a date"),
        ("admits,2021-04-01,2022-04-01,5,,rsp,,s", "line 2, measure", "unknown measure"),
        ("admissions,2021-04-01,2022-04-01,5,governance,rsp,,s", "line 2, route", "unknown route"),
        ("exits,2021-04-01,2022-04-01,ten,,rsp,,s", "line 2, value", "not a number"),
        ("exits,2021-04-01,2021-04-01,3,,rsp,,s", "line 2, date_to", "not after"),
        ("exits,2021-04-01,,3,,rsp,,s", "line 2, date_to", "give date_to"),
    ],
)  # fmt: skip
def test_bad_rows_name_the_file_line_and_field(tmp_path, row, field, words):
    path = write_csv(tmp_path / "held.csv", [row])
    with pytest.raises(ScenarioError, match=words) as error:
        bt.load_held_out(path)
    assert error.value.field == field and error.value.file == str(path)


def test_missing_file_and_missing_column_are_named(tmp_path):
    with pytest.raises(ScenarioError, match="file not found"):
        bt.load_held_out(tmp_path / "nowhere.csv")
    path = tmp_path / "held.csv"
    path.write_text("measure,date,value\nin_programme,2021-04-01,3\n")
    with pytest.raises(ScenarioError, match="no column date_to") as error:
        bt.load_held_out(path)
    assert error.value.field == "header"


def test_fitted_figures_come_from_yaml_marked_used_in_fit(tmp_path):
    path = tmp_path / "history_targets.yaml"
    path.write_text(yaml.safe_dump({"targets": [
        {"name": "size 2022", "measure": "in_programme", "date": dt.date(2022, 4, 1),
         "value": 14, "tolerance": 2, "source": "s"},
        {"name": "short spells", "measure": "share_completed_within", "date": "2021-07",
         "date_to": "2023-07", "value": 0.2, "tolerance": 0.1, "source": "s",
         "route": "quality", "options": {"months": 12}},
    ]}))  # fmt: skip
    held = write_csv(tmp_path / "held.csv", ["exits,2021-04-01,2022-04-01,5,,rsp,,s"])
    figures = bt.load_figures(held, path)
    assert [f.used_in_fit for f in figures] == [True, True, False]
    assert figures[1].months == 12 and figures[1].date == dt.date(2021, 7, 1)
    assert figures[1].route == "quality" and figures[0].tolerance == 2
    del_months = yaml.safe_load(path.read_text())
    del del_months["targets"][1]["options"]
    path.write_text(yaml.safe_dump(del_months))
    with pytest.raises(ScenarioError) as error:
        bt.load_history_targets(path)
    assert error.value.field == "targets[1].options.months"


def test_fitted_figures_come_from_a_calibration_specs_history_targets(tmp_path):
    from sim.analysis.targets import STATISTICS

    if not set(bt.SPEC_STATISTICS) <= set(STATISTICS):
        pytest.skip("the calibration spec has no history statistics yet")
    spec = {"settings": {"replications": 2, "seed": 1, "horizon_years": 1}, "stages": [
        {"name": "history", "parameters": [], "targets": [
            {"name": "left by 2022", "statistic": "history_figure", "value": 5, "tolerance": 1,
             "source": "s", "options": {"measure": "exits", "date": dt.date(2021, 4, 1),
                                        "date_to": dt.date(2022, 4, 1)}},
            {"name": "churn", "statistic": "churn_per_quarter", "value": 38, "tolerance": 3,
             "source": "s"},
            {"name": "RSP exits", "statistic": "mean_length_of_exits", "value": 58.8,
             "tolerance": 10, "source": "s",
             "options": {"date": dt.date(2021, 7, 1), "date_to": dt.date(2026, 4, 1)}},
        ]},
    ]}  # fmt: skip
    path = tmp_path / "targets.yaml"
    path.write_text(yaml.safe_dump(spec))
    figures = bt.load_history_targets(path)  # churn is not a dated figure: left out
    assert [(f.name, f.measure, f.used_in_fit) for f in figures] == [
        ("left by 2022", "exits", True), ("RSP exits", "mean_length_of_exits", True)
    ]  # fmt: skip
    spec["stages"][0]["targets"][0]["options"]["date_to"] = "2022-13-01"
    path.write_text(yaml.safe_dump(spec))
    with pytest.raises(ScenarioError) as error:
        bt.load_history_targets(path)
    assert error.value.field == "stages[0].targets[0].options.date_to"


# ------------------------------------------------------------------------- the command


@pytest.fixture(scope="module")
def scenario_file(trial, tmp_path_factory):
    path = tmp_path_factory.mktemp("scenario") / "trial.yaml"
    path.write_text(yaml.safe_dump(scenario_to_yaml_tree(trial), sort_keys=False))
    return path


def run_command(args: list[str], capsys) -> tuple[int, str, str]:
    try:
        code = main(args)
    except SystemExit as exc:  # argparse's own usage errors
        code = exc.code
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


def test_command_writes_the_folder_and_a_line_per_figure(scenario_file, in_tmp, capsys):
    held = write_csv(in_tmp / "held.csv", [
        "in_programme,2022-04-01,,13,,rsp,,https://example.org/a",
        "in_programme,2024-04-01,,60,,rsp,far too many,https://example.org/b",
        "admissions,2021-04-01,2022-04-01,6,,rsp,,https://example.org/c",
    ])  # fmt: skip
    targets = in_tmp / "history_targets.yaml"
    targets.write_text(
        "targets:\n  - {name: size in 2023, measure: in_programme, date: 2023-04-01, value: 12,"
        " tolerance: 2, regime: rsp, source: https://example.org/t}\n"
    )
    code, out, err = run_command(["backtest", str(scenario_file), "--held-out", str(held),
                                  "--targets", str(targets), "--reps", "20", "--seed", "4",
                                  "--out", "bt", "--no-progress"], capsys)  # fmt: skip
    assert code == 0, err
    folder = in_tmp / "bt"
    assert {p.name for p in folder.iterdir()} == {
        "backtest.csv", "backtest.png", "backtest.svg", "programme_stock.csv", "manifest.json"
    }  # fmt: skip
    table = pd.read_csv(folder / "backtest.csv")
    assert list(table["used_in_fit"]) == [True, False, False, False]
    lines = out.strip().splitlines()
    assert re.match(r"(PASS|MISS)  size in 2023 \(used in fit\): published 12, model [\d.]+ "
                    r"\[[\d.]+-[\d.]+\]$", lines[0])  # fmt: skip
    assert lines[2].startswith("MISS  in programme on 2024-04-01: published 60, model ")
    inside = int(table["inside"].sum())
    assert f"{inside} of 4 published figures inside the model's 90% range (3 held out)" in out
    stock = pd.read_csv(folder / "programme_stock.csv", keep_default_na=False)
    assert list(stock.columns) == ["route", "month", "median", "q05", "q25", "q75", "q95"]
    assert list(dict.fromkeys(stock["route"])) == [""]  # no route's count: every route only


def test_a_failure_while_running_exits_1_and_writes_nothing(scenario_file, in_tmp, capsys,
                                                            monkeypatch):  # fmt: skip
    def broken(*_args, **_kwargs):
        raise RuntimeError("the model stopped")

    monkeypatch.setattr(bt, "backtest", broken)
    held = write_csv(in_tmp / "held.csv", ["exits,2021-04-01,2022-04-01,5,,rsp,,s"])
    code, _, err = run_command(["backtest", str(scenario_file), "--held-out", str(held),
                                "--out", "bt"], capsys)  # fmt: skip
    assert code == 1 and "the model stopped" in err
    assert not (in_tmp / "bt").exists()


@pytest.mark.parametrize(
    "row, named",
    [("in_programme,2022-04-01,,lots,,rsp,,s", "line 2, value"),
     ("in_programme,01/04/2022,,3,,rsp,,s", "line 2, date")],
)  # fmt: skip
def test_command_refuses_bad_figures_and_leaves_no_folder(scenario_file, in_tmp, capsys, row,
                                                          named):  # fmt: skip
    held = write_csv(in_tmp / "held.csv", [row])
    code, _, err = run_command(["backtest", str(scenario_file), "--held-out", str(held),
                                "--reps", "2", "--out", "bt"], capsys)  # fmt: skip
    assert code == 2
    assert str(held) in err and named in err
    assert sorted(p.name for p in in_tmp.iterdir()) == ["held.csv"]


def test_command_names_a_missing_figures_file(scenario_file, in_tmp, capsys):
    (in_tmp / "scenarios").mkdir()  # a scenario folder without the calibration's figures
    code, _, err = run_command(["backtest", str(scenario_file), "--held-out", "none.csv",
                                "--reps", "2", "--out", "bt"], capsys)  # fmt: skip
    assert code == 2 and "none.csv" in err and "file not found" in err
    assert "no scenarios/calibration/history_targets.yaml" in err  # said, not hidden
    assert not (in_tmp / "bt").exists()


def test_verbose_after_the_command_keeps_the_global_flag():
    parser = build_parser()
    assert parser.parse_args(["backtest", "-v"]).verbose
    assert parser.parse_args(["-v", "backtest"]).verbose
    assert not parser.parse_args(["backtest"]).verbose
