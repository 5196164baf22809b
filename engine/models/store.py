"""The local model store: which GGUF models are installed, where, and which one is selected.

A folder (``platformdirs.user_data_dir("icdlinker")/models`` unless
``ICDLINKER_MODELS_DIR`` or ``root`` says otherwise) holds copied and downloaded
models as ``<id>.gguf``, partial downloads under ``.partial/``, and ``models.json``:
the registry, rewritten atomically so a crash never loses it, and only under a file
lock so concurrent processes never lose each other's changes (engine/models/locking.py).
Every file is validated as GGUF, its chat template checked (engine/models/vetting.py),
before it is registered, and its SHA-256 recorded.
Models shipped inside the app (``engine.core.resources.bundled_models_dir``) are listed
too: read-only, never removed, and selected when the coder has selected nothing.
Nothing here uses the network except :meth:`ModelStore.download`.
"""

from __future__ import annotations

import json
import logging
import os
import re
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path

from engine.core.atomic import write_text_atomic
from engine.core.errors import ModelError, ModelFileError
from engine.core.progress import Progress
from engine.core.resources import bundled_models_dir
from engine.models.catalog import CatalogModel, find_catalog_model
from engine.models.files import default_models_dir, ensure_free_space, stream_file
from engine.models.gguf import GGUFInfo, read_gguf_info
from engine.models.locking import HeldFile, held_temporary, registry_lock, remove_leftovers
from engine.models.vetting import check_model_file

__all__ = ["InstalledModel", "ModelStore", "default_models_dir"]

log = logging.getLogger(__name__)

_REGISTRY = "models.json"
_FORMAT = 1
_VALID_ID = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")


@dataclass(frozen=True)
class InstalledModel:
    id: str
    path: str
    sha256: str
    size_bytes: int
    source: str  # "download:<repo>/<file>@<commit>", "import:<original path>" or "bundled:<file name>"
    architecture: str
    context_length: int
    added: str  # ISO 8601, UTC
    copied: bool  # False: the file is referenced where it is, and never deleted by the store

    @property
    def file(self) -> Path:
        return Path(self.path)

    @property
    def bundled(self) -> bool:
        """Shipped inside the app: listed from its folder, not the registry, and never removed."""
        return self.source.startswith("bundled:")

    @property
    def available(self) -> bool:
        """False when a referenced file was moved or deleted behind the store's back."""
        return self.file.is_file()


