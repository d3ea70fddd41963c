"""Segmentation rules as array operations over all trusts.

Rules are data (chosen per scenario and switchable on a date, see
:class:`sim.scenario.schema.Segmentation`); this module turns them into functions of the
score array. No randomness, no simpy, no I/O.
"""

from __future__ import annotations

import numpy as np


def quartile_segments(
    score: np.ndarray, table_offset: np.ndarray, segment_of_sorted: np.ndarray, out: np.ndarray
) -> None:
    """NOF 2025/26: rank scores within each league table and split them into quartiles.

    Parameters
    ----------
    score
        Average metric score per trust (1 best to 4 worst); (trusts,) or, for several
        replications at once, (replications, trusts), each row ranked on its own.
    table_offset
        Per trust, ``10 * table index``: adding it to the score sorts trusts table by table
        (tables are contiguous and scores lie in [1, 4]), so one sort ranks every table.
    segment_of_sorted
        Segment of each position in that sorted order (each table's ranks split in four).
    out
        Segment per trust (1 to 4), the shape of ``score``, written in place.

    Ties are broken by trust order (a stable sort), so results are reproducible.
    """
    key = score + table_offset
    rows = key.reshape(-1, key.shape[-1])  # one row per replication
    # flat positions in rows.ravel() of each row's keys in sorted order: numpy's take and
    # put_along_axis build an index per axis and cost several times as much
    first = np.arange(0, rows.size, rows.shape[1])[:, None]
    flat = np.argsort(rows, axis=-1)
    flat += first
    # numpy's default sort is several times faster than its stable one and, when no two
    # keys are equal, gives the one sorted order, the stable sort's; rows with equal keys
    # (scores clipped at the scale's ends) are sorted again, stably
    ordered = rows.ravel()[flat]
    tied = (ordered[:, 1:] == ordered[:, :-1]).any(axis=1)
    if tied.any():
        flat[tied] = np.argsort(rows[tied], axis=-1, kind="stable") + first[tied]
    segments = np.empty(rows.shape, dtype=out.dtype)
    segments.ravel()[flat.ravel()] = np.tile(segment_of_sorted, len(rows))
    np.copyto(out, segments.reshape(out.shape))


def threshold_segments(score: np.ndarray, upper_bounds: np.ndarray, out: np.ndarray) -> None:
    """NOF 2026/27: fixed thresholds. ``upper_bounds`` is (trusts, 3), inclusive upper
    scores of segments 1 to 3 for each trust's league table; ``score`` is (trusts,) or
    (replications, trusts)."""
    np.add(1, (score[..., None] > upper_bounds).sum(axis=-1), out=out, casting="unsafe")


def apply_financial_override(
    rule_segment: np.ndarray,
    deficit: np.ndarray,
    worst_allowed: int,
    out: np.ndarray,
    scratch: np.ndarray | None = None,
) -> None:
    """A trust in deficit can be no higher (better) than ``worst_allowed``.

    Writes ``max(rule_segment, worst_allowed if in deficit else 0)`` into ``out``;
    ``scratch`` (int8, same length) avoids an allocation on the hot path.
    """
    floor = np.multiply(deficit, worst_allowed, out=scratch, dtype=np.int8, casting="unsafe")
    np.maximum(rule_segment, floor, out=out)


def segment_of_rank(n: int) -> np.ndarray:
    """Segment (1 to 4) of each rank 0..n-1 under the quartile rule."""
    return (1 + (4 * np.arange(n)) // n).astype(np.int8)


def segment_of_rank_by_shares(n: int, shares: tuple[float, ...]) -> np.ndarray:
    """Segment (1, 2, ...) of each rank 0..n-1 when the ranked trusts are split in the
    given shares, best first (the SOF rule: segments 1 to 3)."""
    # a position belongs to the first segment whose cumulative share it has not passed;
    # the small tolerance keeps exact boundaries (n * share whole) in the earlier segment
    bounds = np.cumsum(shares)[:-1] * n - 1e-9
    return (1 + np.searchsorted(bounds, np.arange(n), side="right")).astype(np.int8)
