"""A compiler-less ``pip install`` still works: the optional C extension is skipped, the
measurement core runs its Python references, and ``iec62379 probe`` reports what the
native build reports.

The package is built from this checkout into a fresh directory with ``CC=false`` (every
compile fails, so setup.py's optional Extension is left out), without dependencies (numpy,
pysnmp ... come from the running environment), and run from there.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
PCAP_DIR = ROOT / "tests" / "fixtures" / "pcap"
PCAPS = [PCAP_DIR / n for n in ("eth_ns_be_vlan.pcap", "eth_us_le.pcap")]


def _copy_source(dst: Path) -> Path:
    """The files a build needs (not the checkout's venv, build outputs or compiled module)."""
    src = dst / "src"
    src.mkdir()
    for name in ("setup.py", "setup.cfg", "pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, src / name)
    ignore = shutil.ignore_patterns("*.so", "__pycache__", "*.egg-info", "build")
    for name in ("agent", "collectors", "cli", "mibs"):
        shutil.copytree(ROOT / name, src / name, ignore=ignore)
    return src


def _probe(env: dict[str, str], pcap: Path) -> list[dict]:
    out = subprocess.run(
        [sys.executable, "-m", "iec62379.cli.main", "probe", "--json", str(pcap)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    ).stdout
    return [json.loads(line) for line in out.splitlines() if line.strip()]


@pytest.fixture(scope="module")
def plain_install(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("nocc")
    src = _copy_source(tmp)
    lib = tmp / "lib"
    env = dict(os.environ, CC="false", CXX="false")
    r = subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(lib), str(src)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert not list(lib.rglob("_kernels*.so")), "the extension was built despite CC=false"
    return lib


def _env(lib: Path | None) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("IEC62379_REQUIRE_NATIVE", None)
    if lib is not None:
        env["PYTHONPATH"] = str(lib)
    return env


def test_core_reports_no_native_kernels(plain_install: Path) -> None:
    code = (
        "import iec62379.collectors.core.fast as f, sys; "
        "print(f.native(), f.__file__.startswith(sys.argv[1]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(plain_install)],
        env=_env(plain_install),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout.split()
    assert out == ["False", "True"]


@pytest.mark.parametrize("pcap", PCAPS, ids=lambda p: p.name)
def test_probe_without_the_extension_equals_native(plain_install: Path, pcap: Path) -> None:
    plain = _probe(_env(plain_install), pcap)
    native = _probe(_env(None), pcap)
    assert plain and plain == native
