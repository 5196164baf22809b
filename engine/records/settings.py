"""The coder's settings: one declarative list, persisted per user as JSON.

Each field says its default and what it means (the settings dialog shows the
description).  A damaged or hand-edited file never stops the app: unknown keys
are dropped and bad values fall back to their defaults.
"""

from __future__ import annotations

import getpass
import json
import logging
import os
from dataclasses import MISSING, asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from platformdirs import user_config_dir

from engine.core.atomic import write_text_atomic
from engine.core.errors import SessionError
from engine.linking.dictionary_stage import LinkerSettings
from engine.linking.llm.backend import physical_cores
from engine.records.export import ExportOptions, ExportPreset
from engine.terms.dictionary import LANGUAGES, DetectionPolicy

__all__ = ["AppSettings", "default_settings_path"]

log = logging.getLogger(__name__)


def _setting(default: Any, description: str, **extra: Any) -> Any:
    if callable(default):
        return field(default_factory=default, metadata={"description": description, **extra})
    return field(default=default, metadata={"description": description, **extra})


def _default_coder() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name (a container, an odd Windows account)
        return ""


def _default_threads() -> int:
    # One core is left to the window and the rest of the workstation: llama.cpp
    # with every core slows down badly as soon as anything else runs.
    return max(1, physical_cores() - 1)


