"""Measure the dictionary stage's unambiguity rule on CodiEsp dev (gold mentions).

    python benchmarks/unambiguity_rule.py [SPLIT_DIR]

For each candidate rule: how many gold mentions the dictionary settles on its
own (coverage) and how often the settled code is right (precision at category
and full-code level).  The dictionary is loaded without codiesp-dev.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.core.codes import Level, at_level
from engine.terms.dictionary import LinkingRule, TermDictionary
from engine.text.annotations import load_codiesp

DEFAULT_SPLIT = Path(__file__).resolve().parents[2] / "shared/data/codiesp/dev"
RULES = [(1.0, 1), (0.9, 2), (0.75, 2), (0.75, 1), (0.6, 2), (0.5, 1), (0.0, 1)]


def main() -> None:
    split = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_SPLIT
    dictionary = TermDictionary.bundled("es", frozenset({"codiesp-dev"}))
    gold = [(m.mention.text, m.code) for d in load_codiesp(split) for m in d.mentions]
    entries = [(dictionary.lookup(text), code) for text, code in gold]
    default = LinkingRule()
    print(f"{len(gold)} gold mentions, {sum(e is not None for e, _ in entries)} with an exact dictionary entry")
    print("min_share  min_count  settled  coverage  precision(category)  precision(full)")
    for share, minimum in RULES:
        rule = LinkingRule(share, minimum)
        decided = [(rule.decide(e), code) for e, code in entries if e is not None]
        settled = [(d[0], code) for d, code in decided if d]
        right_cat = sum(at_level(c, Level.CATEGORY) == at_level(g, Level.CATEGORY) for c, g in settled)
        right_full = sum(c == g for c, g in settled)
        mark = "  ← default" if (share, minimum) == (default.min_share, default.min_count) else ""
        print(
            f"{share:9.2f}  {minimum:9d}  {len(settled):7d}  {len(settled) / len(gold):8.1%}"
            f"  {right_cat / len(settled):19.3f}  {right_full / len(settled):15.3f}{mark}"
        )


if __name__ == "__main__":
    main()
