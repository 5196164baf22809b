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
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import fields, replace
from pathlib import Path
from typing import TextIO

from tqdm import tqdm

from engine.coding import with_morphology
from engine.core.codes import Edition
from engine.core.errors import EngineError
from engine.core.model import DocumentResult, Mention, Span
from engine.evaluation.learning import format_curve, learning_curve
from engine.evaluation.margin import MarginTally
from engine.evaluation.metrics import CandidateRecall, CodingMAP, ModelVersusFuzzy, TerminalCheck, evaluate
from engine.linking.languages import LanguagePipelines
from engine.linking.llm.linker import LLMLinker, LLMStats
from engine.linking.llm.session import LLMStage, open_llm_stage
from engine.linking.morphology import no_morphology_note
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

    def language_options(command: argparse.ArgumentParser, detect: bool = False) -> None:
        if detect:
            command.add_argument(
                "--lang", choices=LANGUAGES,
                help="code every document in this language (default: detect each document's; when its text "
                     "does not tell, the default_language setting, with an ICD-W102 note)",
            )
        else:
            command.add_argument("--lang", choices=LANGUAGES, default="es", help="document language (default es)")
        command.add_argument(
            "--edition", choices=[e.value for e in Edition],
            help="ICD-10 edition, or icdo3 for ICD-O-3 morphology (default: the language's ICD-10 edition)"
        )
        command.add_argument(
            "--cm-version", choices=_CM_VERSIONS,
            help="ICD-10-CM / CIE-10-ES version whose terminal codes may be assigned "
                 "(default: the cm_version setting, the window's too)",
        )

    code = commands.add_parser("code", help="code documents (.txt, .docx, .pdf; files or folders)")
    code.add_argument("paths", nargs="+", type=Path)
    language_options(code, detect=True)
    code.add_argument("-o", "--output", type=Path, help="write a CSV here instead of printing a table")
    code.add_argument(
        "--preset", choices=[p.value for p in ExportPreset], default=ExportPreset.FULL.value,
        help="CSV columns: full (every mention, with provenance), registry (one row per code) or tumour "
             "(one row per tumour: ICD-10, ICD-O-3 topography and morphology; codes ICD-O-3 too)",
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
        help="leave a corpus split out of the dictionary for an honest evaluation: a CodiEsp split (dev) "
             "or a CANTEMIST one (cantemist-dev2)",
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
    ev.add_argument("--cross-lingual", choices=("on", "off"),
                    help="candidates from other languages' terms for weak mentions (default: the setting's default)")
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
def _pipelines(
    args: argparse.Namespace, exclude: frozenset[str] = frozenset(), settings: AppSettings | None = None
) -> Iterator[LanguagePipelines]:
    """The pipelines the options ask for, one per language used (``--lang`` forces one), each built
    when first needed; with ``--model`` the LLM stage is loaded with the first and freed after.

    Detection, the fuzzy threshold, the CM version and the language of a text that does not tell
    follow the coder's saved settings (unless ``settings`` are given), as in the window, so a
    batch CSV and the window find the same mentions in a document; ``--edition`` and
    ``--cm-version`` override the language's edition and the version.
    """
    settings = settings or AppSettings.load()
    model = None if getattr(args, "no_llm", False) else getattr(args, "model", None)
    stages: list[LLMStage] = []  # the one model, shared by every language's pipeline

    def build(language: str) -> Pipeline:
        pipeline = Pipeline.bundled(
            language, Edition(args.edition) if args.edition else None, exclude=exclude,
            policy=settings.detection_policy(), settings=settings.linker_settings(),
            version=args.cm_version or settings.cm_version,
        )
        if model:
            if not stages:
                stages.append(open_llm_stage(model, language, pipeline.catalog))
            first = stages[0].linker
            pipeline.llm = first if first.language == language else LLMLinker(
                first.generate, pipeline.catalog, language, first.model)
            pipeline.llm.child_codes = getattr(args, "llm_child_codes", 0)
            pipeline.llm.skip_margin = settings.llm_skip_margin
        return pipeline

    try:
        yield LanguagePipelines(build, settings.default_language, args.lang)
    finally:
        for stage in stages:
            stage.close()


@contextmanager
def _pipeline(
    args: argparse.Namespace, exclude: frozenset[str] = frozenset(), settings: AppSettings | None = None
) -> Iterator[Pipeline]:
    """The pipeline of ``--lang`` (eval and lookup work in one language)."""
    with _pipelines(args, exclude, settings) as pipelines:
        yield pipelines.get(args.lang)


def _llm_summary(pipelines: Iterable[Pipeline], documents: int) -> str:
    """What the LLM stage did, per document (every language's together): the figures the README reports."""
    stats = [p.llm.stats for p in pipelines if p.llm]
    if not stats or not documents:
        return ""
    s = LLMStats(*(sum(getattr(one, f.name) for one in stats) for f in fields(LLMStats)))
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
    with _pipelines(args) as pipelines:
        bar = _BarProgress(len(files), "doc")
        try:
            for result in pipelines.run(tasks, bar):
                for line in (result.error, *result.document.warnings):
                    if line:
                        tqdm.write(f"icdlinker: {line}", file=sys.stderr)
                results.append(result)
        finally:
            bar.close()
        summary = _llm_summary(pipelines.loaded.values(), len(results))
    if args.preset == ExportPreset.TUMOUR.value and args.edition != Edition.ICDO3.value:
        results = _with_morphology(args, results)
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
        print(f"{summary.count(summary.rows)} from {coded} documents written to {args.output}", file=report)
        if summary.left_out:
            print(f"icdlinker: {summary.left_out_text()} (--all-codes exports them too)", file=sys.stderr)
    else:
        _print_table(csv_rows(results), sys.stdout)
    if failed:
        inputs = len(files) + len(missing) + len(found.unreadable)
        print(f"icdlinker: {failed} of {inputs} inputs failed", file=sys.stderr)
    return EXIT_DOCUMENT_FAILED if failed or not files else EXIT_OK


def _with_morphology(args: argparse.Namespace, results: list[DocumentResult]) -> list[DocumentResult]:
    """The tumour preset needs both classifications: the ICD-10 results with ICD-O-3 morphology added.

    The morphology pass codes the documents as the ICD-10 pass read them (markup removed), with the
    same given mentions: a file is read once, and a document that could not be read is not tried again.
    A document in a language with no ICD-O-3 dictionary, or whose morphology pass failed, keeps its
    ICD-10 codes, with a warning, and its tumours are exported with the morphology marked missing.
    """
    morphology_args = argparse.Namespace(**{**vars(args), "edition": Edition.ICDO3.value, "model": None})
    given = args.marked or args.mentions_from is not None
    read = [r for r in results if not r.error and no_morphology_note(r.document) is None]
    tasks = [LinkTask(r.document, tuple(a.mention for a in r.assignments) if given else None) for r in read]
    with _pipelines(morphology_args) as pipelines:  # each document in the language its ICD-10 run used
        morphology = dict(zip(map(id, read), pipelines.run(tasks)))
    joined = []
    for r in results:
        icdo = morphology.get(id(r))
        if icdo is not None and not icdo.error:
            joined.append(with_morphology(r, icdo.assignments))
        elif r.error:
            joined.append(r)
        else:  # no ICD-O-3 dictionary for its language, or the pass failed: its ICD-10 codes stay
            note = no_morphology_note(r.document) or f"ICD-O-3 morphology not coded: {icdo.error if icdo else ''}"
            print(f"icdlinker: {note}", file=sys.stderr)
            joined.append(replace(r, document=replace(r.document, warnings=(*r.document.warnings, note))))
    return joined


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
    shown = ("document", "spans", "mention", "code", "language", "stage", "score", "title")
    index = [CSV_COLUMNS.index(c) for c in shown]
    width = shutil.get_terminal_size((140, 20)).columns
    limits = {"document": 26, "spans": 11, "mention": 32, "code": 8, "language": 8, "stage": 10, "score": 5}
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
    exclude = frozenset(
        s if s.startswith(("codiesp-", "cantemist-")) else f"codiesp-{s}" for s in args.dictionary_exclude
    )
    edition = Edition(args.edition) if args.edition else None
    corpus = load_gold(args.split, args.lang, edition)[: args.limit]
    teach_first = load_gold(args.learn_from, args.lang, edition) if args.learn_from else []
    recall, versus, ranking, margins = CandidateRecall(), ModelVersusFuzzy(), CodingMAP(), MarginTally()

    # Scores measure the shipped defaults, not whatever this workstation's coder saved.
    settings = AppSettings()
    if args.cross_lingual:
        settings = settings.with_changes(cross_lingual=args.cross_lingual == "on")
    with _pipeline(args, exclude, settings) as pipeline:
        terminal = TerminalCheck(pipeline.catalog, pipeline.specificity.version.id)

        def observer(gold: GoldDocument, result: DocumentResult) -> None:
            terminal.add(result)
            recall.add(gold, result)
            ranking.add(gold, result)
            if args.mentions == "gold":
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
        summary = _llm_summary([pipeline], len(teach_first) + len(corpus))
    icdo = edition is Edition.ICDO3
    print(_format_scores(scores, args.mentions, codiesp=not icdo))
    if args.learn:
        print(format_curve(scores["learning"]))
    if icdo:  # CANTEMIST-CODING's figure; CodiEsp-D's MAP is in the scores
        print(ranking.report())
    print(terminal.report())
    if scores["n_mentions"]:  # translated texts have document codes only
        print(recall.report())
    if args.mentions == "gold":
        print(margins.table())
        print(margins.report(AppSettings().llm_skip_margin))
    if versus.asked:
        print(versus.report())
    if summary:
        print(summary)
    if args.json:
        write_text(args.json, json.dumps({**scores, "candidate_recall": recall.as_dict()}, indent=2) + "\n")
    return EXIT_OK


def _count(text: str) -> int:
    """A whole number of documents, 0 or more (argparse reports anything else)."""
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text} is not 0 or more")
    return value


def _format_scores(scores: dict, mode: str, codiesp: bool = True) -> str:
    """The score table; ``codiesp``: with CodiEsp's official figures (not for ICD-O-3 corpora)."""
    lines = [f"{scores['n_documents']} documents, {scores['n_mentions']} gold mentions, "
             f"{scores['seconds']} s, mentions: {mode}"]
    # Translated CodiEsp texts have document codes but no mention spans: only document scores apply.
    for group in ("mentions", "documents") if scores["n_mentions"] else ("documents",):
        for level, s in scores[group].items():
            lines.append(f"{group:<9} {level:<11}  P {s['p']:.3f}  R {s['r']:.3f}  F1 {s['f1']:.3f}")
    x = scores["codiesp_x"]
    if codiesp and scores["n_mentions"]:
        lines.append(f"codiesp-x (diagnoses, ±10 chars)  P {x['p']:.3f}  R {x['r']:.3f}  F1 {x['f1']:.3f}")
    if codiesp:
        lines.append(f"codiesp-d MAP {scores['codiesp_d_map']:.3f}")
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
