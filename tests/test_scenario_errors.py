"""Bad scenario input gets a clear error naming the file, the field path and the reason.

Every test works on copies in ``tmp_path``: the baseline is copied there and small variants
(``extends: baseline.yaml`` plus one broken thing) or whole broken files are written next
to it. The command line must exit 2 for bad input and 1 for output problems, and must
never leave a half-written results folder behind.
"""

from __future__ import annotations

import json
import shutil
import textwrap
from pathlib import Path

import pytest
import yaml

from sim.apps.cli import main
from sim.errors import ScenarioError, ScenarioErrors
from sim.scenario import load_scenario, scenario_hash, scenario_json_schema, with_changes

SCENARIOS = Path(__file__).parents[1] / "scenarios"
BASELINE = SCENARIOS / "baseline.yaml"
WHAT_IF = "<what-if edit>"

# ------------------------------------------------------------------------------ helpers


@pytest.fixture
def base(tmp_path: Path) -> Path:
    """A copy of the documented baseline in tmp_path, for variants to extend."""
    target = tmp_path / "baseline.yaml"
    shutil.copy(BASELINE, target)
    copy_calibration(tmp_path)
    return target


def copy_calibration(folder: Path) -> None:
    """The fitted parameters the baseline extends, beside a copy of it."""
    shutil.copytree(SCENARIOS / "calibration", folder / "calibration", dirs_exist_ok=True)


@pytest.fixture(scope="module")
def loaded_baseline():
    return load_scenario(BASELINE)


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def variant(folder: Path, name: str, body: str, parent: str = "baseline.yaml") -> Path:
    """A variant file that extends ``parent`` and adds ``body`` (dedented YAML)."""
    return write(folder, name, f"extends: {parent}\n" + textwrap.dedent(body))


def errors_from(path: Path) -> list[ScenarioError]:
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    exc = info.value
    return list(exc.errors) if isinstance(exc, ScenarioErrors) else [exc]


def single_error(path: Path) -> ScenarioError:
    errors = errors_from(path)
    assert len(errors) == 1, [str(e) for e in errors]
    return errors[0]


def where(error: ScenarioError) -> tuple[str, str]:
    """(file name, field path) of an error, compared together so a failure shows both."""
    return Path(error.file).name, error.field


def assert_reason(error: ScenarioError, *parts: str) -> None:
    for part in parts:
        assert part in error.reason, f"{part!r} not in reason {error.reason!r}"


def snapshot(folder: Path) -> list[tuple[str, bytes | None]]:
    """Every file and folder (hidden ones too) under ``folder`` with file contents."""
    return sorted(
        (str(p.relative_to(folder)), p.read_bytes() if p.is_file() else None)
        for p in folder.rglob("*")
    )


# ------------------------------------------------------- one bad value in a variant file