class ModelStore:
    def __init__(self, root: Path | None = None, bundled_dir: Path | None = None) -> None:
        self.root = Path(root) if root is not None else default_models_dir()
        self.bundled_dir = Path(bundled_dir) if bundled_dir is not None else bundled_models_dir()
        if self.root.is_dir():
            remove_leftovers(self.root)

    # --- reading -----------------------------------------------------------------

    def list(self) -> list[InstalledModel]:
        """Installed models, oldest first, then the bundled ones an installed model does not shadow."""
        models = self._read()[0]
        taken = {m.id for m in models} | {m.path for m in models}
        return models + [m for m in _bundled_models(self.bundled_dir) if m.id not in taken and m.path not in taken]

    def get(self, id_or_path: str | Path) -> InstalledModel | None:
        """The model with this id, or whose file is this path."""
        wanted = str(id_or_path)
        try:
            resolved = str(Path(wanted).expanduser().resolve())
        except OSError:
            resolved = wanted
        return next((m for m in self.list() if m.id == wanted.lower() or m.path == resolved), None)

    def selected(self) -> InstalledModel | None:
        """The chosen model; a bundled one when none was chosen (or the chosen one is gone)."""
        selected = self._read()[1]
        models = self.list()
        default = next((m for m in models if m.bundled), None)
        return next((m for m in models if m.id == selected), default)

    # --- changing ----------------------------------------------------------------

    def select(self, model_id: str) -> InstalledModel:
        """Make this the model the LLM stage uses (persisted in the registry)."""
        with registry_lock(self.root):
            model = self._require(model_id)
            if not model.available:
                raise ModelFileError(f"{model.id}: its file {model.path} is missing", hint="Import it again.")
            self._write(self._read()[0], model.id)
            return model

    def import_file(
        self,
        path: Path | str,
        copy: bool = True,
        model_id: str | None = None,
        progress: Progress | None = None,
    ) -> InstalledModel:
        """Validate a GGUF file and register it: copied into the store, or referenced where it is."""
        source = Path(path).expanduser().resolve()
        info = check_model_file(source, self.root)
        model_id = self._new_id(model_id or source.stem)
        if not copy:
            sha256 = stream_file(source, progress, f"checking {source.name}")
            return self._register(model_id, source, sha256, info, f"import:{source}", copied=False)
        self.root.mkdir(parents=True, exist_ok=True)
        ensure_free_space(self.root, info.file_size)
        with held_temporary(self.root, f"{model_id}.gguf") as temporary:
            sha256 = stream_file(source, progress, f"copying {source.name}", copy_to=temporary.stream)
            return self._register(model_id, temporary, sha256, info, f"import:{source}", copied=True)

    def download(
        self,
        model: CatalogModel | str,
        progress: Progress | None = None,
        *,
        revision: str = "main",
        endpoint: str | None = None,
        chunk_size: int = 1024**2,
        stall_seconds: float | None = None,
    ) -> InstalledModel:
        """Download a catalog model (or "owner/repo/file.gguf"), verify it, validate it, register it.

        The only network use in icdlinker.  An interrupted or cancelled download
        resumes on the next call, and so does one the server stalls (no progress for
        ``stall_seconds``, default ``hub.STALL_SECONDS``).  ``endpoint`` defaults to
        HF_ENDPOINT or huggingface.co.
        """
        from engine.models.hub import STALL_SECONDS, fetch_model_file  # keeps huggingface_hub out of coding

        repo_id, filename, model_id = _download_target(model)
        model_id = self._new_id(model_id)
        partial, remote = fetch_model_file(
            repo_id, filename, self.root / ".partial", progress,
            revision=revision, endpoint=endpoint, chunk_size=chunk_size,
            stall_seconds=stall_seconds or STALL_SECONDS,
        )
        try:
            info = check_model_file(partial, self.root)
        except ModelFileError:
            partial.unlink()
            raise
        return self._register(model_id, partial, remote.sha256, info, remote.source, copied=True)

    def remove(self, model_id: str) -> InstalledModel:
        """Unregister a model; delete its file only if the store made the copy."""
        with registry_lock(self.root):
            model = self._require(model_id)
            if model.bundled:
                raise ModelError(
                    f"{model.id} is part of the application and cannot be removed",
                    hint="Select another model instead; IT can build the app without it.",
                )
            if model.copied:  # the file first: if it is in use (Windows), the model stays registered
                try:
                    model.file.unlink(missing_ok=True)
                except OSError as error:
                    raise ModelError(
                        f"the file of {model.id} cannot be deleted: {error.strerror or error}",
                        hint="Close every program using the model (another icdlinker window too) and try again.",
                    ) from error
            models, selected = self._read()
            self._write([m for m in models if m.id != model.id], None if selected == model.id else selected)
            return model

    # --- internals ---------------------------------------------------------------

    def _require(self, model_id: str) -> InstalledModel:
        model = self.get(model_id)
        if model is None:
            raise ModelError(f"no installed model is called {model_id!r}")
        return model

    def _new_id(self, wanted: str) -> str:
        model_id = _slug(wanted)
        if not _VALID_ID.fullmatch(model_id):
            raise ModelError(f"{wanted!r} cannot be a model id", hint="Use letters, digits, '.', '-' or '_'.")
        if self.get(model_id) is not None:
            raise ModelError(
                f"a model called {model_id!r} is already installed",
                hint="Remove it first ('icdlinker models remove') or choose another id.",
            )
        return model_id

    def _register(
        self, model_id: str, file: Path | HeldFile, sha256: str, info: GGUFInfo, source: str, *, copied: bool
    ) -> InstalledModel:
        """Record the model; a copied ``file`` (held temporary or finished download) becomes ``<id>.gguf``.

        The id is checked again under the registry lock: another process may have taken it meanwhile.
        """
        with registry_lock(self.root):
            self._new_id(model_id)
            path = self.root / f"{model_id}.gguf" if copied else file
            if isinstance(file, HeldFile):
                file.move_to(path)
            elif copied:
                os.replace(file, path)
            model = InstalledModel(
                id=model_id,
                path=str(path),
                sha256=sha256,
                size_bytes=info.file_size,
                source=source,
                architecture=info.architecture,
                context_length=info.context_length,
                added=datetime.now(UTC).isoformat(timespec="seconds"),
                copied=copied,
            )
            models, selected = self._read()
            self._write([*models, model], selected)
        return model

    def _read(self) -> tuple[list[InstalledModel], str | None]:
        path = self.root / _REGISTRY
        if not path.exists():
            return [], None
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return [InstalledModel(**entry) for entry in data["models"]], data.get("selected")
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise ModelError(
                f"the model registry {path} is damaged ({error})",
                hint=f"Restore it from a backup, or delete it and import the .gguf files in {self.root}.",
            ) from None

    def _write(self, models: list[InstalledModel], selected: str | None) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        data = {"format": _FORMAT, "selected": selected, "models": [asdict(m) for m in models]}
        write_text_atomic(self.root / _REGISTRY, json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9._-]+", "-", name.lower()).strip("-._")[:64]


