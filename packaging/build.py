"""Build the one-folder app: ``.venv/bin/python packaging/build.py [--with-model FILE.gguf] [--dist DIR]``.

Runs PyInstaller on packaging/icdlinker.spec, then checks the bundle, because a frozen
app loses files silently: every data file the wheel ships must be there, nothing from
dictionaries/sources/ may be, and llama.cpp's libraries and Qt's offscreen platform
must be.  ``--with-model`` copies a GGUF (validated, with its SHA-256) into the
bundle's bundled-models folder, so the app links with an LLM at once and offline.

The build refuses an environment that is not the one CI tested: every package
installed must have the version constraints.txt pins (``--check-lock`` checks only that).

Run it as a script, never import it: this folder must not shadow the ``packaging`` library.
"""

from __future__ import annotations

import argparse
import ctypes.util
import importlib.metadata
import importlib.util
import re
import subprocess
import sys
import time
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the engine validates and hashes --with-model

APP = "icdlinker"
CONTENTS = "_internal"  # PyInstaller's default contents folder: sys._MEIPASS in the app
LOCK = ROOT / "constraints.txt"
BUNDLED_MODELS = Path("resources", "models")  # engine.core.resources.bundled_models_dir() in the app
_MB = 1024**2


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="packaging/build.py", description=__doc__.split("\n\n")[1])
    parser.add_argument("--with-model", type=Path, metavar="FILE.gguf", help="ship this model inside the app")
    parser.add_argument("--dist", type=Path, default=ROOT / "dist", metavar="DIR", help="output folder (default: dist/)")
    parser.add_argument(
        "--work", type=Path, default=ROOT / "build" / "pyinstaller", metavar="DIR", help="PyInstaller's work folder"
    )
    parser.add_argument("--check-lock", action="store_true",
                        help="only check that the installed packages are the versions constraints.txt pins")
    args = parser.parse_args(argv)
    unlocked = lock_mismatches()
    for problem in unlocked:
        print(f"build: {problem}", file=sys.stderr)
    if unlocked:
        print("build: install with: pip install -c constraints.txt -e '.[packaging]'", file=sys.stderr)
        return 2
    if args.check_lock:
        print(f"build: every installed package is the version {LOCK.name} pins")
        return 0
    if importlib.util.find_spec("PyInstaller") is None:
        print("build: PyInstaller is missing; install it with: pip install -e '.[packaging]'", file=sys.stderr)
        return 2
    if args.with_model:
        from engine.core.errors import ModelFileError
        from engine.models.gguf import read_gguf_info

        try:
            read_gguf_info(args.with_model)  # refuse a broken model before the build, not after
        except ModelFileError as error:
            print(f"build: {error}", file=sys.stderr)
            return 2
    started = time.perf_counter()
    app = args.dist.resolve() / APP
    if not _pyinstaller(args.dist.resolve(), args.work.resolve()):
        return 1
    problems = _audit(app)
    for problem in problems:
        print(f"build: {problem}", file=sys.stderr)
    if problems:
        return 1
    if args.with_model:
        _bundle_model(args.with_model, app)
    files = [p for p in app.rglob("*") if p.is_file() and not p.is_symlink()]
    size = sum(p.stat().st_size for p in files)
    print(f"built {app} in {time.perf_counter() - started:.0f} s: {size / _MB:.0f} MB in {len(files)} files")
    print(f"check it: {app / APP} --self-test")
    return 0


def lock_mismatches() -> list[str]:
    """Installed packages whose version is not the one constraints.txt pins."""
    problems = []
    for line in LOCK.read_text(encoding="utf-8").splitlines():
        pin = re.fullmatch(r"([A-Za-z0-9._-]+)==(\S+)", line.strip())
        if pin is None:
            continue
        name, wanted = pin.groups()
        try:
            installed = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue  # an extra this environment does not use (bench, say)
        if installed != wanted:
            problems.append(f"{name} {installed} is installed, but {LOCK.name} pins {wanted}")
    return problems


def _pyinstaller(dist: Path, work: Path) -> bool:
    command = [
        sys.executable, "-m", "PyInstaller", "--noconfirm", "--log-level", "WARN",
        "--distpath", str(dist), "--workpath", str(work), str(ROOT / "packaging" / f"{APP}.spec"),
    ]
    print("build:", " ".join(command), flush=True)
    status = subprocess.run(command, cwd=ROOT, check=False).returncode
    if status:
        print(f"build: PyInstaller failed (exit {status}); its messages are above", file=sys.stderr)
    return status == 0


def _shipped_data() -> list[Path]:
    """The data files the wheel ships (pyproject package-data), relative to the root: the spec's list."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return [
        path.relative_to(ROOT)
        for package, patterns in config["tool"]["setuptools"]["package-data"].items()
        for pattern in patterns
        for path in sorted((ROOT / package).glob(pattern))
        if path.is_file()
    ]


def _audit(app: Path) -> list[str]:
    """What is wrong with a built app folder; empty when it is complete."""
    contents = app / CONTENTS
    if not (app / APP).exists() and not (app / f"{APP}.exe").exists():
        return [f"no {APP} executable in {app}"]
    problems = [f"missing {p}" for p in _shipped_data() if not (contents / p).is_file()]
    forbidden = {p.name for p in (ROOT / "dictionaries" / "sources").glob("*")}
    problems += [
        f"must not ship {p.relative_to(app)} (dictionaries/sources/ may not be passed on)"
        for p in contents.rglob("*")
        if p.name in forbidden or p.name == "sources" and p.parent.name == "dictionaries"
    ]
    if not any((contents / "llama_cpp" / "lib").glob("*llama.*")):
        problems.append("llama.cpp's library is missing from llama_cpp/lib (see packaging/hooks/hook-llama_cpp.py)")
    if ctypes.util.find_library("xcb-cursor") and not any(contents.rglob("libxcb-cursor.so*")):
        # Qt 6.5+'s xcb platform needs it and minimal Linux installs lack it: carry the build machine's.
        problems.append("libxcb-cursor.so.0 is on this machine but not in the bundle (Qt's xcb platform needs it)")
    if not any(contents.rglob("*qoffscreen*")):
        problems.append("Qt's offscreen platform plugin is missing (see packaging/hooks/hook-PySide6.QtGui.py)")
    return problems


def _bundle_model(model: Path, app: Path) -> None:
    from engine.models.files import stream_file

    folder = app / CONTENTS / BUNDLED_MODELS
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / model.name
    target.unlink(missing_ok=True)
    with target.open("wb") as copy:
        sha256 = stream_file(model, None, "copying", copy_to=copy)
    (folder / f"{model.name}.sha256").write_text(f"{sha256}  {model.name}\n", encoding="utf-8")
    print(f"bundled model {target.relative_to(app)}: {target.stat().st_size / _MB:.0f} MB, sha256 {sha256}")


if __name__ == "__main__":
    sys.exit(main())
