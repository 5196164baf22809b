"""Shared fixtures; Qt runs offscreen everywhere (no display on CI)."""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
