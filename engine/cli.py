"""The ``icdlinker`` command line: code files, evaluate on a corpus, look up a term.

This is the one place in the CLI where engine errors become messages.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import stat
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

from tqdm import tqdm

from engine.core.codes import Edition
from engine.core.errors import EngineError
from engine.core.model import DocumentResult, Mention, Span
from engine.evaluation.learning import format_curve, learning_curve
from engine.evaluation.margin import MarginTally
from engine.evaluation.metrics import CandidateRecall, ModelVersusFuzzy, TerminalCheck, evaluate
from engine.linking.llm.session import open_llm_stage
from engine.linking.pipeline import LinkTask, Pipeline
from engine.models import commands as models_commands
from engine.records import site_commands
from engine.records.settings import AppSettings
from engine.records.export import (
    CSV_COLUMNS,
    ExportOptions,
    ExportPreset,
    check_writable,
    csv_rows,
    write_csv,
    write_text,
)
from engine.records.settings import AppSettings
from engine.terms.dictionary import LANGUAGES
from engine.text.annotations import GoldDocument, load_gold
from engine.text.input_files import find_input_files

__all__ = ["COMMANDS", "main"]

EXIT_OK, EXIT_DOCUMENT_FAILED, EXIT_ERROR = 0, 1, 2


class _BarProgress:
    """Progress on stderr through tqdm; disappears when stderr is not a terminal."""

    def __init__(self, total: int, unit: str) -> None:
        self._bar = tqdm(total=total, unit=unit, file=sys.stderr, disable=None, dynamic_ncols=True)

    def update(self, done: int, total: int, message: str) -> None:
        self._bar.set_postfix_str(message[:30], refresh=False)
        self._bar.update(done - self._bar.n)

    def cancelled(self) -> bool:
        return False

    def close(self) -> None:
        self._bar.close()


_CM_VERSIONS = next(extra["choices"] for name, _, _, extra in AppSettings.describe() if name == "cm_version")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="icdlinker", description="Offline ICD-10 coding of clinical documents (no data leaves this machine)."
    )
    commands = parser.add_subparsers(dest="command", required=True)

    def language_options(command: argparse.ArgumentParser) -> None:
        command.add_argument("--lang", choices=LANGUAGES, default="es", help="document language (default es)")
        command.add_argument(
            "--edition", choices=[e.value for e in Edition], help="ICD-10 edition (default: the language's)"
        )
        command.add_argument(
            "--cm-version", choices=_CM_VERSIONS,
            help="ICD-10-CM / CIE-10-ES version whose terminal codes may be assigned "
                 "(default: the cm_version setting, the window's too)",
        )

    code = commands.add_parser("code", help="code documents (.txt, .docx, .pdf; files or folders)")
    code.add_argument("paths", nargs="+", type=Path)
    language_options(code)
    code.add_argument("-o", "--output", type=Path, help="write a CSV here instead of printing a table")
    code.add_argument(
        "--preset", choices=[p.value for p in ExportPreset], default=ExportPreset.FULL.value,
        help="CSV columns: full (every mention, with provenance) or registry (one row per code)",
    )
    code.add_argument("--excel", action="store_true", help="CSV for Excel: UTF-8 with BOM, ';' delimiter")
    code.add_argument(
        "--all-codes", action="store_true",
        help="registry preset: also codes not yet accepted (a batch run accepts none; by default they are left out)",
    )
    code.add_argument("--model", help="also run the LLM stage with this model (installed id or .gguf path)")
    given = code.add_mutually_exclusive_group()
    given.add_argument(
        "--mentions-from", type=Path, metavar="FILE",
        help="link these mentions instead of detecting: a CodiEsp *X.tsv, a brat .ann, or a folder of .ann",
    )
    given.add_argument("--marked", action="store_true", help="link the mentions marked *like this* in the text")

    ev = commands.add_parser("eval", help="evaluate on a CodiEsp split, brat folder or JSONL file")
    ev.add_argument("split", type=Path)
    language_options(ev)
    ev.add_argument("--mentions", choices=("gold", "detect"), default="gold")
    ev.add_argument("--model", help="also run the LLM stage with this model (installed id or .gguf path)")
    ev.add_argument("--no-llm", action="store_true", help="dictionary stage only, even with --model")
    ev.add_argument(
        "--llm-child-codes", type=int, default=0, metavar="N",
        help="also offer the model up to N more specific codes under each candidate",
    )
    ev.add_argument(
        "--dictionary-exclude", action="append", default=[], metavar="SPLIT",
        help="leave a CodiEsp split out of the dictionary (e.g. dev) for an honest evaluation",
    )
    ev.add_argument("--limit", type=int, help="only the first N documents")
    ev.add_argument(
        "--learn", action="store_true",
        help="learning curve: review each document to its gold annotations after coding it, teaching a fresh "
             "site dictionary (in a temporary folder) that codes the documents after it",
    )
    ev.add_argument("--score-from", type=_count, default=0, metavar="N",
                    help="with --learn: score documents from index N on (0-based; those before only teach)")
    ev.add_argument("--learn-from", type=Path, metavar="SPLIT2",
                    help="with --learn: review SPLIT2 first (not scored), then code SPLIT, learning on")
    ev.add_argument("--json", type=Path, help="also write the scores as JSON here")

    lookup = commands.add_parser("lookup", help="show what the dictionary and candidates say about a term")
    lookup.add_argument("term")
    language_options(lookup)
    models_commands.register(commands)
    site_commands.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    # Library chatter (e.g. pypdf on damaged files) is not for the coder; our
    # own one-line errors say what went wrong.
    logging.basicConfig(level=logging.ERROR, format="icdlinker: %(name)s: %(message)s")
    try:
        return COMMANDS[args.command](args)
    except EngineError as error:
        print(f"icdlinker: {error}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("icdlinker: interrupted", file=sys.stderr)
        return EXIT_ERROR
    except BrokenPipeError:  # output piped into head & co.: stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK


@contextmanager
def _pipeline(
    args: argparse.Namespace, exclude: frozenset[str] = frozenset(), settings: AppSettings | None = None
) -> Iterator[Pipeline]:
    """The pipeline the options ask for; with ``--model`` the LLM stage is loaded and freed after.

    Detection, the fuzzy threshold and the CM version follow the coder's saved settings (unless
    ``settings`` are given), as in the window, so a batch CSV and the window find the same
    mentions in a document; ``--cm-version`` overrides the version.
    """
    settings = settings or AppSettings.load()
    pipeline = Pipeline.bundled(
        args.lang, Edition(args.edition) if args.edition else None, exclude=exclude,
        policy=settings.detection_policy(), settings=settings.linker_settings(),
        version=args.cm_version or settings.cm_version,
    )
    model = getattr(args, "model", None)
    if not model or getattr(args, "no_llm", False):
        yield pipeline
        return
    stage = open_llm_stage(model, args.lang, pipeline.catalog)
    stage.linker.child_codes = getattr(args, "llm_child_codes", 0)
    stage.linker.skip_margin = settings.llm_skip_margin
    pipeline.llm = stage.linker
    try:
        yield pipeline
    finally:
        stage.close()


def _llm_summary(pipeline: Pipeline, documents: int) -> str:
    """What the LLM stage did, per document: the figures the README reports."""
    s = pipeline.llm.stats if pipeline.llm else None
    if s is None or not documents:
        return ""
    overhead = 1 - s.llama_seconds / s.seconds if s.seconds else 0.0
    return (
        f"llm: {s.mentions} mentions in {s.calls} calls ({s.skipped} skipped by the margin): "
        f"{s.answered} answered, {s.none} none, "
        f"{s.invalid} invalid; per document {s.seconds / documents:.1f} s, "
        f"{s.prompt_tokens / documents:.0f} prompt tokens of which {s.evaluated_prompt_tokens / documents:.0f} "
        f"evaluated, {s.completion_tokens / documents:.0f} generated; time outside llama.cpp {overhead:.1%}"
    )


def _code(args: argparse.Namespace) -> int:
    if args.output:
        check_writable(args.output)  # now, not after coding every file
    missing = [p for p in args.paths if _missing(p)]
    for path in missing:
        print(f"icdlinker: [ICD-E101] {path}: no such file or folder", file=sys.stderr)
    found = find_input_files([p for p in args.paths if p not in missing])
    for error in found.unreadable:
        print(f"icdlinker: {error}", file=sys.stderr)
    files = found.files
    tasks = [LinkTask(path, mentions_from=args.mentions_from, marked=args.marked) for path in files]
    results: list[DocumentResult] = []
    with _pipeline(args) as pipeline:
        bar = _BarProgress(len(files), "doc")
        try:
            for result in pipeline.run(tasks, bar):
                for line in (result.error, *result.document.warnings):
                    if line:
                        tqdm.write(f"icdlinker: {line}", file=sys.stderr)
                results.append(result)
        finally:
            bar.close()
        summary = _llm_summary(pipeline, len(results))
    if summary:
        print(summary, file=sys.stderr)
    coded = sum(1 for r in results if not r.error)
    failed = len(results) - coded + len(missing) + len(found.unreadable)
    if args.output:
        options = ExportOptions(ExportPreset(args.preset), only_accepted=False if args.all_codes else None,
                                excel_bom=args.excel, delimiter=";" if args.excel else ",")
        summary = write_csv(args.output, results, options)
        # Written to a device or pipe (/dev/stdout), the CSV must not be followed by this line.
        report = sys.stdout if _is_regular_file(args.output) else sys.stderr
        print(f"{summary.rows} codes from {coded} documents written to {args.output}", file=report)
        if summary.left_out:
            print(f"icdlinker: {summary.left_out} codes not yet accepted were left out of the registry export "
                  "(--all-codes exports them too)", file=sys.stderr)
    else:
        _print_table(csv_rows(results), sys.stdout)
    if failed:
        inputs = len(files) + len(missing) + len(found.unreadable)
        print(f"icdlinker: {failed} of {inputs} inputs failed", file=sys.stderr)
    return EXIT_DOCUMENT_FAILED if failed or not files else EXIT_OK


def _missing(path: Path) -> bool:
    """Nothing there; a path that cannot be looked at (a folder above it is locked) is read_document's to report."""
    try:
        path.stat()
    except (FileNotFoundError, NotADirectoryError):
        return True
    except OSError:
        return False
    return False