SINGLE_FIELD_CASES = [
    pytest.param(
        """\
        population:
          tables:
            acute:
              score:
                persistance: 0.8
        """,
        "population.tables.acute.score.persistance",
        ("unknown key 'persistance'", "did you mean 'persistence'?"),
        id="unknown-key-typo",
    ),
    pytest.param(
        "horizon_yaers: 3\n",
        "horizon_yaers",
        ("unknown key 'horizon_yaers'", "did you mean 'horizon_years'?"),
        id="unknown-top-level-key-typo",
    ),
    pytest.param(
        "colour: blue\n",
        "colour",
        ("unknown key 'colour'", "allowed keys", "horizon_years", "segmentation"),
        id="unknown-top-level-key-no-match",
    ),
    pytest.param(
        """\
        population:
          tables:
            acute:
              score:
                persistence: "0.8"
        """,
        "population.tables.acute.score.persistence",
        ("valid number", "'0.8'"),
        id="quoted-number",
    ),
    pytest.param(
        """\
        population:
          tables:
            acute:
              score:
                persistence: true
        """,
        "population.tables.acute.score.persistence",
        ("valid number", "True"),
        id="bool-for-number",
    ),
    pytest.param(
        """\
        population:
          capability_reassessment_quarter: "2"
        """,
        "population.capability_reassessment_quarter",
        ("valid integer", "'2'"),
        id="quoted-integer",
    ),
    pytest.param(
        """\
        population:
          tables:
            acute:
              score:
                between_trust_sd: -0.1
        """,
        "population.tables.acute.score.between_trust_sd",
        ("greater than or equal to 0", "-0.1"),
        id="negative-sd",
    ),
    pytest.param(
        """\
        population:
          tables:
            non_acute:
              catastrophic_failure_rate_per_year: -1
        """,
        "population.tables.non_acute.catastrophic_failure_rate_per_year",
        ("greater than or equal to 0", "-1"),
        id="negative-rate",
    ),
    pytest.param(
        """\
        population:
          tables:
            acute:
              deficit:
                long_run_share: 1.5
        """,
        "population.tables.acute.deficit.long_run_share",
        ("less than or equal to 1", "1.5"),
        id="probability-above-one",
    ),
    pytest.param(
        """\
        population:
          tables:
            acute:
              deficit:
                long_run_share: {value: 1.5, unit: probability, assumption: what-if}
        """,
        "population.tables.acute.deficit.long_run_share",
        ("less than or equal to 1", "1.5"),
        id="annotated-probability-above-one",
    ),
    pytest.param(
        "horizon_years: 0\n",
        "horizon_years",
        ("greater than or equal to 0.25", "got 0"),
        id="horizon-zero",
    ),
    pytest.param(
        """\
        population:
          tables:
            acute:
              initial_segment_counts: [1, 2, 3]
        """,
        "population.tables.acute.initial_segment_counts",
        ("at least 4 items",),
        id="three-segment-counts",
    ),
    pytest.param(
        'start_date: "2026-13-01"\n',
        "start_date",
        ("valid date", "2026-13-01"),
        id="impossible-date",
    ),
    pytest.param(
        """\
        horizon_years:
          value: 3
          unit: years
          source: a published plan
          assumption: a guess
        """,
        "horizon_years",
        ("either 'source'", "not both"),
        id="annotation-source-and-assumption",
    ),
    pytest.param(
        "horizon_years: {value: 3, unit: years, range: [5, 1], assumption: a guess}\n",
        "horizon_years",
        ("range low 5.0 is above high 1.0",),
        id="annotation-range-reversed",
    ),
    pytest.param(
        "notes: {}\n",
        "notes",
        ("reserved",),
        id="reserved-notes-key",
    ),
]


@pytest.mark.parametrize(("body", "field", "reason_parts"), SINGLE_FIELD_CASES)
def test_bad_value_in_variant_names_variant_field_and_reason(
    tmp_path, base, body, field, reason_parts
):
    bad = variant(tmp_path, "bad_variant.yaml", body)
    error = single_error(bad)
    assert error.file.endswith("bad_variant.yaml")
    assert where(error) == ("bad_variant.yaml", field), str(error)
    assert_reason(error, *reason_parts)
    assert field in str(error) and "bad_variant.yaml" in str(error)


def test_several_problems_are_all_reported(tmp_path, base):
    bad = variant(
        tmp_path,
        "two_problems.yaml",
        """\
        horizon_years: -1
        population:
          capability_persistence: 2
        """,
    )
    with pytest.raises(ScenarioErrors) as info:
        load_scenario(bad)
    assert sorted(where(e) for e in info.value.errors) == [
        ("two_problems.yaml", "horizon_years"),
        ("two_problems.yaml", "population.capability_persistence"),
    ]
    assert "2 problems" in str(info.value)


def test_unknown_segmentation_rule_names_the_rule(tmp_path, base):
    bad = variant(
        tmp_path,
        "bad_rule.yaml",
        """\
        segmentation:
          rules:
            - rule: quartilez
              effective_from: 2025-04-01
        """,
    )
    error = single_error(bad)
    assert Path(error.file).name == "bad_rule.yaml"
    assert error.field.startswith("segmentation.rules[0]")
    assert "function-" not in error.field and "quartiles]" not in error.field
    assert_reason(error, "'quartilez'", "'quartiles'", "'fixed_thresholds'")


# ------------------------------------------------------------- impossible combinations