@dataclass(frozen=True, slots=True)
class AppSettings:
    default_language: str = _setting(
        "es", "Language assumed when a document's language cannot be detected.", choices=LANGUAGES
    )
    fuzzy_threshold: float = _setting(
        0.7, "Lowest similarity (0–1) for a fuzzy candidate to be proposed when the dictionary has no exact term.",
        minimum=0.0, maximum=1.0,
    )
    # The versions of the bundled CM catalog (tests/test_specificity.py checks they match it).
    cm_version: str = _setting(
        "2018", "Version of ICD-10-CM / CIE-10-ES whose terminal codes may be submitted: 2018 = CIE-10-ES 2018 "
        "(ICD-10-CM FY2018, the version CodiEsp was coded in), 2026 = ICD-10-CM April 2026.",
        choices=("2018", "2026"),
    )
    # The window and the command line both read this (on CodiEsp dev, detect mode, document-level
    # full-code F1 is 0.691 with nested mentions and 0.666 without).
    nested_mentions: bool = _setting(
        True, "Also find shorter dictionary terms inside longer ones (CodiEsp codes both)."
    )
    cross_lingual: bool = _setting(
        True, "When a mention has no close term in its own language, also offer codes from the other "
        "languages' terms and titles (medical words are shared: disnea, dyspnoea, Dyspnoe, δύσπνοια)."
    )
    # Off by default: most coders code ICD-10 only, and the pass adds mentions to review.
    code_morphology: bool = _setting(
        False, "Tumour registries: coding a document also codes its tumour histology with ICD-O-3 morphology "
        "(Spanish and English documents; dictionary only), shown and exported beside the ICD-10 codes."
    )
    model: str = _setting("", "Language model for the LLM stage (installed id or .gguf path); empty: dictionary only.")
    gpu_layers: str = _setting(
        "auto", "Model layers on the GPU: 'auto' (all when llama.cpp was built with GPU support, else none) or a number."
    )
    threads: int = _setting(_default_threads, "CPU threads for the language model.", minimum=1, maximum=256)
    # Chosen on CodiEsp train with `icdlinker eval train --dictionary-exclude train --dictionary-exclude dev`
    # (its margin table, engine.evaluation.margin.choose_margin): at 0.30 and above the fuzzy top candidate
    # is right (category) for 162 of 212 open train mentions (76%), against 33% over all open mentions.
    llm_skip_margin: float = _setting(
        0.3, "LLM stage: mentions whose best fuzzy candidate leads the second by at least this score margin "
        "(0–1) keep it without asking the model; above 1 every open mention is asked.",
        minimum=0.0, maximum=1.01,
    )
    context_size: int = _setting(8192, "Model context in tokens (longer documents need more memory).",
                                 minimum=1024, maximum=131072)
    export_preset: str = _setting(
        ExportPreset.FULL.value, "CSV columns: 'full' (with provenance), 'registry' (one row per code) or "
        "'tumour' (one row per tumour: ICD-10, ICD-O-3 topography and morphology).",
        choices=tuple(p.value for p in ExportPreset),
    )
    export_only_accepted: bool = _setting(False, "Full CSV: export only accepted and corrected codes.")
    export_registry_only_accepted: bool = _setting(
        True, "Registry and tumour CSV: export only accepted and corrected codes (the others are counted, "
        "not written)."
    )
    export_scope: str = _setting("current", "What the export dialog exports: the current document or all.",
                                 choices=("current", "all"))
    export_format: str = _setting("csv", "The export dialog's format: CSV or the whole session as JSON.",
                                  choices=("csv", "json"))
    export_excel_bom: bool = _setting(True, "Start CSV files with a UTF-8 byte-order mark so Excel reads accents.")
    export_delimiter: str = _setting(",", "CSV delimiter (';' for European Excel).", choices=(",", ";", "\t"))
    coder: str = _setting(_default_coder, "Your name or initials, recorded with every review decision "
                          "(default: your login name).")

    def export_options(self) -> ExportOptions:
        preset = ExportPreset(self.export_preset)
        return ExportOptions(preset, self.export_only_accepted_for(preset), self.export_excel_bom,
                             self.export_delimiter)

    def export_only_accepted_for(self, preset: ExportPreset) -> bool:
        """The full CSV remembers its own choice; a registry (the tumour one too) takes accepted codes by default."""
        if preset in (ExportPreset.REGISTRY, ExportPreset.TUMOUR):
            return self.export_registry_only_accepted
        return self.export_only_accepted

    def detection_policy(self) -> DetectionPolicy:
        """How mentions are found, the same for the window and the command line."""
        return DetectionPolicy(nested=self.nested_mentions)

    def linker_settings(self) -> LinkerSettings:
        return LinkerSettings(fuzzy_threshold=self.fuzzy_threshold, cross_lingual=self.cross_lingual)

    def gpu_layers_value(self) -> int | str:
        return "auto" if self.gpu_layers == "auto" else int(self.gpu_layers)

    def with_changes(self, **changes: Any) -> AppSettings:
        return AppSettings.from_dict({**asdict(self), **changes}, strict=True)

    @staticmethod
    def describe() -> list[tuple[str, Any, str, dict[str, Any]]]:
        """(name, default, description, constraints) for every setting, in order."""
        rows = []
        for f in fields(AppSettings):
            default = f.default if f.default is not MISSING else f.default_factory()  # type: ignore[misc]
            extra = {k: v for k, v in f.metadata.items() if k != "description"}
            rows.append((f.name, default, f.metadata["description"], extra))
        return rows

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, strict: bool = False) -> AppSettings:
        """Settings from ``data``; bad values fall back to defaults (``strict`` raises instead)."""
        defaults = cls()
        values = {}
        for name, default, _, extra in cls.describe():
            if name not in data:
                continue
            try:
                values[name] = _checked(name, data[name], default, extra)
            except ValueError as error:
                if strict:
                    raise
                log.warning("setting %s ignored: %s", name, error)
        settings = replace(defaults, **values)
        try:
            settings.gpu_layers_value()
        except ValueError:
            if strict:
                raise ValueError(f"gpu_layers must be 'auto' or a number, not {settings.gpu_layers!r}") from None
            settings = replace(settings, gpu_layers="auto")
        return settings

    @classmethod
    def load(cls, path: Path | None = None) -> AppSettings:
        path = path or default_settings_path()
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return cls()
        except (OSError, ValueError) as error:
            log.warning("settings file %s unreadable (%s); using defaults", path, error)
            return cls()
        return cls.from_dict(data if isinstance(data, dict) else {})

    def save(self, path: Path | None = None) -> None:
        path = path or default_settings_path()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            write_text_atomic(path, json.dumps(asdict(self), indent=2, ensure_ascii=False))
        except OSError as error:
            raise SessionError(f"could not save the settings to {path}: {error}") from error


def default_settings_path() -> Path:
    """``ICDLINKER_CONFIG_DIR`` overrides the per-user folder (tests, portable installs)."""
    folder = os.environ.get("ICDLINKER_CONFIG_DIR") or user_config_dir("icdlinker", appauthor=False)
    return Path(folder) / "settings.json"


def _checked(name: str, value: Any, default: Any, extra: dict[str, Any]) -> Any:
    kind = type(default)
    if kind is bool:
        if not isinstance(value, bool):
            raise ValueError(f"{name} must be true or false")
    elif kind in (int, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"{name} must be a number")
        value = kind(value)
        if not extra.get("minimum", value) <= value <= extra.get("maximum", value):
            raise ValueError(f"{name} must be between {extra['minimum']} and {extra['maximum']}")
    elif not isinstance(value, str):
        raise ValueError(f"{name} must be text")
    if "choices" in extra and value not in extra["choices"]:
        raise ValueError(f"{name} must be one of {', '.join(map(str, extra['choices']))}")
    return value
