"""Shared test fixtures: where the repository, the digest and the tools are."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
DIGEST = SHARED / "spec" / "iec62379-7.md"


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


@pytest.fixture(scope="session")
def digest_text() -> str:
    if not DIGEST.is_file():
        pytest.fail(
            f"the digest of the standard is missing: {DIGEST} (shared/ must sit beside the repo)"
        )
    return DIGEST.read_text()


def require_tool(name: str) -> str:
    """The path of a command-line tool the test needs; fail (not skip) when it is missing."""
    sbin = Path("/usr/sbin") / name
    path = shutil.which(name) or (str(sbin) if sbin.exists() else None)
    if path is None:
        pytest.fail(f"{name} is not installed; run `bash .ci/setup` first")
    return path
