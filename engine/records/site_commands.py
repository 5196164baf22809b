"""``icdlinker site list|export|import``: the site dictionary on the command line, for air-gapped sharing.

It works on the same session database as the window (the user's, or ``--session``); engine
errors propagate to the CLI's one error handler.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from engine.records.session_db import open_session
from engine.records.site_store import SiteDictionaries, export_site
from engine.terms.dictionary import LANGUAGES
from engine.terms.site_dictionary import Verdict

__all__ = ["register", "run"]


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``site`` command and its actions to the CLI's subparsers."""
    site = subparsers.add_parser("site", help="list, export or import the site dictionary (what coders taught)")
    site.add_argument("--session", type=Path, metavar="FILE",
                      help="the session database (default: the user's, as the window uses)")
    actions = site.add_subparsers(dest="site_command", required=True, metavar="ACTION")
    listing = actions.add_parser("list", help="learned terms with their codes and counts")
    listing.add_argument("--lang", choices=LANGUAGES, help="only this language")
    listing.add_argument("--search", metavar="WORDS", help="only terms containing these words")
    listing.add_argument("--conflicts", action="store_true", help="only terms the coders disagree on")
    export = actions.add_parser("export", help="write the site dictionary to a file for another workstation")
    export.add_argument("path", type=Path)
    imported = actions.add_parser("import", help="merge a file exported on another workstation (counts add up)")
    imported.add_argument("path", type=Path)


def run(args: argparse.Namespace) -> int:
    """Run one ``site`` action; returns the exit code."""
    opened = open_session(args.session)
    database = opened.database
    try:
        if opened.problem is not None:
            raise opened.problem
        if args.site_command == "export":
            print(f"exported {export_site(database.site, args.path)} terms to {args.path}")
        elif args.site_command == "import":
            report = database.import_site_file(args.path)
            print(f"imported {report.terms} terms ({report.new_terms} new) from {args.path}")
            for language, term, here, there in report.conflicts:
                print(f"  conflict [{language}] {term!r}: coded {here} here, {there} in the file")
        else:
            _list(database.site, args)
    finally:
        database.close()
    return 0


def _list(site: SiteDictionaries, args: argparse.Namespace) -> None:
    words = (args.search or "").lower()
    shown = 0
    for dictionary in site.all():
        if args.lang and dictionary.language != args.lang:
            continue
        for entry in sorted(dictionary.entries(), key=lambda e: e.display.lower()):
            verdict = dictionary.rule.decide(entry).verdict
            if (args.conflicts and verdict is not Verdict.CONFLICT) or (words and words not in entry.display.lower()):
                continue
            codes = ", ".join(f"{code}×{n}" for code, n in entry.codes) or "-"
            rejected = f", rejected ×{entry.rejected}" if entry.rejected else ""
            print(f"{dictionary.language} {dictionary.edition.value:4} {verdict.value:9} {entry.display!r}: "
                  f"{codes}{rejected} (last {entry.last[:10]})")
            shown += 1
    print(f"{shown} term(s)")
