"""How many prompt tokens the LLM stage makes the model read per document, without running it.

    python benchmarks/llm_tokens.py MODEL.gguf [SPLIT_DIR] [--documents 20] [--skip-margin M] [--json OUT]

Codes CodiEsp gold mentions with the dictionary stage (dev left out of the
dictionary), builds the LLM stage's prompts exactly as a run would (same
linker, same batching, same chat template) and tokenizes them with the model's
own tokenizer (``vocab_only``: no weights are loaded, nothing is generated).
Evaluated tokens follow llama.cpp's prefix reuse: a prompt costs what it does
not share with the one before it, as in a batch.  Generated tokens are those of
a valid answer naming each mention's first candidate (the grammar's shortest
answer of a realistic shape).  ``benchmarks/llm_cost.py`` turns the JSON into
seconds per document.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.linking.llm.backend import BackendSettings, LlamaBackend
from engine.linking.llm.linker import LLMLinker, ModelIdentity
from engine.linking.llm.prompt import PROMPT_VERSION
from engine.linking.pipeline import Pipeline
from engine.records.settings import AppSettings
from engine.text.annotations import load_codiesp

DEFAULT_SPLIT = Path(__file__).resolve().parents[2] / "shared/data/codiesp/dev"


@dataclass
class Counted:
    """What one call would cost, shaped like a Generation for the linker's statistics."""

    text: str
    parsed: Any
    prompt_tokens: int
    evaluated_prompt_tokens: int
    completion_tokens: int
    seconds: float = 0.0
    llama_seconds: float = 0.0


class TokenCounter:
    """The linker's ``generate``: tokenizes the prompt and a first-candidate answer instead of running."""

    def __init__(self, backend: LlamaBackend) -> None:
        self.backend = backend
        self.previous: list[int] = []

    def __call__(self, messages, schema, max_tokens, cancel, on_text, on_prompt=None) -> Counted:  # noqa: ANN001
        tokens = self.backend.prompt_tokens(messages)
        shared = 0
        for old, new in zip(self.previous, tokens):
            if old != new:
                break
            shared += 1
        self.previous = tokens
        answer = {key: spec["enum"][0] for key, spec in schema["properties"].items()}
        text = json.dumps(answer, ensure_ascii=False)
        completion = len(self.backend.tokenize(text)) + 1  # and the end-of-turn token
        return Counted(text, {}, len(tokens), len(tokens) - shared, completion)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", type=Path)
    parser.add_argument("split", nargs="?", type=Path, default=DEFAULT_SPLIT)
    parser.add_argument("--documents", type=int, default=20)
    parser.add_argument("--skip-margin", type=float, default=AppSettings().llm_skip_margin)
    parser.add_argument("--candidates", type=int, help="candidates shown per mention (default: the linker's)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    corpus = load_codiesp(args.split)[: args.documents]
    pipeline = Pipeline.bundled("es", exclude=frozenset({"codiesp-dev"}))
    backend = LlamaBackend()
    backend.load(args.model, BackendSettings(vocab_only=True, n_ctx=512))
    counter = TokenCounter(backend)
    identity = ModelIdentity(args.model.name, "")
    linker = LLMLinker(counter, pipeline.catalog, "es", identity, skip_margin=args.skip_margin)
    linker.candidates_per_mention = args.candidates or linker.candidates_per_mention
    rows = []
    for gold in corpus:
        before = (linker.stats.prompt_tokens, linker.stats.evaluated_prompt_tokens, linker.stats.completion_tokens,
                  linker.stats.mentions, linker.stats.calls)
        assignments = pipeline.code(gold.document, [m.mention for m in gold.mentions]).assignments
        linker.link(gold.document, assignments)
        s = linker.stats
        row = dict(zip(("prompt", "evaluated", "generated", "asked", "calls"),
                       (a - b for a, b in zip((s.prompt_tokens, s.evaluated_prompt_tokens, s.completion_tokens,
                                               s.mentions, s.calls), before))))
        rows.append({"document": gold.document.id, **row})
    backend.unload()
    n = len(rows)
    total = {key: sum(r[key] for r in rows) for key in ("prompt", "evaluated", "generated", "asked", "calls")}
    # The first call reads the fixed prefix (instructions, example) too; later ones reuse it.
    warm = [r["evaluated"] for r in rows[1:] if r["calls"]]
    print(f"{args.model.name}, prompt {PROMPT_VERSION}, skip margin {args.skip_margin:.2f}, "
          f"CodiEsp {args.split.name} documents 1–{n}")
    print(f"  per document: {total['asked'] / n:.1f} mentions asked in {total['calls'] / n:.1f} calls, "
          f"{total['prompt'] / n:.0f} prompt tokens, {total['evaluated'] / n:.0f} evaluated "
          f"({sum(warm) / len(warm) if warm else 0:.0f} after the first document), "
          f"{total['generated'] / n:.0f} generated; {linker.stats.skipped} mentions skipped by the margin; "
          f"{linker.candidates_per_mention} candidates per mention")
    if args.json:
        summary = {"model": args.model.name, "prompt_version": PROMPT_VERSION, "skip_margin": args.skip_margin,
                   "candidates": linker.candidates_per_mention, "split": args.split.name, "documents": rows}
        args.json.write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
