"""`pip install iec62379` alone, offline: the agent and examples/embed.py run from the installed
package, with no MIB cache, no base MIB sources and no npm.

The package is built from a copy of this checkout into a fresh venv without its dependencies
(pysnmp, numpy ... come from the test environment through a .pth file, so nothing is
downloaded but the build backend pip's build isolation asks for). HOME and XDG_CACHE_HOME
point into an empty temporary folder and PATH holds only the fresh venv's bin/, so neither the
cache filled by `mib fetch-base` nor npm can be found.
"""

from __future__ import annotations

import os
import shutil
import site
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import REPO, require_tool
from procs import popen
from test_install_without_compiler import _copy_source as copy_source

pytestmark = pytest.mark.integration

SYS_DESCR = "1.3.6.1.2.1.1.1.0"
IF_NUMBER = "1.3.6.1.2.1.2.1.0"  # IF-MIB's ifNumber: needs the compiled IF-MIB
IF_DESCR_1 = "1.3.6.1.2.1.2.2.1.2.1"
RX_MDI_2 = "1.0.62379.7.1.4.1.1.6.2"  # rxPointMDI of the embedding example's receiver point


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def fresh(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """(the fresh venv's python, the environment to run it in)."""
    tmp = tmp_path_factory.mktemp("pip-alone")
    src = copy_source(tmp)
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True,
                   timeout=120)
    python = venv / "bin" / "python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True, timeout=60,
    ).stdout.strip()
    # --target, not --prefix: pip with --prefix would replace the test environment's own
    # (editable) install.
    r = subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", purelib,
         str(src)],
        capture_output=True, text=True, timeout=600,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    # The dependencies, from the test environment (a path line in a .pth file adds the folder
    # but runs none of its own .pth files, so the checkout's editable install stays out).
    deps = [p for p in site.getsitepackages() if Path(p).is_dir()]
    (Path(purelib) / "test-deps.pth").write_text("\n".join(deps) + "\n")
    home = tmp / "home"
    home.mkdir()
    env = {
        "HOME": str(home),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "XDG_STATE_HOME": str(home / ".state"),
        "PATH": str(venv / "bin"),
        "LANG": "C.UTF-8",
    }
    return python, env


def _snmpget(port: int, *oids: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [require_tool("snmpget"), "-v2c", "-c", "public", "-On", "-Oqv", "-t", "0.5", "-r", "0",
         f"127.0.0.1:{port}", *oids],
        capture_output=True, text=True, timeout=15,
    )


def _poll(port: int, *oids: str, seconds: float = 30.0) -> list[str]:
    deadline = time.monotonic() + seconds
    while True:
        r = _snmpget(port, *oids)
        values = r.stdout.strip().splitlines()
        if r.returncode == 0 and len(values) == len(oids) and not any(
            "No Such" in v for v in values
        ):
            return values
        if time.monotonic() > deadline:
            pytest.fail(f"{oids} did not answer on {port}: {r.stdout!r} {r.stderr!r}")
        time.sleep(0.3)


def _stop(proc: subprocess.Popen[str]) -> str:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
    return proc.stderr.read() if proc.stderr else ""


def test_the_package_comes_from_the_fresh_venv(fresh: tuple[Path, dict[str, str]]) -> None:
    python, env = fresh
    out = subprocess.run(
        [str(python), "-c", "import iec62379.mibs.paths as p, shutil; "
         "print(p.compiled_dir()); print(p.base_source_cache()); print(shutil.which('npm'))"],
        env=env, capture_output=True, text=True, check=True, timeout=60,
    ).stdout.split("\n")
    assert out[0].startswith(str(python.parent.parent))
    assert out[1].startswith(env["HOME"]) and not Path(out[1]).exists()
    assert out[2] == "None"


def test_agent_starts_from_the_installed_package(fresh: tuple[Path, dict[str, str]]) -> None:
    python, env = fresh
    port = _free_port()
    proc = subprocess.Popen(
        [str(python), "-m", "iec62379.cli.main", "agent", "--listen", f"udp:127.0.0.1:{port}"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    try:
        descr, if_number = _poll(port, SYS_DESCR, IF_NUMBER)
        assert descr and int(if_number) >= 1
        assert _poll(port, IF_DESCR_1)[0]
    finally:
        err = _stop(proc)
    assert "Traceback" not in err, err
    assert "MIB index" not in err, err  # the package ships the index: nothing built at start
    assert not (Path(env["XDG_CACHE_HOME"]) / "iec62379").exists(), "the agent used a MIB cache"


def test_embedding_example_runs_from_the_installed_package(
    fresh: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    python, env = fresh
    example = tmp_path / "embed.py"  # run out of the checkout, so nothing resolves from it
    shutil.copyfile(REPO / "examples" / "embed.py", example)
    port = _free_port()
    proc = popen(  # SIGINT at its default in the child, as from a terminal
        [str(python), str(example), "--once", "30", str(port)],
        env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith(f"listening on udp:127.0.0.1:{port}"), line + _stop(proc)
        (mdi,) = _poll(port, RX_MDI_2)
        assert ":" in mdi
        proc.send_signal(2)
        assert proc.wait(timeout=15) == 0
    finally:
        err = _stop(proc)
    assert "Traceback" not in err, err
    assert os.listdir(env["HOME"]) in ([], [".state"]), os.listdir(env["HOME"])
