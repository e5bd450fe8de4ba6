"""The code's own bar: every module declares its public API; mypy --strict, ruff check and ruff format pass."""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import locallambda

ROOT = Path(__file__).resolve().parents[2]


def _modules() -> list[str]:
    return [
        m.name for m in pkgutil.walk_packages(locallambda.__path__, "locallambda.") if not m.name.endswith("__main__")
    ]


@pytest.mark.parametrize("name", _modules())
def test_public_api_is_declared_and_exists(name: str) -> None:
    module = importlib.import_module(name)
    exported = getattr(module, "__all__", None)
    if name.count(".") == 1 and module.__file__ and module.__file__.endswith("__init__.py"):
        return  # sub-package markers
    assert exported is not None, f"{name} declares no __all__"
    missing = [n for n in exported if not hasattr(module, n)]
    assert not missing, f"{name}.__all__ names what it does not define: {missing}"


def test_mypy_strict() -> None:
    pytest.importorskip("mypy")
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "--no-error-summary"], cwd=ROOT, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize(
    "args",
    [["check", "src", "tests", "bench", "scripts"], ["format", "--check", "src", "tests", "bench", "scripts"]],
    ids=["check", "format"],
)
def test_ruff(args: list[str]) -> None:
    done = subprocess.run([sys.executable, "-m", "ruff", *args], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