CROSS_FIELD_CASES = [
    pytest.param(
        """\
        population:
          tables:
            ambulance:
              initial_deficit_counts: [0, 3, 1, 1]
        """,
        "population.tables.ambulance.initial_deficit_counts",
        ("segment 2 has 3 trusts in deficit but only 2",),
        id="deficit-above-segment-count",
    ),
    pytest.param(
        """\
        segmentation:
          rules:
            - rule: quartiles
              effective_from: 2025-04-01
            - rule: fixed_thresholds
              effective_from: 2027-04-01
              thresholds:
                acute: [2.0, 1.9, 3.0]
                non_acute: [2.0, 2.5, 3.0]
                ambulance: [2.0, 2.5, 3.0]
        """,
        "segmentation.rules[1].thresholds.acute",
        ("thresholds must increase", "[2.0, 1.9, 3.0]"),
        id="thresholds-not-increasing",
    ),
    pytest.param(
        """\
        segmentation:
          rules:
            - rule: quartiles
              effective_from: 2025-04-01
            - rule: fixed_thresholds
              effective_from: 2024-04-01
              thresholds:
                acute: [2.0, 2.5, 3.0]
                non_acute: [2.0, 2.5, 3.0]
                ambulance: [2.0, 2.5, 3.0]
        """,
        "segmentation.rules[1].effective_from",
        ("2024-04-01 is not after", "date order"),
        id="rule-dates-out-of-order",
    ),
    pytest.param(
        """\
        segmentation:
          rules:
            - rule: quartiles
              effective_from: 2027-04-01
        """,
        "segmentation.rules[0].effective_from",
        ("start_date 2026-04-01 is before the first segmentation rule (2027-04-01)",),
        id="first-rule-after-start",
    ),
]


@pytest.mark.parametrize(("body", "field", "reason_parts"), CROSS_FIELD_CASES)
def test_impossible_combination_names_variant_and_offending_field(
    tmp_path, base, body, field, reason_parts
):
    bad = variant(tmp_path, "impossible.yaml", body)
    error = single_error(bad)
    assert where(error) == ("impossible.yaml", field), str(error)
    assert_reason(error, *reason_parts)


def test_start_date_moved_before_first_rule_names_the_variant(tmp_path, base):
    bad = variant(tmp_path, "early_start.yaml", "start_date: 2024-01-01\n")
    # pick the segmentation error: other start-date checks may also fire
    error = next(e for e in errors_from(bad) if "segmentation rule" in e.reason)
    assert Path(error.file).name == "early_start.yaml", str(error)
    assert error.field == "start_date", str(error)
    assert_reason(error, "start_date 2024-01-01 is before the first segmentation rule")


def test_impossible_values_in_whole_file(tmp_path):
    tree = yaml.safe_load(BASELINE.read_text(encoding="utf-8"))
    tree["horizon_years"] = 0
    copy_calibration(tmp_path)
    bad = tmp_path / "whole.yaml"
    bad.write_text(yaml.safe_dump(tree), encoding="utf-8")
    error = single_error(bad)
    assert where(error) == ("whole.yaml", "horizon_years"), str(error)
    assert_reason(error, "greater than or equal to 0.25")  # a quarter, the shortest horizon


# ------------------------------------------------------------------- files and extends


def test_missing_file(tmp_path):
    error = single_error(tmp_path / "nowhere.yaml")
    assert where(error) == ("nowhere.yaml", ""), str(error)
    assert_reason(error, "not found")


def test_folder_instead_of_file(tmp_path):
    (tmp_path / "folder.yaml").mkdir()
    error = single_error(tmp_path / "folder.yaml")
    assert where(error) == ("folder.yaml", ""), str(error)
    assert_reason(error, "folder")


def test_extends_missing_file(tmp_path):
    bad = write(tmp_path, "orphan.yaml", "extends: no_such_parent.yaml\nhorizon_years: 3\n")
    error = single_error(bad)
    assert where(error) == ("orphan.yaml", "extends"), str(error)
    assert_reason(error, "'no_such_parent.yaml'", "not found")


def test_extends_not_a_path(tmp_path, base):
    bad = write(tmp_path, "list_parent.yaml", "extends: [baseline.yaml]\n")
    error = single_error(bad)
    assert where(error) == ("list_parent.yaml", "extends"), str(error)
    assert_reason(error, "path of another scenario file")


def test_circular_extends(tmp_path):
    a = write(tmp_path, "a.yaml", "extends: b.yaml\nhorizon_years: 3\n")
    write(tmp_path, "b.yaml", "extends: a.yaml\nhorizon_years: 4\n")
    error = single_error(a)
    assert where(error) == ("a.yaml", "extends"), str(error)
    assert_reason(error, "circular", "a.yaml -> b.yaml -> a.yaml")


def test_file_extending_itself(tmp_path):
    me = write(tmp_path, "me.yaml", "extends: me.yaml\n")
    error = single_error(me)
    assert where(error) == ("me.yaml", "extends"), str(error)
    assert_reason(error, "circular")


# ---------------------------------------------------------------------------- raw YAML


