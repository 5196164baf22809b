"""Smoke measure of the curated el/fr/de lexicons: codes found in short clinical sentences, with and
without them.

    python benchmarks/lexicon_smoke.py [--keep DIR]

There is no annotated Greek, French or German corpus here, so this is a smoke check, not an
evaluation: eight sentences per language, in the style of a discharge letter, and the codes a coder
would assign to them, both written by the lexicons' author.  The dictionaries are built twice into
a temporary folder, once with every source and once without the ``curated-<lang>`` sources (the
peer), and the sentences are coded with ``icdlinker code --lang L`` against each.  It prints per
language the mentions and codes found, how many expected codes were found (full code and
category), and the codes found that were not expected (mostly the shorter mentions nested in a
longer one: "diabète" inside "diabète de type 2"), and what it finds in two lines where the
lexicons' abbreviations mean something else (FA as alkaline phosphatase): nothing, if the context
rule holds.  Needs the build integration of the curated
lexicons (``dictionaries/lexicon_source.py``).
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LANGUAGES = ("el", "fr", "de")

SENTENCES = {
    "el": """\
Ασθενής 74 ετών με ιστορικό αρτηριακής υπέρτασης, σακχαρώδους διαβήτη τύπου 2
και χρόνιας νεφρικής νόσου προσήλθε με δύσπνοια και οιδήματα κάτω άκρων.
Το ΗΚΓ έδειξε κολπική μαρμαρυγή με ταχεία κοιλιακή ανταπόκριση· ΚΜ γνωστή, σε αντιπηκτική αγωγή.
Διάγνωση: απορρυθμισμένη καρδιακή ανεπάρκεια λόγω κολπικής μαρμαρυγής.
Ιστορικό στεφανιαίας νόσου με παλαιό έμφραγμα μυοκαρδίου και τοποθέτηση stent.
Αναφέρεται ΧΑΠ, καπνιστής, με παρόξυνση ΧΑΠ τον τελευταίο μήνα και ΣΔ σε ινσουλίνη.
Νοσηλεύθηκε για πνευμονία της κοινότητας και ουρολοίμωξη με πυρετό.
Κατά τη νοσηλεία εμφάνισε οξεία νεφρική βλάβη και υποκαλιαιμία.
Εξιτήριο με διάγνωση οξύ στεφανιαίο σύνδρομο, αναιμία και δυσλιπιδαιμία.
""",
    "fr": """\
Patient de 74 ans aux antécédents d'HTA, de diabète de type 2
et d'insuffisance rénale chronique, admis pour dyspnée et œdèmes des membres inférieurs.
L'ECG retrouve une FA rapide; anticoagulation par apixaban.
Diagnostic: insuffisance cardiaque décompensée sur fibrillation auriculaire.
Antécédent de cardiopathie ischémique avec infarctus du myocarde ancien et stent coronaire.
BPCO post-tabagique avec exacerbation de BPCO le mois dernier.
Hospitalisé pour pneumonie communautaire et infection urinaire fébrile.
Au cours du séjour, insuffisance rénale aiguë et hypokaliémie.
Sortie avec diagnostic de syndrome coronarien aigu, anémie et dyslipidémie.
""",
    "de": """\
