"""Open the LLM stage for a pipeline: find the model, check it fits, load it on the one worker."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from engine.core.errors import ModelFileError
from engine.core.progress import Progress
from engine.linking.llm.backend import BackendSettings, Generation
from engine.linking.llm.linker import LLMLinker, ModelIdentity
from engine.linking.llm.worker import LLMWorker
from engine.models.files import stream_file
from engine.models.gguf import read_gguf_info
from engine.models.memory import check_fits, estimate_memory
from engine.models.store import ModelStore
from engine.terms.catalog import Catalog

__all__ = ["LLMStage", "open_llm_stage"]

DEFAULT_CONTEXT = 8192  # a long discharge summary, its candidates and the example fit


@dataclass
class LLMStage:
    """A loaded model and the linker that uses it; close it to free the memory."""

    worker: LLMWorker
    linker: LLMLinker

    def close(self) -> None:
        self.worker.shutdown()


def open_llm_stage(
    model: str,
    language: str,
    catalog: Catalog,
    settings: BackendSettings | None = None,
    store: ModelStore | None = None,
) -> LLMStage:
    """Load ``model`` (an installed model's id, or a .gguf path) for linking in ``language``.

    The file is validated and its memory need checked before llama.cpp sees it.
    """
    installed = (store or ModelStore()).get(model)
    if installed is not None:
        path, sha256, name = installed.file, installed.sha256, installed.id
    else:
        path = Path(model).expanduser()
        if not path.is_file():
            raise ModelFileError(
                f"no installed model or file named {model!r}",
                hint="See 'icdlinker models list', or give the path of a .gguf file.",
            )
        sha256, name = "", path.name
    info = read_gguf_info(path)
    settings = settings or BackendSettings(n_ctx=DEFAULT_CONTEXT)
    settings = replace(settings, n_ctx=min(settings.n_ctx, info.context_length))
    check_fits(estimate_memory(info, settings.n_ctx, settings.gpu_layers()))
    sha256 = sha256 or stream_file(path, None, "hashing")  # provenance names the exact file
    worker = LLMWorker()
    try:
        worker.load(path, settings).result()
    except BaseException:
        worker.shutdown()
        raise

    def generate(
        messages: list[dict[str, str]],
        schema: dict,
        max_tokens: int,
        cancel: Progress | None,
        on_text: Callable[[str], None] | None,
    ) -> Generation:
        return worker.generate_json(messages, schema, max_tokens, cancel, on_text=on_text).result()

    return LLMStage(worker, LLMLinker(generate, catalog, language, ModelIdentity(name, sha256)))
