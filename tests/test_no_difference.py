"""Saying plainly when a variant makes no difference at all (issue 12, item 7).

Under common random numbers a paired difference that is exactly zero in every replication
means the variant changed nothing in that output. `run`, `compare` and the chart pack say
so, and a variant that does move things is never reported as identical.
"""

from __future__ import annotations

import contextlib
import io
import itertools

import numpy as np
import pandas as pd
import pytest

from sim.analysis.compare import identical_outputs
from sim.apps.cli import main
from sim.outputs.charts import chart_set
from sim.outputs.report import render_page
from sim.outputs.summary import no_difference_sentences
from sim.results import load_results

from .conftest import SCENARIOS

PERIODS = ("2026-04", "2026-05", "2026-06")


def _tidy(values: dict[tuple[str, str, str], list[list[float]]]) -> pd.DataFrame:
    """A tidy table from {(scenario, metric, group): replications x monthly periods}."""
    rows = []
    for (scenario, metric, group), matrix in values.items():
        for replication, period in itertools.product(range(len(matrix)), range(len(PERIODS))):
            rows.append((scenario, replication, "month", PERIODS[period], metric, group,
                         matrix[replication][period]))  # fmt: skip
    return pd.DataFrame(
        rows, columns=["scenario", "replication", "frequency", "period", "metric", "group", "value"]
    )


@pytest.fixture()
def constructed():
    base = {
        "in_programme": [[10, 11, 12], [9, 9, 10]],
        "waiting": [[3, 2, 2], [4, 4, 5]],
        "admissions": [[1, 2, 0], [0, 1, 1]],
        "mean_wait_weeks": [[8.5, np.nan, 4.0], [np.nan, 6.0, 7.25]],
        "national_demand_exceeded": [[0, 0, 0], [0, 0, 0]],
    }
    same = {k: [list(r) for r in v] for k, v in base.items()}
    same["waiting"][1][2] = 5 * (1 + 1e-14)  # rounding in the last digits is not a difference
    moved = {k: [list(r) for r in v] for k, v in base.items()}
    moved["admissions"][1] = [1, 0, 1]  # same total, different months: not identical
    moved["waiting"][0][0] = 3.5
    moved["national_demand_exceeded"][0][1] = 1
    table = {}
    for name, data in (("base", base), ("same", same), ("moved", moved)):
        for metric, matrix in data.items():
            table[(name, metric, "all")] = matrix
    return _tidy(table)


def _flags(identical: pd.DataFrame, scenario: str) -> dict[str, tuple[bool, int]]:
    rows = identical[identical["scenario"] == scenario]
    return {r.output: (r.identical, r.replications_differing) for r in rows.itertuples()}


def test_identical_and_differing_outputs_on_a_constructed_table(constructed):
    identical = identical_outputs(constructed, "base")
    assert set(identical["scenario"]) == {"same", "moved"}
    assert _flags(identical, "same") == {
        "caseload": (True, 0),
        "waiting list": (True, 0),
        "admissions": (True, 0),
        "waiting times": (True, 0),  # missing in both counts as equal
    }
    assert _flags(identical, "moved") == {
        "caseload": (True, 0),
        "waiting list": (False, 1),
        "admissions": (False, 1),  # every period is checked, not only the total
        "waiting times": (True, 0),
    }
    assert identical["replications"].eq(2).all()
    never_short = identical.groupby("scenario")["national_never_short"].first()
    assert never_short["same"] and not never_short["moved"]
    with pytest.raises(KeyError, match="nosuch"):
        identical_outputs(constructed, "nosuch")


def test_sentences_name_what_is_identical_and_what_differs(constructed):
    sentences = no_difference_sentences(identical_outputs(constructed, "base"))
    assert sentences["same"].startswith("No difference from base at all: caseload, waiting list")
    assert "national team was never short" in sentences["same"]
    assert sentences["moved"] == (
        "No difference from base in caseload or waiting times in any replication; "
        "differs in waiting list and admissions."
    )


