"""NHS calendar labels and named random streams."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys

import numpy as np

from sim.calendar import (
    financial_quarter,
    financial_year,
    quarter_label,
    quarter_starts,
    weeks_between,
)
from sim.streams import Streams, stable_hash, stream


def test_financial_year_runs_april_to_march():
    assert financial_year(dt.date(2026, 4, 1)) == "2026/27"
    assert financial_year(dt.date(2027, 3, 31)) == "2026/27"
    assert financial_year(dt.date(2099, 12, 1)) == "2099/00"
    assert [financial_quarter(dt.date(2026, m, 1)) for m in (4, 7, 10, 1)] == [1, 2, 3, 4]
    assert quarter_label(dt.date(2027, 2, 14)) == "2026/27 Q4"


def test_quarter_starts_are_strictly_after_start():
    starts = quarter_starts(dt.date(2026, 4, 1), dt.date(2027, 4, 1))
    assert starts == [dt.date(2026, 7, 1), dt.date(2026, 10, 1), dt.date(2027, 1, 1)]
    assert quarter_starts(dt.date(2026, 5, 15), dt.date(2026, 7, 2)) == [dt.date(2026, 7, 1)]
    assert weeks_between(dt.date(2026, 4, 1), dt.date(2026, 4, 15)) == 2.0


def test_streams_are_keyed_by_seed_replication_and_purpose():
    a = stream(1, 0, "score_noise").random(5)
    np.testing.assert_array_equal(a, stream(1, 0, "score_noise").random(5))
    assert not np.array_equal(a, stream(1, 1, "score_noise").random(5))
    assert not np.array_equal(a, stream(2, 0, "score_noise").random(5))
    assert not np.array_equal(a, stream(1, 0, "deficit").random(5))


def test_streams_do_not_depend_on_creation_order():
    first = Streams(3, 4)
    x = first["a"].random(3)
    y = first["b"].random(3)
    second = Streams(3, 4)
    np.testing.assert_array_equal(second["b"].random(3), y)
    np.testing.assert_array_equal(second["a"].random(3), x)


def test_stable_hash_is_fixed():
    # a changed hash would silently change every stream: pin it
    assert stable_hash("score_noise") == 158908616
    assert stable_hash("referrals") == 2948783732
    # the same in another process with another string-hash seed (Python's hash() is not)
    code = "from sim.streams import stable_hash; print(stable_hash('score_noise'))"
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.stdout.strip() == "158908616", out.stderr