def _is_regular_file(path: Path) -> bool:
    try:
        return stat.S_ISREG(path.stat().st_mode)
    except OSError:
        return False


def _print_table(rows: list[list[str]], out: TextIO) -> None:
    shown = ("document", "spans", "mention", "code", "stage", "score", "title")
    index = [CSV_COLUMNS.index(c) for c in shown]
    width = shutil.get_terminal_size((140, 20)).columns
    limits = {"document": 26, "spans": 11, "mention": 32, "code": 8, "stage": 10, "score": 5}
    limits["title"] = max(20, width - sum(limits.values()) - 2 * len(limits))

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            (c if len(c) <= limits[n] else c[: limits[n] - 1] + "…").ljust(limits[n]) for n, c in zip(shown, cells)
        ).rstrip()

    print(line(shown), file=out)
    print(line(["-" * limits[n] for n in shown]), file=out)
    for row in rows:
        print(line([row[i] for i in index]), file=out)


def _eval(args: argparse.Namespace) -> int:
    if args.json:
        check_writable(args.json)  # now, not after the whole evaluation
    if (args.score_from or args.learn_from) and not args.learn:
        print("icdlinker: --score-from and --learn-from are for a learning curve: add --learn",
              file=sys.stderr)
        return EXIT_ERROR
    exclude = frozenset(s if s.startswith("codiesp-") else f"codiesp-{s}" for s in args.dictionary_exclude)
    corpus = load_gold(args.split, args.lang)[: args.limit]
    teach_first = load_gold(args.learn_from, args.lang) if args.learn_from else []
    recall, versus, margins = CandidateRecall(), ModelVersusFuzzy(), MarginTally()

    # Scores measure the shipped defaults, not whatever this workstation's coder saved.
    with _pipeline(args, exclude, AppSettings()) as pipeline:
        terminal = TerminalCheck(pipeline.catalog, pipeline.specificity.version.id)

        def observer(gold: GoldDocument, result: DocumentResult) -> None:
            terminal.add(result)
            if args.mentions == "gold":
                recall.add(gold, result)
                versus.add(gold, result)
                margins.add(gold, result)

        bar = _BarProgress(len(teach_first) + len(corpus), "doc")
        try:
            if args.learn:
                scores = learning_curve(pipeline, corpus, args.mentions, score_from=args.score_from,
                                        teach_first=teach_first, progress=bar, on_result=observer)
            else:
                scores = evaluate(pipeline, corpus, args.mentions, bar, observer)
        finally:
            bar.close()
        summary = _llm_summary(pipeline, len(teach_first) + len(corpus))
    print(_format_scores(scores, args.mentions))
    if args.learn:
        print(format_curve(scores["learning"]))
    print(terminal.report())
    if args.mentions == "gold":
        print(recall.report())
        print(margins.table())
        print(margins.report(AppSettings().llm_skip_margin))
        if versus.asked:
            print(versus.report())
    if summary:
        print(summary)
    if args.json:
        write_text(args.json, json.dumps(scores, indent=2) + "\n")
    return EXIT_OK


