"""One clock for a Cleo client (limiter, retry sleeps) and the Cleo simulator: the client's
sleeps advance the simulator's clock instead of waiting, so Cleo's real 5-per-second limit
and every backoff cost no real time, deterministically."""
from __future__ import annotations


class SimulatedTime:
    def __init__(self, sim) -> None:
        self.sim = sim
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.sim.clock.now()

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.sim.advance(seconds)