# ------------------------------------------------------------------- end to end


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory):
    """Baseline (large team, 2 years) against a shortfall policy that cannot matter (the
    team is never short), the shipped higher_deficit's shares (deficit cannot put a trust in
    segment 4 under quartiles) and a smaller cap (moves everything)."""
    folder = tmp_path_factory.mktemp("no_difference")
    baseline = (SCENARIOS / "baseline.yaml").resolve()
    files = {
        "big_team": f"extends: {baseline}\nname: big_team\nhorizon_years: 2\n"
        "team: {national: {wte_schedule: [{effective_from: 2025-04-01, wte: 500}]}}\n",
        "big_team_dilute": "extends: big_team.yaml\nname: big_team_dilute\n"
        "team: {shortfall_policy: dilute}\n",
        "big_team_deficit": "extends: big_team.yaml\nname: big_team_deficit\n"
        "population: {tables: {acute: {deficit: {long_run_share: 0.92}},\n"
        "  non_acute: {deficit: {long_run_share: 0.35}}, ambulance: {deficit: {long_run_share: 0.35}}}}\n",
        "big_team_cap_10": "extends: big_team.yaml\nname: big_team_cap_10\nprogramme: {cap: 10}\n",
    }
    for name, text in files.items():
        (folder / f"{name}.yaml").write_text(text, encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def run_output(run_folder):
    out = run_folder / "run"
    paths = [str(run_folder / f"{n}.yaml") for n in
             ("big_team", "big_team_dilute", "big_team_deficit", "big_team_cap_10")]  # fmt: skip
    text = io.StringIO()
    with contextlib.redirect_stdout(text):  # module-scoped: capsys is per test
        code = main(
            ["run", *paths, "--reps", "6", "--seed", "11", "--jobs", "1", "--out", str(out)]
        )
    assert code == 0
    return out, text.getvalue()


def _paragraph(text: str, start: str) -> str:
    """The wrapped lines from the one starting with ``start`` to the next blank or item."""
    lines = text.splitlines()
    i = next(i for i, line in enumerate(lines) if line.strip().startswith(start))
    block = [lines[i].strip()]
    for line in lines[i + 1 :]:
        if not line.startswith("    ") or not line.strip():
            break
        block.append(line.strip())
    return " ".join(block)


def _moves_the_programme(sentence: str) -> bool:
    """The sentence of a variant that changes caseload, waiting list and admissions."""
    return sentence == "Differs from big_team in every output checked." or (
        "differs in caseload, waiting list, admissions" in sentence
        and not sentence.startswith("No difference from big_team in caseload")
    )


def test_run_says_which_variants_make_no_difference(run_output):
    _, text = run_output
    assert "Compared with big_team (the first scenario)" in text
    dilute = _paragraph(text, "big_team_dilute:")
    assert "No difference from big_team at all" in dilute
    assert "shortfall policy never came into play" in dilute
    deficit = _paragraph(text, "big_team_deficit:")
    assert "No difference from big_team in caseload, waiting list, admissions" in deficit
    assert "differs in trusts by segment and trusts in deficit" in deficit
    assert "not the number in segment 4" in deficit
    cap = _paragraph(text, "big_team_cap_10:")
    assert _moves_the_programme(cap.removeprefix("big_team_cap_10: "))


def test_compare_marks_identical_outputs(run_output, capsys):
    out, _ = run_output
    assert main(["compare", str(out), "--baseline", "big_team"]) == 0
    text = capsys.readouterr().out
    dilute = text.split("big_team_dilute minus big_team")[1].split("minus")[0]
    assert "No difference from big_team at all" in " ".join(dilute.split())
    assert dilute.count("(identical in every replication)") == 7
    cap = text.split("big_team_cap_10 minus big_team")[1]
    assert _moves_the_programme(" ".join(cap.split("\n  trusts in programme")[0].split()))
    headline = cap.split("trusts in programme")[1].split("national team")[0]
    assert "identical" not in headline  # caseload, waiting, admissions, wait: real numbers


def test_detection_matches_the_run_and_does_not_hide_real_differences(run_output):
    out, _ = run_output
    results = load_results(out)
    identical = identical_outputs(results, "big_team")
    assert identical.equals(identical_outputs(results.table(), "big_team"))
    cap = identical[identical["scenario"] == "big_team_cap_10"].set_index("output")
    assert not cap.loc[
        ["caseload", "waiting list", "admissions", "waiting times"], "identical"
    ].any()
    assert (
        (cap["replications_differing"] == 6).loc[["caseload", "waiting list", "admissions"]].all()
    )


def test_chart_pack_states_no_difference(run_output):
    out, _ = run_output
    results = load_results(out)
    # the page as `report` writes it, without drawing every chart (the slow part)
    page = render_page(results, chart_set(results, "big_team"))
    section = page.split('id="no-difference"')[1].split("</ul>")[0]
    # the page names the scenarios by their titles (from their names, as these files give none)
    assert "<strong>Big team dilute</strong>: No difference from Big team at all" in section
    assert (
        "<strong>Big team deficit</strong>: No difference from Big team in caseload, waiting "
        "list, admissions" in section
    )
    cap = section.split("<strong>Big team cap 10</strong>: ")[1].split("</li>")[0]
    assert _moves_the_programme(cap.replace("Big team", "big_team"))
