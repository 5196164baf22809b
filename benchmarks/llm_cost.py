"""Expected LLM-stage seconds per document: token counts × measured llama.cpp speeds.

    python benchmarks/llm_tokens.py MODEL.gguf --json after.json   (and the same on prompt 1: before.json)
    python benchmarks/llm_cost.py before.json after.json [--measured S_BEFORE S_AFTER]

The counts are ``benchmarks/llm_tokens.py``'s (the model's own tokenizer on
CodiEsp dev 1–20): prompt tokens evaluated and tokens generated per document,
before (prompt 1: the whole document, every open mention, 10 candidates) and
after (prompt 2: local context, the skip margin, 4 candidates).  The speeds
are raw llama.cpp, Q4_K_M, measured on this project's 2-core machine with real
tensor shapes (issue 16), and an 8-core laptop for 8B.  An 8B model's
tokenizer differs from Qwen2.5's; the projection uses the same token counts.

``--measured`` takes the seconds per document that ``icdlinker eval --model …``
printed for real runs on the same documents ("llm: … per document N s") and
prints them beside the 1.5B projection: the ratio is what the app's own run costs on top of raw llama.cpp
speed (grammar-constrained sampling, small batches), and it scales the other
rows into a calibrated projection.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

# (machine, prompt-eval tokens/s, generation tokens/s)
PROFILES = (
    ("1.5B, 2 cores", 54.0, 17.0),
    ("8B, 2 cores", 9.0, 3.7),
    ("12B, 2 cores", 5.8, 1.9),
    ("8B, 8-core laptop", 50.0, 10.0),
)


def per_document(path: Path) -> tuple[str, float, float]:
    data = json.loads(path.read_text(encoding="utf-8"))
    rows = data["documents"]
    evaluated = sum(r["evaluated"] for r in rows) / len(rows)
    generated = sum(r["generated"] for r in rows) / len(rows)
    return f"{data['prompt_version']} (margin {data['skip_margin']:.2f})", evaluated, generated


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("tokens", nargs="+", type=Path, help="benchmarks/llm_tokens.py JSON: before [after]")
    parser.add_argument("--measured", nargs="+", type=float, default=[], metavar="S",
                        help="seconds per document of real runs (eval's llm line), in the same order")
    args = parser.parse_args()
    runs = [per_document(path) for path in args.tokens[:2]]
    print("tokens per CodiEsp dev document (1–20): " + "; ".join(
        f"{label}: {evaluated:.0f} evaluated, {generated:.0f} generated" for label, evaluated, generated in runs))
    names = ["before", "after"][: len(runs)]
    header = f"{'expected s/doc':<20}" + "".join(f"{name:>10}" for name in names) + "     ratio"
    print(header)
    rows = []
    for machine, prompt_speed, generation_speed in PROFILES:
        seconds = [evaluated / prompt_speed + generated / generation_speed for _, evaluated, generated in runs]
        rows.append((machine, seconds))
        print(_row(machine, seconds))
    if not args.measured:
        return
    measured = args.measured[: len(runs)]
    print(_row("measured, 1.5B", measured))
    factors = [m / p for m, p in zip(measured, rows[0][1])]
    print("measured / expected for 1.5B: " + ", ".join(f"{f:.2f}" for f in factors) + "; calibrated:")
    for machine, seconds in rows[1:]:
        print(_row(machine, [s * f for s, f in zip(seconds, factors)]))


def _row(label: str, seconds: list[float]) -> str:
    ratio = f"{seconds[0] / seconds[-1]:9.1f}×" if len(seconds) > 1 and seconds[-1] else ""
    return f"{label:<20}" + "".join(f"{s:>10.1f}" for s in seconds) + ratio


if __name__ == "__main__":
    main()
