"""The engine interface: what every text-to-speech engine takes (speech tokens) and gives (a ``Synthesis``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np


@dataclass(frozen=True)
class Synthesis:
    samples: np.ndarray  # int16, mono
    sample_rate: int
    token_times: tuple[tuple[float, float], ...]  # one per speech token, seconds from the first sample

    @property
    def duration(self) -> float:
        return len(self.samples) / self.sample_rate


class Engine(Protocol):
    name: str

    def identity(self) -> dict[str, Any]:
        """Everything about the engine that changes its output (goes into the cache key)."""
        ...

    def synthesize(self, tokens: Sequence[str]) -> Synthesis: ...