74-jähriger Patient mit bekannter arterieller Hypertonie, Diabetes mellitus Typ 2
und chronischer Niereninsuffizienz, Aufnahme wegen Dyspnoe und Beinödemen.
Im EKG tachykardes Vorhofflimmern; VHF bekannt, Antikoagulation mit Apixaban.
Diagnose: dekompensierte Herzinsuffizienz bei Vorhofflimmern.
Bekannte KHK mit Z. n. Stentimplantation nach Herzinfarkt.
COPD bei Nikotinabusus mit akuter Exazerbation der COPD im Vormonat.
Stationäre Aufnahme wegen Pneumonie und Harnwegsinfekt mit Fieber.
Im Verlauf akutes Nierenversagen und Hypokaliämie.
Entlassung mit den Diagnosen akutes Koronarsyndrom, Anämie und Hyperlipidämie.
""",
}

# Abbreviations of the lexicons where they mean something else (lab values, places): nothing to code.
OTHER_MEANINGS = {
    "el": "Εργαστηριακά: ΚΜ 3 mm σε αξονική κοιλίας, χωρίς ευρήματα.\nΑρχική εκτίμηση ΑΥ: 130/80.\n",
    "fr": "Bilan hépatique: ASAT 40, ALAT 52, FA 120 UI/l, GGT 80.\nLe patient est en IM depuis hier.\n",
    "de": "Labor: AP 95 U/l, GGT 40, Bilirubin 0,8.\nDer Patient kommt aus der HI-Ambulanz zur Kontrolle.\n",
}

# What a coder assigns, in the language's edition (WHO for el/fr, GM 2017 for de).
EXPECTED = {
    "el": "I10 E11.9 N18.9 R06.0 R60.0 I48.9 I50.9 I25.1 I25.2 Z95.5 J44.9 J44.1 Z72.0 E14.9 J18.9 N39.0 "
    "R50.9 N17.9 E87.6 I24.9 D64.9 E78.9",
    "fr": "I10 E11.9 N18.9 R06.0 R60.0 I48.9 I50.9 I25.1 I25.2 Z95.5 J44.9 J44.1 J18.9 N39.0 N17.9 E87.6 "
    "I24.9 D64.9 E78.9",
    "de": "I10.90 E11.90 N18.9 R06.0 R60.0 I48.9 I50.9 I25.19 Z95.5 I21.9 J44.99 J44.19 F17.1 J18.9 N39.0 "
    "R50.9 N17.99 E87.6 I24.9 D64.9 E78.5",
}


def build(out: Path, without_lexicons: bool) -> None:
    """The three languages' dictionaries and their editions' catalogs, with or without the lexicons."""
    argv = [sys.executable, "-m", "dictionaries.build", "--only", *LANGUAGES, "--out", str(out)]
    if without_lexicons:
        argv += ["--exclude", *(f"curated-{lang}" for lang in LANGUAGES)]
    subprocess.run(argv, cwd=ROOT, check=True, capture_output=True)


def coded(lang: str, text: Path, dictionaries: Path, work: Path) -> list[dict[str, str]]:
    """The CSV rows of ``icdlinker code`` on one file, with the app's folders under ``work``."""
    out = work / f"{text.stem}-{dictionaries.name}.csv"
    env = dict(
        os.environ,
        ICDLINKER_DICTIONARIES=str(dictionaries),
        XDG_CONFIG_HOME=str(work / "config"),
        XDG_DATA_HOME=str(work / "data"),
        PYTHONPATH=str(ROOT),
    )
    argv = [sys.executable, "-m", "engine", "code", str(text), "--lang", lang, "-o", str(out)]
    subprocess.run(argv, cwd=ROOT, env=env, check=True, capture_output=True)
    with out.open(encoding="utf-8") as rows:
        return list(csv.DictReader(rows))


def line(lang: str, label: str, rows: list[dict[str, str]]) -> str:
    expected = set(EXPECTED[lang].split())
    found = {row["code"] for row in rows}
    categories, expected_categories = {c[:3] for c in found}, {c[:3] for c in expected}
    return (
        f"{lang}  {label:<17} {len(rows):3} mentions {len(found):3} codes | expected {len(expected):2}: "
        f"full code {len(found & expected):2}, category {len(categories & expected_categories):2}"
        f"/{len(expected_categories)} | not expected {len(found - expected):2}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, help="keep the builds and CSVs in this folder")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="lexicon-smoke-") as scratch:
        work = args.keep or Path(scratch)
        work.mkdir(parents=True, exist_ok=True)
        without, with_lexicons = work / "without", work / "with"
        build(without, without_lexicons=True)
        build(with_lexicons, without_lexicons=False)
        for lang in LANGUAGES:
            text = work / f"{lang}.txt"
            text.write_text(SENTENCES[lang], encoding="utf-8")
            print(line(lang, "without lexicon", coded(lang, text, without, work)))
            print(line(lang, "with lexicon", coded(lang, text, with_lexicons, work)))
            other = work / f"{lang}-other.txt"
            other.write_text(OTHER_MEANINGS[lang], encoding="utf-8")
            found = [row["mention"] for row in coded(lang, other, with_lexicons, work)]
            print(f"{lang}  abbreviations meaning something else: {len(found)} mentions {found}")


if __name__ == "__main__":
    main()
