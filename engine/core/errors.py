"""Typed errors with a stable code and a hint saying what to do next.

A coder on an air-gapped workstation phones IT with "ICD-E101"; the code and
hint make that call short.  The CLI and the GUI each have exactly one place
that turns these into messages (``str(error)`` is that message).
"""

from __future__ import annotations

__all__ = [
    "BackendError",
    "CatalogError",
    "DictionaryError",
    "DocumentReadError",
    "DocumentWarning",
    "EngineError",
    "ExportError",
    "FolderReadError",
    "GoldFormatError",
    "GrammarError",
    "LanguageWarning",
    "ModelDownloadError",
    "ModelError",
    "ModelFileError",
    "ModelMemoryError",
    "ModelTemplateError",
    "ReviewError",
    "SessionError",
    "SiteDictionaryError",
]


class EngineError(Exception):
    """Base of every error the engine raises on purpose."""

    code = "ICD-E000"
    hint = ""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if hint is not None:
            self.hint = hint

    def __str__(self) -> str:
        text = f"[{self.code}] {self.message}"
        return f"{text} — {self.hint}" if self.hint else text


class DocumentReadError(EngineError, OSError):
    """A document could not be read or decoded; the batch goes on without it."""

    code = "ICD-E101"
    hint = "Check that the file is a text, .docx or .pdf document and not damaged."


class GoldFormatError(EngineError, ValueError):
    """An annotation file (CodiEsp, brat, JSONL) is malformed."""

    code = "ICD-E102"
    hint = "Check the annotation layout against the formats listed in the README."


class DictionaryError(EngineError):
    """A bundled dictionary is missing or damaged."""

    code = "ICD-E201"
    hint = "Reinstall the application or rebuild dictionaries with 'python -m dictionaries.build'."


class CatalogError(DictionaryError):
    """A code catalog is missing, damaged, or asked for an unknown edition/language."""

    code = "ICD-E202"


class ModelError(EngineError):
    """A local language model cannot be installed, found or used."""

    code = "ICD-E301"
    hint = "Run 'icdlinker models list' to see the installed models."


class ModelFileError(ModelError):
    """A model file is not a complete, supported GGUF file."""

    code = "ICD-E302"
    hint = "Download the model again, or choose a single-file GGUF (version 2 or 3) made for llama.cpp."


class ModelDownloadError(ModelError):
    """A model download failed, was refused, or did not verify."""

    code = "ICD-E303"
    hint = "Check the network connection and free disk space, then run the download again (it resumes)."


class ModelMemoryError(ModelError):
    """A model would not fit in the memory of this computer."""

    code = "ICD-E304"
    hint = "Choose a smaller model or a shorter context, or close other programs."


class BackendError(ModelError):
    """llama.cpp could not load or run the model (the file itself looked like a GGUF)."""

    code = "ICD-E305"
    hint = "The model could not be loaded or run: choose another model or a shorter context, or reinstall."


class GrammarError(BackendError):
    """An answer schema could not be turned into a grammar llama.cpp enforces."""

    code = "ICD-E306"
    hint = "This is a bug in icdlinker's prompt builder: please report it with the message above."


class ReviewError(EngineError, ValueError):
    """A review action that cannot apply (an invalid code, a selection outside the text)."""

    code = "ICD-E401"
    hint = "Check the code or the selection and try again."


class SessionError(EngineError):
    """The saved review session could not be read or written."""

    code = "ICD-E402"
    hint = "Check that the folder is writable and the disk is not full; your work is still open in the window."


class ExportError(EngineError, OSError):
    """An export could not be written; nothing was lost, the previous file is untouched."""

    code = "ICD-E403"
    hint = "Choose a folder you can write to, or free some disk space, and export again."


class ModelTemplateError(ModelFileError):
    """A model's chat template runs too long, uses too much memory or output, or fails on our prompt."""

    code = "ICD-E307"
    hint = ("The model file carries a chat template icdlinker cannot use safely: choose another model, "
            "or one from a trusted publisher.")


class FolderReadError(DocumentReadError):
    """A folder could not be searched; the files in it were skipped and the batch went on."""

    code = "ICD-E104"
    hint = "Check the folder's permissions (it must be readable and searchable), then add it again."


class DocumentWarning(EngineError):
    """Not raised: a caveat carried with a document that was read (``Document.warnings``).

    The text may be incomplete or partly misdecoded, so the coder is told, in
    the CLI's output and in the window, with a stable code like any error.
    """

    code = "ICD-W101"
    hint = "Check the text of this document in the review window before relying on its codes."


class SiteDictionaryError(EngineError):
    """A site dictionary file could not be imported or written; the workstation's dictionary is unchanged."""

    code = "ICD-E404"
    hint = ("Import only files exported by icdlinker's site dictionary (File → Site dictionary → Export, "
            "or `icdlinker site export`); ask for a fresh export if this one was damaged on the way.")


class LanguageWarning(DocumentWarning):
    """Not raised: a document whose language could not be told was coded in the default language."""

    code = "ICD-W102"
    hint = ("Give the language with --lang (or choose it in the window), or change the default_language "
            "setting, if this document is not in that language.")


class SessionInUse(SessionError):
    """Another icdlinker window has this session open: a second would overwrite its decisions."""

    code = "ICD-E405"
    hint = ("Switch to the icdlinker window that is already open (look in the taskbar), or close it and "
            "start icdlinker again.")


class MorphologyWarning(DocumentWarning):
    """Not raised: a document of a language with no ICD-O-3 dictionary got its ICD-10 codes only."""

    code = "ICD-W103"
    hint = "Add its morphology by hand in the window: select the words, then Shift+M (add ICD-O-3 morphology)."
