"""Expected LLM-stage seconds per document: token counts × measured llama.cpp speeds.

    python benchmarks/llm_cost.py [BEFORE.json] [AFTER.json]

The counts are ``benchmarks/llm_tokens.py``'s (the model's own tokenizer on
CodiEsp dev 1–20): prompt tokens evaluated and tokens generated per document,
before (prompt 1: the whole document, every open mention, 10 candidates) and
after (prompt 2: local context, the skip margin, 4 candidates).  The speeds
are raw llama.cpp, Q4_K_M, measured on this project's 2-core machine with real
tensor shapes (issue 16), and an 8-core laptop for 8B.  An 8B model's
tokenizer differs from Qwen2.5's; the projection uses the same token counts.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
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
    paths = [Path(a) for a in sys.argv[1:3]] or [RESULTS / "llm_tokens_before.json", RESULTS / "llm_tokens_after.json"]
    runs = [per_document(path) for path in paths]
    print("tokens per CodiEsp dev document (1–20): " + "; ".join(
        f"{label}: {evaluated:.0f} evaluated, {generated:.0f} generated" for label, evaluated, generated in runs))
    names = ["before", "after"][: len(runs)]
    header = f"{'expected s/doc':<20}" + "".join(f"{name:>10}" for name in names) + "     ratio"
    print(header)
    for machine, prompt_speed, generation_speed in PROFILES:
        seconds = [evaluated / prompt_speed + generated / generation_speed for _, evaluated, generated in runs]
        ratio = f"{seconds[0] / seconds[-1]:9.1f}×" if len(seconds) > 1 and seconds[-1] else ""
        print(f"{machine:<20}" + "".join(f"{s:>10.1f}" for s in seconds) + ratio)


if __name__ == "__main__":
    main()
