"""The npm packages of tests/clients/package.json, installed once per lock file into a cache folder.

`npm ci` takes about a minute; the folder is keyed by the lock file's hash, so every later test session
(and CI on the same machine) reuses it, and a changed lock installs afresh beside the old one. Nothing is
installed in the repository or the Python package. `ML_NPM_CACHE` names another folder.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import pytest

CLIENTS = Path(__file__).resolve().parent
ROOT = CLIENTS.parents[1]
MANIFESTS = ("package.json", "package-lock.json")


def executable(name: str) -> str:
    """A Node.js tool on PATH; the test fails, saying what to install, if it is missing (never skipped)."""
    found = shutil.which(name)
    if found is None:
        pytest.fail(
            f"`{name}` is not on PATH: the client checks in tests/clients/ need Node.js 20 or newer and npm "
            "(Debian: apt-get install nodejs npm)",
            pytrace=False,
        )
    return found


def cache_root() -> Path:
    configured = os.environ.get("ML_NPM_CACHE")
    return Path(configured) if configured else Path.home() / ".cache" / "measure-ledger" / "npm"


def node_modules() -> Path:
    """The installed packages, installing them first if this lock file has not been installed yet."""
    npm = executable("npm")
    executable("node")
    digest = hashlib.sha256(b"".join((CLIENTS / name).read_bytes() for name in MANIFESTS)).hexdigest()[:16]
    root = cache_root()
    target = root / digest
    if (target / "installed").exists():
        return target / "node_modules"
    root.mkdir(parents=True, exist_ok=True)
    # Several test sessions may start at once on one machine: one installs, the others wait for it.
    with open(root / "install.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (target / "installed").exists():
            shutil.rmtree(target, ignore_errors=True)
            target.mkdir()
            for name in MANIFESTS:
                shutil.copy(CLIENTS / name, target / name)
            # --ignore-scripts: no package runs code at install; none of these needs to.
            command = [npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"]
            done = subprocess.run(command, cwd=target, capture_output=True, text=True, timeout=600)
            if done.returncode != 0:
                pytest.fail(
                    f"`npm ci` of tests/clients/package-lock.json failed:\n{done.stderr[-3000:]}", pytrace=False
                )
            (target / "installed").touch()
    return target / "node_modules"


def run_node(args: list[str], cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """A Node.js program or package binary, failing the test with its output if it fails."""
    done = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        pytest.fail(f"{' '.join(args[:2])} failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return done
