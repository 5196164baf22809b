"""LLM-stage cost per document: time inside llama.cpp versus the whole stage, and prefix caching.

    python benchmarks/llm_stage.py MODEL.gguf [SPLIT_DIR] [--documents 10] [--threads N]

Runs the dictionary stage on CodiEsp gold mentions (dictionary without dev),
then times the LLM stage document by document, twice: with llama.cpp's prefix
reuse (the system text and example are evaluated once) and with the cache reset
before every call.  Prints seconds per document, prompt tokens evaluated per
document, and the share of the stage's time spent outside llama.cpp (our
overhead: prompt building, grammar compilation, checking).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.linking.llm.backend import BackendSettings, LlamaBackend
from engine.linking.llm.linker import LLMLinker, ModelIdentity
from engine.linking.pipeline import Pipeline
from engine.text.annotations import load_codiesp

DEFAULT_SPLIT = Path(__file__).resolve().parents[2] / "shared/data/codiesp/dev"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", type=Path)
    parser.add_argument("split", nargs="?", type=Path, default=DEFAULT_SPLIT)
    parser.add_argument("--documents", type=int, default=10)
    parser.add_argument("--threads", type=int, default=BackendSettings().n_threads)
    args = parser.parse_args()

    corpus = load_codiesp(args.split)[: args.documents]
    pipeline = Pipeline.bundled("es", exclude=frozenset({"codiesp-dev"}))
    settled = [(g.document, pipeline.code(g.document, [m.mention for m in g.mentions]).assignments) for g in corpus]
    backend = LlamaBackend()
    backend.load(args.model, BackendSettings(n_threads=args.threads, n_ctx=8192))
    print(f"{args.model.name}, {len(corpus)} CodiEsp documents, {args.threads} threads")
    for label, reset in (("prefix cache", False), ("no cache", True)):
        def generate(messages, schema, max_tokens, cancel, on_text, on_prompt=None):
            if reset:
                backend.reset()
            return backend.generate_json(messages, schema, max_tokens, cancel, on_text=on_text, on_prompt=on_prompt)

        linker = LLMLinker(generate, pipeline.catalog, "es", ModelIdentity(args.model.name, ""))
        started = time.perf_counter()
        for document, assignments in settled:
            linker.link(document, assignments)
        stage = time.perf_counter() - started
        s = linker.stats
        n = len(corpus)
        print(
            f"{label:>12}: {stage / n:6.2f} s/doc  prompt {s.prompt_tokens / n:6.0f} tok/doc, "
            f"evaluated {s.evaluated_prompt_tokens / n:6.0f} tok/doc, generated {s.completion_tokens / n:4.0f}; "
            f"inside llama.cpp {s.llama_seconds:.1f} s of {stage:.1f} s → overhead {1 - s.llama_seconds / stage:.1%}; "
            f"{s.mentions} mentions, {s.answered} answered, {s.none} none, {s.invalid} invalid"
        )
    backend.unload()


if __name__ == "__main__":
    main()
