"""icdlinker engine: documents in, ICD-10 assignments out. No Qt here (a test checks)."""

import os

# Offline is the default: huggingface_hub reads this once, when first imported,
# and only the explicit model download lifts it.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