def test_malformed_yaml_gives_line_number(tmp_path):
    bad = write(tmp_path, "broken.yaml", "name: [a, b\nhorizon_years: 3\n")
    error = single_error(bad)
    assert where(error) == ("broken.yaml", ""), str(error)
    assert_reason(error, "malformed YAML", "line 2")


def test_malformed_yaml_in_variant_names_variant(tmp_path, base):
    bad = variant(tmp_path, "broken_variant.yaml", "population:\n  tables: {acute: {mean: 2.5}\n")
    error = single_error(bad)
    assert where(error) == ("broken_variant.yaml", ""), str(error)
    assert_reason(error, "malformed YAML", "line ")


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        pytest.param("", "empty", id="empty"),
        pytest.param("# only a comment\n\n", "empty", id="comment-only"),
        pytest.param("- name: baseline\n- horizon_years: 5\n", "got list", id="list"),
        pytest.param("just words\n", "got str", id="scalar"),
    ],
)
def test_file_that_is_not_a_mapping(tmp_path, text, reason):
    bad = write(tmp_path, "odd.yaml", text)
    error = single_error(bad)
    assert where(error) == ("odd.yaml", ""), str(error)
    assert_reason(error, reason)
    if reason != "empty":
        assert_reason(error, "mapping")


def test_duplicate_top_level_key(tmp_path, base):
    bad = variant(tmp_path, "dup.yaml", "name: first\nname: second\n")
    error = single_error(bad)
    assert Path(error.file).name == "dup.yaml"
    assert error.field in ("", "name")
    assert_reason(error, "duplicate", "'name'", "line 3")


def test_duplicate_nested_key(tmp_path, base):
    bad = variant(
        tmp_path,
        "dup_nested.yaml",
        """\
        population:
          tables:
            acute:
              score:
                mean: 2.5
                mean: 2.6
        """,
    )
    error = single_error(bad)
    assert Path(error.file).name == "dup_nested.yaml"
    assert error.field in ("", "population.tables.acute.score.mean")
    assert_reason(error, "duplicate", "'mean'", "line 7")


@pytest.mark.parametrize("nested", [False, True], ids=["top-level", "as-a-value"])
def test_yaml_is_read_safely(tmp_path, capfd, nested):
    marker = tmp_path / "executed"
    payload = f'!!python/object/apply:os.system ["echo hi && touch {marker}"]'
    bad = write(tmp_path, "evil.yaml", f"name: {payload}\n" if nested else payload + "\n")
    error = single_error(bad)
    assert Path(error.file).name == "evil.yaml"
    assert_reason(error, "python/object/apply:os.system")
    assert not marker.exists()
    assert "hi" not in capfd.readouterr().out


# ------------------------------------------------------- which file an error is blamed on


def test_error_in_base_names_base_not_variant(tmp_path):
    text = BASELINE.read_text(encoding="utf-8")
    marker = "capability_persistence:\n    value: 0.7\n"
    assert text.count(marker) == 1
    copy_calibration(tmp_path)
    write(tmp_path, "broken_base.yaml", text.replace(marker, marker.replace("0.7", "1.5")))
    child = variant(tmp_path, "child.yaml", "horizon_years: 3\n", parent="broken_base.yaml")
    error = single_error(child)
    assert where(error) == ("broken_base.yaml", "population.capability_persistence"), str(error)
    assert_reason(error, "less than or equal to 1")


def test_error_in_middle_of_chain_names_middle_file(tmp_path, base):
    variant(tmp_path, "middle.yaml", "population:\n  capability_persistence: 1.2\n")
    leaf = variant(tmp_path, "leaf.yaml", "horizon_years: 3\n", parent="middle.yaml")
    error = single_error(leaf)
    assert where(error) == ("middle.yaml", "population.capability_persistence"), str(error)


def test_error_in_variant_names_variant_not_base(tmp_path, base):
    middle = variant(tmp_path, "middle.yaml", "horizon_years: 3\n")
    leaf = variant(tmp_path, "leaf.yaml", "horizon_years: -3\n", parent="middle.yaml")
    load_scenario(middle)  # the chain above the leaf is fine
    error = single_error(leaf)
    assert where(error) == ("leaf.yaml", "horizon_years"), str(error)


def test_missing_field_in_replaced_rule_list_names_variant(tmp_path, base):
    bad = variant(
        tmp_path,
        "rule_typo.yaml",
        """\
        segmentation:
          rules:
            - rule: quartiles
              effective_form: 2025-04-01
        """,
    )
    errors = errors_from(bad)
    found = sorted(where(e) for e in errors)
    # the variant replaced the whole list, so both problems are in the variant
    assert found == [
        ("rule_typo.yaml", "segmentation.rules[0].effective_form"),
        ("rule_typo.yaml", "segmentation.rules[0].effective_from"),
    ], [str(e) for e in errors]


