"""icdlinker engine: documents in, ICD-10 assignments out. No Qt here (a test checks).

Folders follow the flow a document takes, each a layer that imports only the ones before it
(``tests/test_layering.py`` checks)::

    core  <  text  <  terms  <  models  <  linking  <  records  <  evaluation

- ``core``: the data passed between stages, codes and editions, errors, progress, files
- ``text``: reading, folding, language, negation, annotated corpora
- ``terms``: catalogs, bundled term dictionaries, code search
- ``models``: the GGUF store (catalog, download, import, vetting)
- ``linking``: detection, dictionary stage, candidates, the LLM stage, the pipeline
- ``records``: review operations, the session database and audit rows, settings, exports
- ``evaluation``: gold documents coded by the real pipeline, and their scores

The modules at the top compose the layers for a caller: ``coding`` (the ``Coder`` the window
and the CLI share), ``cli``, ``selftest``.
"""

import os

# Offline is the default: huggingface_hub reads this once, when first imported,
# and only the explicit model download lifts it.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
