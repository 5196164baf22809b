"""How long a cancel takes with a real model, and what polling for it costs.

    python benchmarks/llm_cancel.py MODEL.gguf [--threads 1] [--prompt-tokens 2000]
                                               [--delays 1 3 6] [--repeats 2]

For each delay, starts a call on a long clinical prompt, cancels it that many
seconds later from another thread (during prompt evaluation for any delay
shorter than the evaluation itself), and prints the time from ``cancel()`` to
``Cancelled``.  Then a short prompt with a long answer (one decode per token,
so the most polls per second) with a cancel token (llama.cpp polls the abort
callback after every graph node) and without one: the ratio is its cost.  Also prints the model's load time,
which a cancel has to wait for (the load itself is not interruptible).
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.core.progress import Cancelled, CancelToken
from engine.linking.llm.backend import BackendSettings, LlamaBackend

SENTENCE = (
    "Paciente fumador de 60 años con inestabilidad de la marcha, hipertensión arterial y dolor torácico "
    "atípico de una semana; refiere disnea de esfuerzo y prurito generalizado. "
)
YES_NO = {"enum": ["yes", "no"]}
TEXT = {"type": "string", "minLength": 400}


class _Counted(CancelToken):
    """Never cancelled; counts how often llama.cpp asks."""

    polls = 0

    def cancelled(self) -> bool:
        self.polls += 1
        return False


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", type=Path)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--prompt-tokens", type=int, default=2000)
    parser.add_argument("--delays", type=float, nargs="+", default=[1.0, 3.0, 6.0])
    parser.add_argument("--repeats", type=int, default=2, help="timed calls per variant, ×2 (0: skip)")
    args = parser.parse_args()

    backend = LlamaBackend()
    started = time.perf_counter()
    backend.load(args.model, BackendSettings(n_threads=args.threads, n_ctx=args.prompt_tokens + 512))
    print(f"{args.model.name}, {args.threads} thread(s): load {time.perf_counter() - started:.2f} s")
    sentences = max(1, args.prompt_tokens // len(backend.tokenize(SENTENCE)))
    messages = [{"role": "system", "content": "Eres un codificador clínico."},
                {"role": "user", "content": SENTENCE * sentences}]
    print(f"prompt: {len(backend.prompt_tokens(messages))} tokens")

    for delay in args.delays:
        backend.reset()
        token = CancelToken()
        fired: list[float] = []
        timer = threading.Timer(delay, lambda: (fired.append(time.perf_counter()), token.cancel()))
        timer.start()
        called = time.perf_counter()
        try:
            backend.generate_json(messages, YES_NO, 4, token)
            finished = time.perf_counter() - called
            print(f"cancel after {delay:4.1f} s: the call had finished in {finished:.1f} s")
        except Cancelled:
            waited = time.perf_counter() - fired[0]
            print(f"cancel after {delay:4.1f} s: Cancelled {waited * 1000:6.0f} ms later, "
                  f"{backend._llm.n_tokens} prompt tokens kept")
        timer.cancel()

    if args.repeats:
        _callback_cost(backend, [messages[0], {"role": "user", "content": SENTENCE * 3}], args.repeats)
    backend.unload()


def _callback_cost(backend: LlamaBackend, messages: list[dict[str, str]], repeats: int) -> None:
    """A short prompt and a long answer (one decode per token: the most polls a second), with and without."""
    timings: dict[str, list[float]] = {"no cancel token": [], "with cancel token": []}
    polls = _Counted()
    for label in [*timings, *reversed(timings)] * repeats:  # interleaved: the machine's load drifts
        backend.reset()
        generation = backend.generate_json(messages, TEXT, 48, polls if "with" in label else None)
        timings[label].append(generation.llama_seconds)
    for label, seconds in timings.items():
        print(f"{label:>17}: {generation.prompt_tokens} prompt + 48 generated tokens, "
              f"fastest of {len(seconds)}: {min(seconds):.2f} s")
    ratio = min(timings["with cancel token"]) / min(timings["no cancel token"])
    print(f"abort callback: {polls.polls / repeats / 2:.0f} polls a call, cost ×{ratio:.3f}")


if __name__ == "__main__":
    main()