def _count(text: str) -> int:
    """A whole number of documents, 0 or more (argparse reports anything else)."""
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text} is not 0 or more")
    return value


def _format_scores(scores: dict, mode: str) -> str:
    lines = [f"{scores['n_documents']} documents, {scores['n_mentions']} gold mentions, "
             f"{scores['seconds']} s, mentions: {mode}"]
    for group in ("mentions", "documents"):
        for level, s in scores[group].items():
            lines.append(f"{group:<9} {level:<11}  P {s['p']:.3f}  R {s['r']:.3f}  F1 {s['f1']:.3f}")
    return "\n".join(lines)


def _lookup(args: argparse.Namespace) -> int:
    with _pipeline(args) as pipeline:
        return _show_lookup(args, pipeline)


def _show_lookup(args: argparse.Namespace, pipeline: Pipeline) -> int:
    entry = pipeline.dictionary.lookup(args.term)
    if entry is None:
        print(f"{args.term!r}: not in the {args.lang} dictionary")
    else:
        decided = pipeline.settings.rule.decide(entry)
        verdict = f"unambiguous → {decided[0]}" if decided else "ambiguous"
        print(f"{entry.display!r} [{', '.join(sorted(entry.sources))}]: {verdict}")
        for code, count in entry.codes:
            print(f"  {code:<9} ×{count:<5} {pipeline.catalog.title(code, args.lang)}")
    assignment = pipeline.linker.link(Mention((Span(0, len(args.term)),), args.term))
    print("candidates:")
    for candidate in assignment.candidates:
        print(f"  {candidate.code:<9} {candidate.score:.2f}  {candidate.title}  ({candidate.source})")
    return EXIT_OK


# The commands by name: the launcher tells a command from a document path by them.
COMMANDS = {"code": _code, "eval": _eval, "lookup": _lookup, "models": models_commands.run,
            "site": site_commands.run}


if __name__ == "__main__":  # python -m engine.cli ...
    raise SystemExit(main())
