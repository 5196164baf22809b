"""Which files a batch reads: files as given, folders walked for supported documents.

Folders that cannot be searched are reported, never skipped in silence: the coder must know
that their documents are missing from the worklist.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from engine.core.errors import FolderReadError
from engine.text.readers import SUPPORTED_SUFFIXES

__all__ = ["InputFiles", "find_input_files", "is_hidden", "iter_input_files"]


@dataclass(frozen=True, slots=True)
class InputFiles:
    """The files found for a batch, and the folders that could not be searched (their files are missing)."""

    files: list[Path]
    unreadable: list[FolderReadError] = field(default_factory=list)


def find_input_files(paths: Iterable[Path]) -> InputFiles:
    """Files as given (read_document reports bad ones); folders expanded to supported files.

    Folder contents are sorted so batches run in a reproducible order; hidden
    files and folders (and Office lock files) are skipped because they are
    never documents the coder meant to submit.  A path given twice counts once.
    A folder that cannot be searched is reported, not skipped in silence; any
    depth of folders is walked (without recursion) and symbolic links to
    folders are not followed, so a link loop cannot run forever.
    """
    found: list[Path] = []
    unreadable: list[FolderReadError] = []
    for path in paths:
        if _is_folder(path):
            found.extend(_folder_files(path, unreadable))
        else:
            found.append(path)
    return InputFiles(list(dict.fromkeys(found)), unreadable)


def iter_input_files(paths: Iterable[Path]) -> list[Path]:
    """The files of ``find_input_files``, for callers that report no folders."""
    return find_input_files(paths).files


def is_hidden(path: Path) -> bool:
    """Dot files, Office lock files (``~$report.docx``) and files marked hidden on Windows."""
    if path.name.startswith((".", "~$")):
        return True
    try:
        attributes = getattr(path.stat(), "st_file_attributes", 0)
    except OSError:
        return False
    return bool(attributes & getattr(stat, "FILE_ATTRIBUTE_HIDDEN", 0))


def _is_folder(path: Path) -> bool:
    """A folder (following links); False for anything that cannot even be looked at."""
    try:
        return stat.S_ISDIR(path.stat().st_mode)
    except (OSError, ValueError):  # read_document names the problem for a file
        return False


def _folder_files(folder: Path, unreadable: list[FolderReadError]) -> list[Path]:
    found: list[Path] = []
    pending = [folder]
    while pending:
        here = pending.pop()
        try:
            with os.scandir(here) as entries:
                listed = list(entries)
        except OSError as error:
            unreadable.append(FolderReadError(f"{here}: folder cannot be searched ({error.strerror or error}); "
                                              "its files were skipped"))
            continue
        for entry in listed:
            path = here / entry.name
            if is_hidden(path):
                continue
            if _entry_is_folder(entry):
                pending.append(path)
            elif Path(entry.name).suffix.lower() in SUPPORTED_SUFFIXES:
                found.append(path)
    return sorted(found)


def _entry_is_folder(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_dir(follow_symlinks=False)
    except OSError:
        return False