def test_unknown_annotation_key_in_variant(tmp_path, base):
    bad = variant(tmp_path, "units_typo.yaml", "horizon_years: {value: 3, units: years}\n")
    error = errors_from(bad)[0]
    assert where(error) == ("units_typo.yaml", "horizon_years"), str(error)
    assert_reason(error, "unknown key 'units'", "did you mean 'unit'?")


# ------------------------------------------------------------------------ what-if edits


@pytest.mark.parametrize(
    ("changes", "field", "reason"),
    [
        pytest.param(
            {"population.tables.acute.score.between_trust_sd": -0.1},
            "population.tables.acute.score.between_trust_sd",
            "greater than or equal to 0",
            id="negative-sd",
        ),
        pytest.param(
            {"population.tables.acute.deficit.long_run_share": "0.5"},
            "population.tables.acute.deficit.long_run_share",
            "valid number",
            id="string-number",
        ),
        pytest.param(
            {"population.tables.acute.score.persistance": 0.5},
            "population.tables.acute.score.persistance",
            "no such field",
            id="unknown-leaf",
        ),
        pytest.param(
            {"population.tabels.acute.score.mean": 2.0},
            "population.tabels.acute.score.mean",
            "no field 'population.tabels'",
            id="unknown-branch",
        ),
        pytest.param(
            {"segmentation.rules[3].effective_from": "2025-01-01"},
            "segmentation.rules[3].effective_from",
            "segmentation.rules[3]",
            id="index-out-of-range",
        ),
    ],
)
def test_with_changes_bad_edit(loaded_baseline, changes, field, reason):
    before = loaded_baseline.model_dump()
    with pytest.raises(ScenarioError) as info:
        with_changes(loaded_baseline, changes)
    exc = info.value
    errors = exc.errors if isinstance(exc, ScenarioErrors) else [exc]
    assert len(errors) == 1, [str(e) for e in errors]
    assert (errors[0].file, errors[0].field) == (WHAT_IF, field)
    assert_reason(errors[0], reason)
    assert loaded_baseline.model_dump() == before


def test_with_changes_never_mutates_original(loaded_baseline):
    before = loaded_baseline.model_dump()
    before_hash = scenario_hash(loaded_baseline)
    field = "population.tables.acute.score.persistence"
    changed = with_changes(loaded_baseline, {field: 0.9, "name": "what_if"}, note="testing")
    assert changed.population.tables.acute.score.persistence == 0.9
    assert changed.notes[field].assumption == "testing"
    assert loaded_baseline.population.tables.acute.score.persistence == 0.85
    assert loaded_baseline.notes[field].assumption != "testing"
    with pytest.raises(ScenarioError):
        with_changes(loaded_baseline, {field: 0.95, "horizon_years": -1})
    assert loaded_baseline.model_dump() == before
    assert scenario_hash(loaded_baseline) == before_hash


# ------------------------------------------------------------------------- command line


