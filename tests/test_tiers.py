"""The tier table in conftest.py: every test file has a tier chosen on purpose."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import TIER_NAMES, TIERS, tier_of

HERE = Path(__file__).resolve().parent


def test_every_test_file_has_a_tier():
    files = sorted(p.name for p in HERE.glob("test_*.py"))
    missing = [name for name in files if name not in TIERS]
    assert not missing, (
        f"add these files to TIERS in tests/conftest.py with one of {TIER_NAMES}: {missing}"
    )


def test_every_tier_is_a_known_marker():
    assert set(TIERS.values()) <= set(TIER_NAMES), set(TIERS.values()) - set(TIER_NAMES)


def test_a_test_entry_overrides_its_file_and_unlisted_files_are_unit():
    assert tier_of("test_slow.py", "test_erlang_c_to_high_precision") == "behaviour"
    assert tier_of("test_slow.py", "test_calibration_reproduces_the_recorded_fit") == "data"
    assert tier_of("test_not_in_the_table.py", "test_anything") == "unit"
