"""Before Qt starts on Linux: are the system libraries its platform plugin needs installed?

Qt does not raise when the xcb plugin cannot be loaded: it prints a warning and
aborts the process.  So the launcher loads the plugin with ``dlopen`` first;
the loader's error names the missing library, and the coder (or IT) is told the
package that provides it.  No Qt import here, for the same reason.
"""

from __future__ import annotations

import ctypes
import os
import re
import sys
from importlib.util import find_spec
from pathlib import Path

__all__ = ["DEBIAN_PACKAGES", "missing_library", "platform_plugin", "window_start_problem"]

# The libraries Qt 6's xcb plugin and QtGui load that minimal Linux installs lack, and the
# Debian/Ubuntu package of each (the README lists them; other distributions name them alike).
DEBIAN_PACKAGES = {
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libxkbcommon.so.0": "libxkbcommon0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-xinerama.so.0": "libxcb-xinerama0",
    "libxcb-xkb.so.1": "libxcb-xkb1",
    "libX11-xcb.so.1": "libx11-xcb1",
    "libEGL.so.1": "libegl1",
    "libGL.so.1": "libgl1",
    "libOpenGL.so.0": "libopengl0",
    "libfontconfig.so.1": "libfontconfig1",
    "libfreetype.so.6": "libfreetype6",
    "libdbus-1.so.3": "libdbus-1-3",
    "libglib-2.0.so.0": "libglib2.0-0",
}
_MISSING = re.compile(r"([\w.+-]+\.so(?:\.\d+)*): cannot open shared object file")


def missing_library(error: str) -> str | None:
    """The library a loader error (``dlopen``, or an ImportError of a Qt module) says is missing."""
    match = _MISSING.search(error)
    return match.group(1) if match else None


def platform_plugin() -> Path | None:
    """The xcb platform plugin of the installed (or frozen) PySide6, if there is one."""
    spec = find_spec("PySide6")
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        for plugin in (Path(folder) / "Qt" / "plugins" / "platforms" / "libqxcb.so",
                       Path(folder) / "plugins" / "platforms" / "libqxcb.so"):
            if plugin.is_file():
                return plugin
    return None


def window_start_problem(import_error: str | None = None, plugin: Path | None = None) -> str | None:
    """Why the window cannot start on this Linux desktop, with what to install; None if it can.

    ``import_error`` is the text of a failed Qt import, if there was one; otherwise
    the xcb plugin is loaded to see whether its libraries are there (only where Qt
    would use it: a display and no other platform chosen).
    """
    if import_error is None:
        if not _uses_xcb():
            return None
        plugin = plugin or platform_plugin()
        if plugin is None:
            return None
        try:
            ctypes.CDLL(str(plugin), mode=os.RTLD_LAZY | os.RTLD_LOCAL)
        except OSError as error:
            import_error = str(error)
        else:
            return _display_problem()
    library = missing_library(import_error)
    if library is None:
        return f"the review window cannot start ({import_error})"
    package = DEBIAN_PACKAGES.get(library)
    install = (f"install the package {package} (Debian/Ubuntu: sudo apt-get install {package})" if package
               else f"install the system package that provides {library}")
    return f"the review window cannot start: Qt needs the system library {library}, which is missing — {install}"


def _display_problem() -> str | None:
    """Qt aborts when it cannot reach the X display, so try the connection first (libxcb is loaded by now)."""
    display = os.environ.get("DISPLAY", "")
    try:
        xcb = ctypes.CDLL("libxcb.so.1")
    except OSError:
        return None  # the plugin loaded, so libxcb is there under another name: let Qt try
    xcb.xcb_connect.restype = ctypes.c_void_p
    xcb.xcb_connect.argtypes = [ctypes.c_char_p, ctypes.c_void_p]
    xcb.xcb_connection_has_error.argtypes = [ctypes.c_void_p]
    xcb.xcb_disconnect.argtypes = [ctypes.c_void_p]
    connection = xcb.xcb_connect(display.encode() or None, None)
    failed = xcb.xcb_connection_has_error(connection)
    xcb.xcb_disconnect(connection)
    if failed:
        return (f"the review window cannot start: there is no X display at DISPLAY={display!r} "
                "(start it from a desktop session, or set DISPLAY)")
    return None


def _uses_xcb() -> bool:
    if not sys.platform.startswith("linux"):
        return False
    chosen = os.environ.get("QT_QPA_PLATFORM", "")
    if chosen:
        return chosen.split(":")[0] == "xcb"
    return bool(os.environ.get("DISPLAY")) and not os.environ.get("WAYLAND_DISPLAY")
