"""Coding cost against document size: the CLI on one 1, 5 and 20 MB document, and a 20 MB single line.

Each size runs in its own ``python -m engine code DOC -o CSV`` child: wall
time, CPU time (user + system, which other work on the machine does not
inflate) and peak RSS of that child alone.  A one-line document measured in
the same run is the peer whose cost (start-up, dictionary load) is subtracted.
Linear cost means the same CPU seconds per MB at every size: the last line
prints the ratio of the 20 MB per-MB cost to the 1 MB one (linear ⇒ about 1).

    PYTHONPATH=$PWD python benchmarks/size_curve.py [--sizes 1 5 19.9]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.bounded import python_argv
from tests.hostile_corpus import GOOD_TEXT, clinical_text

LIMIT_MB = 19.9  # "20 MB": just under the reader's 20,000,000-byte limit


def code_once(folder: Path, name: str, text: str) -> tuple[float, float, float]:
    """(wall seconds, CPU seconds, peak RSS MB) of coding one document through the CLI."""
    document = folder / f"{name}.txt"
    document.write_text(text, encoding="utf-8")
    started = time.perf_counter()
    child = subprocess.Popen(python_argv("code", str(document), "-o", str(folder / f"{name}.csv")), cwd=ROOT,
                             env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)  # this child's own rusage
    wall = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{name}: exit status {os.waitstatus_to_exitcode(status)}")
    document.unlink()
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=float, nargs="+", default=[1, 5, LIMIT_MB], help="sizes in MB")
    args = parser.parse_args()
    runs = [(f"{mb:g} MB", mb, False) for mb in args.sizes] + [(f"{max(args.sizes):g} MB one line",
                                                                max(args.sizes), True)]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        _, base, base_rss = code_once(folder, "peer", GOOD_TEXT)
        print(f"peer (one line: start-up and dictionary): {base:.2f} CPU s, peak RSS {base_rss:.0f} MB")
        print(f"{'document':<18} {'MB':>6} {'wall s':>7} {'CPU s':>7} {'net CPU':>7} {'MB/s':>6} {'s per MB':>8} "
              f"{'peak RSS MB':>11}")
        per_mb: dict[str, float] = {}
        for label, mb, single_line in runs:
            text = clinical_text(int(mb * 1_000_000), single_line)
            size = len(text.encode("utf-8")) / 1_000_000
            wall, cpu, rss = code_once(folder, label.replace(" ", "-"), text)
            net = max(cpu - base, 1e-9)
            per_mb[label] = net / size
            print(f"{label:<18} {size:>6.2f} {wall:>7.2f} {cpu:>7.2f} {net:>7.2f} {size / net:>6.2f} "
                  f"{net / size:>8.3f} {rss:>11.0f}", flush=True)
    small, large = runs[0][0], runs[-2][0]
    print(f"per-MB cost {large} / {small}: {per_mb[large] / per_mb[small]:.2f} (linear: about 1); "
          f"one line / lines at {large}: {per_mb[runs[-1][0]] / per_mb[large]:.2f}")


if __name__ == "__main__":
    main()
