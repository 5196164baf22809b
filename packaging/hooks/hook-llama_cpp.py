"""PyInstaller hook: llama-cpp-python loads its native libraries with ctypes from ``llama_cpp/lib``.

PyInstaller cannot see ctypes loads, hence "Shared library with base name 'llama' not
found" in frozen apps.  Collect every library there (CPU and any GPU backend the wheel
was built with) into the same folder of the bundle; the SONAME-versioned copies they
link to are found by PyInstaller's own dependency analysis.
"""

from PyInstaller.utils.hooks import collect_dynamic_libs

binaries = collect_dynamic_libs("llama_cpp")