def _bundled_models(folder: Path) -> list[InstalledModel]:
    if not folder.is_dir():
        return []
    models = []
    for path in sorted(folder.glob("*.gguf")):
        try:
            stat = path.stat()
            models.append(_bundled_model(path, stat.st_size, stat.st_mtime_ns))
        except (OSError, ModelError) as error:  # one bad file must not hide the others
            log.warning("bundled model %s skipped: %s", path, error)
    return models


@lru_cache(maxsize=32)
def _bundled_model(path: Path, size: int, mtime_ns: int) -> InstalledModel:
    """A bundled GGUF as a model; cached per file version (``size``, ``mtime_ns``): the folder is read-only.

    Its SHA-256 comes from ``<file>.sha256`` (``sha256sum`` format, written by the build);
    without one it stays "" and is computed when the model is loaded.
    """
    model_id = _slug(path.stem)
    if not _VALID_ID.fullmatch(model_id):
        raise ModelError(f"{path.name!r} cannot be a model id")
    info = read_gguf_info(path)
    sidecar = path.with_name(f"{path.name}.sha256")
    words = sidecar.read_text(encoding="utf-8").split() if sidecar.is_file() else []
    sha256 = words[0].lower() if words and re.fullmatch(r"[0-9a-fA-F]{64}", words[0]) else ""
    return InstalledModel(
        id=model_id,
        path=str(path.resolve()),
        sha256=sha256,
        size_bytes=info.file_size,
        source=f"bundled:{path.name}",
        architecture=info.architecture,
        context_length=info.context_length,
        added=datetime.fromtimestamp(mtime_ns / 1e9, UTC).isoformat(timespec="seconds"),
        copied=False,
    )


def _download_target(model: CatalogModel | str) -> tuple[str, str, str]:
    """(repo_id, filename, model id) for a catalog model, a catalog id or "owner/repo/file.gguf"."""
    if isinstance(model, str):
        model = find_catalog_model(model) or model
    if isinstance(model, CatalogModel):
        return model.repo_id, model.filename, model.id
    owner, _, rest = model.partition("/")
    name, _, filename = rest.partition("/")
    if not (owner and name and filename.endswith(".gguf")):
        raise ModelError(
            f"{model!r} is neither a catalog model nor 'owner/repository/file.gguf'",
            hint="See 'icdlinker models list --catalog'.",
        )
    return f"{owner}/{name}", filename, Path(filename).stem
