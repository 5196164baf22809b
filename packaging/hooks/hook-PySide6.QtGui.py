"""PyInstaller hook: QtGui with only the Qt plugins a Widgets review window uses.

Replaces PyInstaller's own hook (user hooks take priority), which collects every
plugin of every QtGui plugin type: Wayland, EGL/KMS, VNC, the virtual keyboard (which
pulls in QtQuick and QML), GTK themes and a dozen image formats.  Kept: the desktop
platforms plus ``offscreen`` (self-test, CI) and ``minimal``, common image formats,
SVG icons, and the compose and IBus input methods (accents and dead keys on Linux).
"""

from pathlib import Path

from PyInstaller.utils.hooks.qt import add_qt6_dependencies

_KEPT = {
    "platforms": {"xcb", "windows", "cocoa", "offscreen", "minimal"},
    "platforms/darwin": None,  # macOS helpers of the cocoa platform: all of them
    "imageformats": {"ico", "jpeg", "gif", "svg"},
    "iconengines": {"svgicon"},
    "platforminputcontexts": {"composeplatforminputcontextplugin", "ibusplatforminputcontextplugin"},
}


def _kept(source: str, destination: str) -> bool:
    plugin_type = destination.replace("\\", "/").partition("/plugins/")[2]
    if not plugin_type:
        return True  # not a plugin
    if plugin_type not in _KEPT:
        return False
    wanted = _KEPT[plugin_type]
    name = Path(source).name.split(".")[0].removeprefix("lib")
    return wanted is None or name.removeprefix("q") in wanted or name in wanted


hiddenimports, binaries, datas = add_qt6_dependencies(__file__)
binaries = [(source, destination) for source, destination in binaries if _kept(source, destination)]
