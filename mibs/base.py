"""Fetching the IETF base MIB sources into the user cache.

They are not ours, so the project never commits them. The npm registry's `net-snmp` package
carries the ones our modules need in lib/mibs; `npm pack` fetches it through whatever registry
npm is configured for. A user with their own MIB directory (net-snmp's, a vendor's) can copy
from it instead.
"""

from __future__ import annotations

import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

from .paths import BASE_SOURCES, base_source_cache, find_module_source

NPM_PACKAGE = "net-snmp@3"


class BaseMibError(RuntimeError):
    """The base MIB sources could not be obtained."""


def missing_base_sources(dirs: list[Path]) -> list[str]:
    """The base modules none of `dirs` holds."""
    return [m for m in BASE_SOURCES if find_module_source(m, dirs) is None]


def fetch_from_npm(dest: Path | None = None, npm: str = "npm", timeout_s: float = 300) -> Path:
    """Download the npm package and copy its lib/mibs/*.mib files into `dest` (the cache)."""
    dest = dest or base_source_cache()
    if shutil.which(npm) is None:
        raise BaseMibError(
            f"`{npm}` is not installed; install it (Debian: apt-get install npm) or copy the "
            f"modules {', '.join(BASE_SOURCES)} from your own MIB directory with --from DIR"
        )
    with tempfile.TemporaryDirectory(prefix="iec62379-npm-") as tmp:
        try:
            proc = subprocess.run(
                [npm, "pack", NPM_PACKAGE, "--pack-destination", tmp, "--silent"],
                cwd=tmp,
                capture_output=True,
                text=True,
                timeout=timeout_s,
            )
        except subprocess.TimeoutExpired as exc:
            raise BaseMibError(
                f"`npm pack {NPM_PACKAGE}` did not finish in {timeout_s:.0f} s"
            ) from exc
        tarballs = sorted(Path(tmp).glob("*.tgz"))
        if proc.returncode != 0 or not tarballs:
            raise BaseMibError(
                f"`npm pack {NPM_PACKAGE}` failed (exit {proc.returncode}): "
                f"{(proc.stderr or proc.stdout).strip()[-500:]}"
            )
        staging = Path(tmp) / "mibs"
        staging.mkdir()
        with tarfile.open(tarballs[0]) as tar:
            for member in tar.getmembers():
                p = Path(member.name)
                if member.isfile() and p.parent.as_posix() == "package/lib/mibs":
                    src = tar.extractfile(member)
                    if src is not None:
                        (staging / p.name).write_bytes(src.read())
        return _install(staging, dest)


def copy_from_dir(src_dir: Path, dest: Path | None = None) -> Path:
    """Copy the base modules from a local MIB directory into `dest` (the cache)."""
    dest = dest or base_source_cache()
    if not src_dir.is_dir():
        raise BaseMibError(f"{src_dir}: not a directory")
    missing = missing_base_sources([src_dir])
    if missing:
        raise BaseMibError(f"{src_dir} lacks {', '.join(missing)}")
    with tempfile.TemporaryDirectory(prefix="iec62379-mibs-") as tmp:
        staging = Path(tmp)
        for name in BASE_SOURCES:
            found = find_module_source(name, [src_dir])
            assert found is not None
            shutil.copyfile(found, staging / f"{name}.mib")
        return _install(staging, dest)


def _install(staging: Path, dest: Path) -> Path:
    missing = missing_base_sources([staging])
    if missing:
        raise BaseMibError(f"the fetched package lacks {', '.join(missing)}")
    dest.mkdir(parents=True, exist_ok=True)
    for f in sorted(staging.iterdir()):
        tmp = dest / f".{f.name}.tmp"
        shutil.copyfile(f, tmp)
        tmp.replace(dest / f.name)
    return dest