@pytest.fixture
def in_tmp(tmp_path, monkeypatch):
    """Run the command line from tmp_path, so a default results folder would land there."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_cli_validate_bad_file(in_tmp, base, capsys):
    bad = variant(in_tmp, "typo.yaml", "population:\n  tables:\n    acute:\n      mean: 2\n")
    assert main(["validate", str(bad)]) == 2
    captured = capsys.readouterr()
    assert "typo.yaml" in captured.err
    assert "population.tables.acute.mean" in captured.err
    assert "unknown key 'mean'" in captured.err
    assert "0 of 1 scenario files valid" in captured.out


def test_cli_validate_reports_every_problem(in_tmp, base, capsys):
    bad = variant(
        in_tmp, "two.yaml", "horizon_years: -1\npopulation:\n  capability_persistence: 2\n"
    )
    assert main(["validate", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "two.yaml: horizon_years:" in err
    assert "two.yaml: population.capability_persistence:" in err


def test_cli_validate_good_folder(in_tmp, capsys):
    good = in_tmp / "good"
    good.mkdir()
    for path in SCENARIOS.glob("*.yaml"):
        shutil.copy(path, good / path.name)
    copy_calibration(good)
    shutil.copytree(SCENARIOS / "history", good / "history")  # the warm start names a history
    assert main(["validate", str(good)]) == 0
    out = capsys.readouterr().out
    n = len(list(good.glob("*.yaml")))
    assert f"{n} of {n} scenario files valid" in out


def test_cli_validate_folder_with_one_bad_file(in_tmp, base, capsys):
    variant(in_tmp, "zz_bad.yaml", "horizon_years: 0\n")
    assert main(["validate", str(in_tmp)]) == 2
    captured = capsys.readouterr()
    assert "zz_bad.yaml: horizon_years:" in captured.err
    assert "1 of 2 scenario files valid" in captured.out


def test_cli_validate_missing_file(in_tmp, capsys):
    assert main(["validate", str(in_tmp / "absent.yaml")]) == 2
    assert "absent.yaml" in capsys.readouterr().err


def test_cli_run_bad_file_exits_2_and_writes_nothing(in_tmp, base, capsys):
    bad = variant(
        in_tmp,
        "bad.yaml",
        "population:\n  tables:\n    acute:\n      deficit:\n        long_run_share: 1.5\n",
    )
    before = snapshot(in_tmp)
    out = in_tmp / "out"
    assert main(["run", str(bad), "--reps", "2", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "bad.yaml" in err
    assert "population.tables.acute.deficit.long_run_share" in err
    assert not out.exists()
    assert snapshot(in_tmp) == before


def test_cli_run_zero_reps_is_an_argument_error(in_tmp, capsys):
    with pytest.raises(SystemExit) as info:
        main(["run", "--reps", "0"])
    assert info.value.code == 2
    assert "at least 1" in capsys.readouterr().err
    assert list(in_tmp.iterdir()) == []


def test_cli_run_refuses_existing_folder(in_tmp, base, capsys):
    existing = in_tmp / "existing"
    existing.mkdir()
    (existing / "keep.txt").write_text("earlier results\n", encoding="utf-8")
    before = snapshot(in_tmp)
    assert main(["run", str(base), "--reps", "2", "--out", str(existing)]) == 1
    err = capsys.readouterr().err
    assert "existing" in err and "already exists" in err and "--force" in err
    assert snapshot(in_tmp) == before


def test_cli_run_unwritable_output(in_tmp, base, capsys):
    blocker = in_tmp / "blocker"
    blocker.write_text("a regular file, not a folder\n", encoding="utf-8")
    out = blocker / "out"
    before = snapshot(in_tmp)
    assert main(["run", str(base), "--reps", "2", "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert str(out) in err
    assert "is a file, not a folder" in err
    assert "Traceback" not in err
    assert snapshot(in_tmp) == before


# -------------------------------------------------------------------------- JSON Schema


def _as_json(path: Path):
    """A scenario file as JSON data (YAML dates become ISO strings), as an editor sees it."""
    return json.loads(json.dumps(yaml.safe_load(path.read_text(encoding="utf-8")), default=str))


def test_json_schema_is_json_and_closed():
    schema = scenario_json_schema()
    assert json.loads(json.dumps(schema)) == schema
    assert schema["additionalProperties"] is False
    assert "extends" in schema["properties"]
    assert "notes" not in schema["properties"]


def test_json_schema_accepts_baseline_and_rejects_unknown_key(tmp_path):
    jsonschema = pytest.importorskip("jsonschema")
    schema = scenario_json_schema()
    validator_cls = jsonschema.validators.validator_for(schema)
    validator_cls.check_schema(schema)
    validator = validator_cls(schema)

    data = _as_json(BASELINE)
    assert [e.message for e in validator.iter_errors(data)] == []

    data["horizon_yaers"] = 3
    messages = [e.message for e in validator.iter_errors(data)]
    assert messages and any("horizon_yaers" in m for m in messages)

    nested = _as_json(BASELINE)
    nested["population"]["tables"]["acute"]["score"]["persistance"] = 0.8
    assert any("persistance" in e.message for e in validator.iter_errors(nested))


@pytest.mark.parametrize("path", sorted(SCENARIOS.glob("*.yaml")), ids=lambda p: p.name)
def test_json_schema_accepts_every_shipped_scenario(path):
    """Variants list only what differs, so the schema must not require the rest."""
    jsonschema = pytest.importorskip("jsonschema")
    schema = scenario_json_schema()
    validator = jsonschema.validators.validator_for(schema)(schema)
    messages = [e.message for e in validator.iter_errors(_as_json(path))]
    assert messages == [], f"{path.name}: {len(messages)} errors, first {messages[:3]}"
