"""Named random-number streams keyed by (master seed, replication, purpose).

Every kind of random decision (score noise, deficit switching, catastrophic failures, ...)
draws from its own ``numpy.random.Generator``, built from
``SeedSequence(seed, spawn_key=(replication, stable_hash(purpose)))``. Consequences:

* streams can be created in any order, in any process, and give the same numbers;
* adding a new purpose moves no existing draw;
* two scenarios run with the same (seed, replication) share every stream, which is what
  makes paired comparisons (common random numbers) tight.

There is no global random state anywhere in the package.
"""

from __future__ import annotations

import hashlib

import numpy as np


def stable_hash(purpose: str) -> int:
    """32-bit hash of a purpose name that is the same in every process and Python version."""
    return int.from_bytes(hashlib.blake2b(purpose.encode(), digest_size=4).digest(), "little")


def stream(seed: int, replication: int, purpose: str) -> np.random.Generator:
    """The generator for one purpose in one replication."""
    if seed < 0 or replication < 0:
        raise ValueError("seed and replication must be non-negative integers")
    sequence = np.random.SeedSequence(seed, spawn_key=(replication, stable_hash(purpose)))
    return np.random.Generator(np.random.PCG64(sequence))


class Streams:
    """Lazily built, cached streams of one replication: ``streams["score_noise"]``."""

    __slots__ = ("seed", "replication", "_cache")

    def __init__(self, seed: int, replication: int):
        self.seed = int(seed)
        self.replication = int(replication)
        self._cache: dict[str, np.random.Generator] = {}

    def __getitem__(self, purpose: str) -> np.random.Generator:
        generator = self._cache.get(purpose)
        if generator is None:
            generator = self._cache[purpose] = stream(self.seed, self.replication, purpose)
        return generator
