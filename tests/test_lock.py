"""Users install what CI ran: one constraints file, used by every install path, matching what is installed."""

import re
import subprocess
import sys
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "constraints.txt"


def pins() -> dict[str, str]:
    found = (re.fullmatch(r"([A-Za-z0-9._-]+)==(\S+)", line.strip()) for line in LOCK.read_text().splitlines())
    return {canonicalize_name(m.group(1)): m.group(2) for m in found if m}


def requirements() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    listed = project["dependencies"] + [r for extra in project["optional-dependencies"].values() for r in extra]
    return [Requirement(r) for r in listed]


def test_this_environment_is_the_locked_one() -> None:
    done = subprocess.run([sys.executable, str(ROOT / "packaging" / "build.py"), "--check-lock"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


def test_every_requirement_is_pinned_and_its_pin_satisfies_it() -> None:
    pinned = pins()
    for requirement in requirements():
        if requirement.marker is not None and not requirement.marker.evaluate():
            continue  # for another Python: the lock is for the one CI runs
        name = canonicalize_name(requirement.name)
        assert name in pinned, f"{requirement} is not pinned in {LOCK.name}"
        assert requirement.specifier.contains(pinned[name], prereleases=True), (
            f"{LOCK.name} pins {name}=={pinned[name]}, which pyproject.toml's {requirement} excludes"
        )


def test_pyside6_6_12_0_is_excluded_where_it_crashes() -> None:
    [old_python] = [r for r in requirements() if r.name == "pyside6" and "3.12" in str(r.marker)
                    and not r.marker.evaluate({"python_version": "3.12"})]
    assert not old_python.specifier.contains("6.12.0") and old_python.marker.evaluate({"python_version": "3.11"})


def test_every_install_path_uses_the_lock() -> None:
    places = {
        ".ci/run": (ROOT / ".ci" / "run").read_text(encoding="utf-8"),
        "README.md": (ROOT / "README.md").read_text(encoding="utf-8"),
        "packaging/README.md": (ROOT / "packaging" / "README.md").read_text(encoding="utf-8"),
    }
    for place, text in places.items():
        installs = [line for line in text.splitlines() if re.search(r"pip install .*-e", line)]
        assert installs, f"{place} installs nothing?"
        for line in installs:
            assert "-c constraints.txt" in line, f"{place} installs without the lock: {line.strip()}"
