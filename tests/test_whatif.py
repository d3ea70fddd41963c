"""The what-if behind ``notebooks/03_what_if.ipynb`` (:mod:`sim.apps.whatif`).

Equal settings give the same scenario and a cache hit; a change of any setting changes the
scenario's content hash; blend shares always add up to 1; an invalid combination gives a
clear error, not a crash; the headline table uses the vocabulary's headline figures; the
charts' statistics, taken only for the rows they draw, and their PNGs are the same as from
the whole summary and a plain ``savefig``; the engine runs without ipywidgets and the
ipywidgets panel runs headless.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim.apps.whatif import (
    CHART_ROWS,
    CHARTS,
    WHAT_IF_NOTE,
    Charts,
    Panel,
    ResultCache,
    Settings,
    WhatIf,
    WhatIfError,
    build_scenario,
    chart_data,
    cut_date_options,
    rebalance_blend,
    summary_of_rows,
)
from sim.apps.whatif.engine import rows_mask
from sim.experiment.runner import run_experiment
from sim.results import scenario_to_yaml_tree
from sim.scenario import load_scenario, scenario_hash, with_changes
from sim.vocabulary import HEADLINES

ROOT = Path(__file__).resolve().parents[1]
REPS = 3
"""Replications for the what-if unit tests: enough for intervals, quick to run."""


@pytest.fixture(scope="module")
def thresholds():
    return load_scenario(ROOT / "scenarios" / "nof_2026_27_thresholds.yaml")


@pytest.fixture(scope="module")
def what_if(baseline, thresholds):
    return WhatIf(baseline, replications=REPS, seed=11, jobs=1, thresholds=thresholds)


# ----------------------------------------------------------------------- settings


def _changed_settings(defaults: Settings) -> dict[str, Settings]:
    """One changed value per setting (the referral rate with Poisson referrals)."""
    poisson = defaults.replace(referral_mode="poisson")
    changed = {
        "cap": defaults.replace(cap=(defaults.cap or 15) + 5),
        "cap_off": defaults.replace(cap=None),
        "national_wte": defaults.replace(national_wte=defaults.national_wte + 6),
        "wte_after_cut": defaults.replace(wte_after_cut=defaults.wte_after_cut - 7),
        "cut_date": defaults.replace(cut_date=dt.date(2027, 7, 1)),
        "blend": defaults.replace(
            blend=rebalance_blend(defaults.blend, 0, defaults.blend[0] - 0.2)
        ),
        "shortfall_policy": defaults.replace(
            shortfall_policy="dilute" if defaults.shortfall_policy != "dilute" else "buy"
        ),
        "segmentation_rule": defaults.replace(
            segmentation_rule="fixed_thresholds"
            if defaults.segmentation_rule == "quartiles"
            else "quartiles"
        ),
        "low_share": defaults.replace(low_share=round(defaults.low_share + 0.05, 3)),
        "referral_mode": poisson,
        "referral_rate": poisson.replace(referral_rate=poisson.referral_rate + 4),
    }
    return changed


def test_every_setting_has_a_changed_value(baseline):
    covered = set(_changed_settings(Settings.from_scenario(baseline))) - {"cap_off"}
    assert covered == {f.name for f in dataclasses.fields(Settings)}


def test_default_settings_leave_the_base_scenario_unchanged(baseline, thresholds):
    scenario = build_scenario(baseline, Settings.from_scenario(baseline), thresholds)
    renamed = with_changes(
        baseline,
        {"name": scenario.name, "description": scenario.description},
        note=WHAT_IF_NOTE,
    )
    assert scenario_hash(scenario) == scenario_hash(renamed)
    again = build_scenario(baseline, Settings.from_scenario(baseline), thresholds)
    assert scenario_hash(again) == scenario_hash(scenario)


def test_a_change_of_any_setting_changes_the_scenario_hash(baseline, thresholds):
    defaults = Settings.from_scenario(baseline)
    hashes = {"defaults": scenario_hash(build_scenario(baseline, defaults, thresholds))}
    for name, settings in _changed_settings(defaults).items():
        scenario = build_scenario(baseline, settings, thresholds)
        hashes[name] = scenario_hash(scenario)
        # the scenario says what it is: reading it back gives the same settings
        assert Settings.from_scenario(scenario) == settings, name
        assert scenario_hash(build_scenario(baseline, settings, thresholds)) == hashes[name]
    assert len(set(hashes.values())) == len(hashes), hashes


def test_changes_are_recorded_as_assumptions_and_the_scenario_can_be_saved(baseline, thresholds):
    defaults = Settings.from_scenario(baseline)
    settings = defaults.replace(
        cap=defaults.cap + 1, segmentation_rule="fixed_thresholds", referral_mode="poisson"
    )
    scenario = build_scenario(baseline, settings, thresholds)
    assert scenario.notes["programme.cap"].assumption == WHAT_IF_NOTE
    assert scenario.notes["programme.referrals.rate_per_year"].assumption == WHAT_IF_NOTE
    threshold_notes = [k for k in scenario.notes if k.startswith("segmentation.rules")]
    assert threshold_notes, "the thresholds' own notes are carried over"
    assert "cap" in scenario.description and "Poisson" in scenario.description
    scenario_to_yaml_tree(scenario)  # every note names a field that exists


def test_one_step_team_schedule_becomes_a_cut(baseline):
    no_cut = load_scenario(ROOT / "scenarios" / "no_cut.yaml")
    defaults = Settings.from_scenario(no_cut)
    assert defaults.national_wte == defaults.wte_after_cut
    assert defaults.cut_date in [date for _, date in cut_date_options(no_cut)]
    scenario = build_scenario(no_cut, defaults.replace(wte_after_cut=30.0))
    steps = scenario.team.national.wte_schedule
    assert [s.wte for s in steps] == [defaults.national_wte, 30.0]
    assert steps[1].effective_from == defaults.cut_date
    scenario_to_yaml_tree(scenario)


def test_cut_date_options_are_quarter_starts_within_the_forecast(baseline):
    dates = [date for _, date in cut_date_options(baseline)]
    assert dates == sorted(dates)
    assert dates[0] == baseline.start_date and dates[-1] < baseline.end_date
    assert Settings.from_scenario(baseline).cut_date in dates
    assert all(d.day == 1 and d.month in (1, 4, 7, 10) for d in dates)


# -------------------------------------------------------------------------- blend


@pytest.mark.parametrize("changed", [0, 1, 2])
@pytest.mark.parametrize("value", [0.0, 0.05, 0.3, 0.33, 0.5, 0.95, 1.0, 1.2, -0.1])
@pytest.mark.parametrize(
    "shares", [(0.6, 0.25, 0.15), (1.0, 0.0, 0.0), (0.0, 0.0, 1.0), (0.4, 0.1, 0.5)]
)
def test_rebalanced_blend_shares_stay_valid(shares, changed, value):
    out = rebalance_blend(shares, changed, value)
    assert abs(sum(out) - 1.0) < 1e-9
    assert all(0.0 <= share <= 1.0 for share in out)
    assert all(abs(share * 20 - round(share * 20)) < 1e-9 for share in out)  # 5% steps
    assert out[changed] == min(1.0, max(0.0, round(value * 20) / 20))


def test_rebalanced_blend_keeps_the_ratio_of_the_other_two():
    assert rebalance_blend((0.6, 0.25, 0.15), 0, 0.2) == (0.2, 0.5, 0.3)
    assert rebalance_blend((0.5, 0.5, 0.0), 2, 0.5) == (0.25, 0.25, 0.5)
    assert rebalance_blend((1.0, 0.0, 0.0), 0, 0.5) == (0.5, 0.25, 0.25)
    with pytest.raises(WhatIfError):
        rebalance_blend((0.6, 0.25, 0.15), 3, 0.2)


def test_the_panel_keeps_blend_sliders_adding_to_one(what_if):
    pytest.importorskip("ipywidgets")
    panel = Panel(what_if)
    sliders = [panel.controls[f"blend_{s}"] for s in ("national", "nhs_family", "consultancy")]
    for index, value in [(0, 0.8), (1, 0.55), (2, 0.0), (2, 1.0), (1, 0.35)]:
        sliders[index].value = value
        shares = [s.value for s in sliders]
        assert abs(sum(shares) - 1.0) < 1e-9, shares
        assert panel.outcome.ok, panel.outcome.error
        assert panel.outcome.scenario.programme.phases.improvement.blend.shares() == shares


# -------------------------------------------------------------------------- cache


def test_cache_hit_returns_the_same_results_without_running(baseline):
    calls = []

    def counting_runner(*args, **kwargs):
        calls.append(args)
        return run_experiment(*args, **kwargs)

    cache = ResultCache(maxsize=2, runner=counting_runner)
    first, cached = cache.get(baseline, REPS, 5, jobs=1)
    assert not cached and len(calls) == 1
    # a what-if holds the assumptions at their values, so its change is seen alone
    assert first.manifest["uncertainty"] == "noise"
    again, cached = cache.get(baseline, REPS, 5, jobs="auto")  # workers do not matter
    assert cached and again is first and len(calls) == 1
    _, cached = cache.get(baseline, REPS, 6, jobs=1)  # another seed is another run
    assert not cached and len(calls) == 2
    other = with_changes(baseline, {"programme.cap": (baseline.programme.cap or 15) + 1})
    cache.get(other, REPS, 5, jobs=1)
    assert len(calls) == 3 and len(cache) == 2  # the least recently used was dropped
    _, cached = cache.get(baseline, REPS, 6, jobs=1)
    assert cached


def test_what_if_update_is_cached_and_paired_with_the_base(what_if):
    cap = (what_if.defaults.cap or 15) + 5
    first = what_if.update(cap=cap)
    runs = what_if.cache.runs
    second = what_if.update(cap=cap)
    assert first.ok and second.ok and second.cached and not first.cached
    assert what_if.cache.runs == runs
    name = first.scenario.name
    assert second.results.values[name] is first.results.values[name]
    assert second.charts is first.charts
    assert set(first.results.scenarios) == {what_if.base.name, name}
    assert list(first.charts) == list(CHARTS)
    assert first.png("caseload").startswith(b"\x89PNG")
    assert second.png("caseload") is first.png("caseload")  # drawn once
    table = first.headline
    assert list(table.columns) == [
        what_if.base.name,
        name,
        "difference",
        "95% CI low",
        "95% CI high",
    ]
    assert (table["95% CI low"] <= table["difference"]).all()
    assert "from the cache" in second.status()


def test_what_if_equal_to_base_differs_by_exactly_zero(what_if):
    outcome = what_if.update()
    assert outcome.ok
    assert (outcome.headline["difference"] == 0).all()


def test_updates_reuse_one_worker_pool_and_match_a_serial_run(baseline):
    serial = WhatIf(baseline, replications=6, seed=11, jobs=1)
    assert serial.pool is None  # one worker: no processes at all
    with WhatIf(baseline, replications=6, seed=11, jobs=2) as pooled:
        pool = pooled.pool
        first = pooled.update(cap=12)
        workers = pool.pids()
        second = pooled.update(cap=18)
        assert pooled.pool is pool and pool.starts == 1  # started once, at the first update
        assert len(workers) == 2 and pool.pids() == workers  # the same processes both times
        for outcome, cap in ((first, 12), (second, 18)):
            expected = serial.update(cap=cap)
            assert outcome.ok and not outcome.cached and expected.ok
            for name, values in expected.results.values.items():
                assert np.array_equal(outcome.results.values[name], values, equal_nan=True), name
            assert outcome.headline.equals(expected.headline)
            for key in CHARTS:
                assert outcome.charts[key].table.equals(expected.charts[key].table), key
        assert first.png("caseload") == serial.update(cap=12).png("caseload")  # the figure too
        assert pool._finalizer.atexit  # closed at the interpreter's exit, if not before
    assert pool.closed and not pool.pids()  # closed at the end of the with-block


# ------------------------------------------------------------------ invalid input


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"blend": (0.5, 0.3, 0.3)}, "add up to 110%, not 100%"),
        ({"blend": (0.5, 0.5)}, "must be 3 shares"),
        ({"blend": (1.5, -0.5, 0.0)}, "between 0 and 1"),
        ({"cut_date": dt.date(2024, 1, 1)}, "date of the cut"),
        ({"cut_date": "next spring"}, "must be a date"),
        ({"cap": -1}, "whole number of trusts"),
        ({"cap": 2.5}, "whole number of trusts"),
        ({"national_wte": -3.0}, "national team WTE before the cut"),
        ({"wte_after_cut": float("nan")}, "national team WTE after the cut"),
        ({"low_share": 1.5}, "low capability"),
        ({"referral_mode": "poisson", "referral_rate": float("inf")}, "referral rate"),
        ({"shortfall_policy": "borrow"}, "wait, dilute, buy"),
        ({"segmentation_rule": "deciles"}, "quartiles, fixed_thresholds"),
        ({"referral_mode": "schedule"}, "segments, poisson"),
        ({"capp": 20}, "no what-if setting called capp"),
    ],
)
def test_invalid_combination_gives_a_clear_error(what_if, changes, message):
    outcome = what_if.update(**changes)
    assert not outcome.ok and outcome.results is None
    assert message in outcome.error
    assert outcome.status().startswith("Not run: ")
    with pytest.raises(WhatIfError, match="nothing to draw"):
        outcome.figure("caseload")


def test_fixed_thresholds_need_a_scenario_that_defines_them(baseline):
    app = WhatIf(baseline, replications=REPS, jobs=1)
    outcome = app.update(segmentation_rule="fixed_thresholds")
    assert not outcome.ok and "nof_2026_27_thresholds.yaml" in outcome.error


def test_scenario_errors_are_reported_as_what_if_errors(baseline, thresholds):
    # thresholds whose first rule starts after the baseline's start date
    late = with_changes(
        thresholds,
        {
            "start_date": dt.date(2027, 6, 1),
            "segmentation.rules[0].effective_from": dt.date(2027, 1, 1),
            "segmentation.rules[1].effective_from": dt.date(2027, 4, 1),
        },
    )
    settings = Settings.from_scenario(baseline).replace(segmentation_rule="fixed_thresholds")
    with pytest.raises(WhatIfError, match="not a valid scenario: start_date"):
        build_scenario(baseline, settings, late)


def test_an_invalid_setting_in_the_panel_is_shown_not_raised(baseline, thresholds):
    pytest.importorskip("ipywidgets")
    panel = Panel(WhatIf(baseline, replications=REPS, jobs=1, thresholds=thresholds))
    panel.refresh()
    image = bytes(panel.images["caseload"].value)
    assert image.startswith(b"\x89PNG")
    panel.what_if.thresholds = None  # the fixed thresholds are offered but now undefined
    panel.controls["segmentation_rule"].value = "fixed_thresholds"
    assert not panel.outcome.ok
    assert "Not run" in panel.status.value and "thresholds" in panel.status.value
    assert bytes(panel.images["caseload"].value) == image  # the last valid charts stay


# ------------------------------------------------------------------------ the panel


def test_every_control_runs_an_update_with_a_new_scenario(what_if):
    pytest.importorskip("ipywidgets")
    panel = Panel(what_if)
    panel.refresh()
    c = panel.controls
    d = what_if.defaults
    seen = {scenario_hash(panel.outcome.scenario)}
    moves = [
        ("cap", d.cap + 3),
        ("no_cap", True),
        ("no_cap", False),  # back to the cap above: seen before
        ("national_wte", d.national_wte + 4),
        ("wte_after_cut", d.wte_after_cut - 5),
        ("cut_date", cut_date_options(what_if.base)[-1][1]),
        ("blend_national", 0.3),
        ("blend_consultancy", 0.5),
        ("shortfall_policy", "buy"),
        ("segmentation_rule", "fixed_thresholds"),
        ("low_share", round(d.low_share + 0.1, 2)),
        ("referral_mode", "poisson"),
        ("referral_rate", d.referral_rate + 2),
    ]
    for key, value in moves:
        before = panel.updates
        c[key].value = value
        assert panel.updates == before + 1, key
        assert panel.outcome.ok, (key, panel.outcome.error)
        digest = scenario_hash(panel.outcome.scenario)
        assert (digest in seen) == (key == "no_cap" and value is False), key
        seen.add(digest)
        assert panel.seconds > 0
        assert bytes(panel.images["caseload"].value).startswith(b"\x89PNG")
    assert c["cap"].disabled is False and c["referral_rate"].disabled is False
    assert panel.settings() == panel.outcome.settings
    # only the open tab is drawn; opening another draws it
    assert bytes(panel.images["comparison"].value) == b""
    panel.tabs.selected_index = list(CHARTS).index("comparison")
    assert bytes(panel.images["comparison"].value).startswith(b"\x89PNG")


def test_the_panel_shows_a_busy_indicator_never_an_empty_image(what_if):
    w = pytest.importorskip("ipywidgets")
    panel = Panel(what_if)

    def no_empty_images():
        for key, frame in panel.frames.items():
            for child in frame.children:
                assert not isinstance(child, w.Image) or bytes(child.value), key

    no_empty_images()  # before the first update: "drawing" placeholders
    seen = []
    update = what_if.update

    def watched(*args, **kwargs):  # what the panel shows while the update runs
        seen.append((panel.status.value, [f._dom_classes for f in panel.frames.values()]))
        no_empty_images()
        return update(*args, **kwargs)

    what_if.update = watched
    try:
        panel.refresh()
        panel.controls["cap"].value = (what_if.defaults.cap or 15) + 2
    finally:
        del what_if.update
    assert len(seen) == 2
    for status, classes in seen:
        assert "sim-whatif-spinner" in status and "Updating" in status
        assert all("sim-whatif-stale" in c for c in classes)  # charts dimmed meanwhile
    no_empty_images()
    open_key = list(CHARTS)[panel.tabs.selected_index]
    assert "sim-whatif-stale" not in panel.frames[open_key]._dom_classes  # redrawn
    assert "sim-whatif-spinner" not in panel.status.value
    other = next(key for key in CHARTS if key != open_key)
    assert not isinstance(panel.frames[other].children[0], w.Image)  # a placeholder
    panel.tabs.selected_index = list(CHARTS).index(other)
    assert panel.frames[other].children == (panel.images[other],)
    no_empty_images()


# ------------------------------------------------------------------ the headline table


def test_headline_table_shows_the_vocabulary_headlines_with_their_units(what_if):
    table = what_if.update().headline
    assert len(table) == len(HEADLINES)  # every figure, in the vocabulary's order
    assert list(table.index) == [
        "Trusts in programme (average)",
        "Trusts waiting (average)",
        "Admissions (total)",
        "Mean wait of those admitted (weeks)",
        "National team utilisation (%)",
        "Total cost (£m)",
    ]


def test_the_engine_does_not_import_ipywidgets():
    code = (
        "import sys, sim.apps.whatif.engine, sim.apps.whatif.settings; "
        "sys.exit('ipywidgets' in sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT).returncode == 0


# ------------------------------------------------------- less work, the same figures


@pytest.fixture(scope="module")
def many(baseline):
    """A what-if with enough replications for numpy to sum in blocks (pairwise sums of a
    lone column would differ in the last digits from the whole matrix's)."""
    return WhatIf(baseline, replications=40, seed=7, jobs=1).update(cap=18)


@pytest.mark.parametrize(
    "rows",
    [
        [row for rows in CHART_ROWS.values() for row in rows],
        CHART_ROWS["caseload"],
        [("waiting", "horizon", "all")],  # a lone row
        [
            ("cost", "year", "total"),
            ("in_programme", "month", "all"),
            ("utilisation", "horizon", "national"),
        ],
        [("no_such_metric", "quarter", "all")],
    ],
    ids=["charts", "caseload", "one row", "mixed", "none"],
)
def test_the_summary_of_selected_rows_is_the_full_summary_of_those_rows(many, rows):
    results = many.results
    full = results.summary()
    masks = [rows_mask(results.keys[name], rows) for name in results.values]
    expected = full[np.concatenate(masks)].reset_index(drop=True)
    selected = summary_of_rows(results, rows)
    pd.testing.assert_frame_equal(selected, expected, check_exact=True)
    assert len(selected) == sum(int(m.sum()) for m in masks)
    one = summary_of_rows(results, rows, [many.scenario.name])
    pd.testing.assert_frame_equal(
        one, expected[expected["scenario"] == many.scenario.name].reset_index(drop=True),
        check_exact=True,
    )  # fmt: skip


def test_charts_from_the_selected_rows_are_those_of_the_full_summary(many):
    from sim.outputs.charts import caseload_fan, comparison, team_demand, waiting_fan

    results, name = many.results, many.scenario.name
    base = next(n for n in results.scenarios if n != name)
    charts = Charts(results, base, name)
    assert list(charts) == list(CHARTS) and charts.prepared() == []  # prepared when asked for
    full = results.only(name).summary()
    expected = {
        "caseload": caseload_fan(results, full, name),
        "waiting": waiting_fan(results, full, name),
        "team": team_demand(results, full, name),
        "comparison": comparison(results, base),  # from every row, not the horizon's alone
    }
    for key in ("team", "caseload"):
        charts[key]
    assert charts.prepared() == ["caseload", "team"]
    eager = chart_data(results, base, name)
    for key, chart in expected.items():
        for field in dataclasses.fields(chart):
            want = getattr(chart, field.name)
            _assert_same(getattr(charts[key], field.name), want, f"{key}.{field.name}")
            _assert_same(getattr(eager[key], field.name), want, f"{key}.{field.name}")


def _assert_same(got, want, where: str) -> None:
    """Equal to the last digit: tables, and dicts holding tables."""
    if isinstance(want, pd.DataFrame):
        pd.testing.assert_frame_equal(got, want, check_exact=True)
    elif isinstance(want, dict):
        assert list(got) == list(want), where
        for name in want:
            _assert_same(got[name], want[name], f"{where}.{name}")
    else:
        assert got == want, where


def test_chart_pngs_have_the_pixels_of_a_plain_savefig(many):
    image = pytest.importorskip("PIL.Image")

    def pixels(data: bytes) -> np.ndarray:
        return np.asarray(image.open(io.BytesIO(data)).convert("RGBA"))

    for key in ("caseload", "team"):
        buffer = io.BytesIO()
        many.figure(key).savefig(buffer, format="png", dpi=144, bbox_inches="tight")
        expected = pixels(buffer.getvalue())
        many._pngs.clear()
        first = many.png(key)
        many._pngs.clear()
        again = many.png(key)  # the kept renderer, its text measurements cached
        assert np.array_equal(pixels(first), expected), key
        assert np.array_equal(pixels(again), expected), key


def test_a_scenario_is_built_once_for_each_combination_of_settings(baseline, thresholds):
    app = WhatIf(baseline, replications=REPS, jobs=1, thresholds=thresholds)
    settings = app.defaults.replace(cap=21)
    first = app.scenario(settings)
    assert app.scenario(app.defaults.replace(cap=21)) is first  # equal settings
    assert (
        app.scenario(settings.replace(national_wte=float(settings.national_wte) + 1)) is not first
    )
    rule = settings.replace(segmentation_rule="fixed_thresholds")
    assert app.scenario(rule).segmentation.rules != first.segmentation.rules
    app.thresholds = None  # built again from what the what-if now holds: no thresholds
    with pytest.raises(WhatIfError, match="thresholds"):
        app.scenario(rule)
