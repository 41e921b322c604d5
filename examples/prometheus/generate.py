"""Build examples/prometheus/snmp.yml from generator.yml with Debian's snmp_exporter generator.

    .venv/bin/python examples/prometheus/generate.py [OUT_DIR]

The generator (/usr/bin/prometheus-snmp-generator, package prometheus-snmp-exporter) reads the
MIB modules through net-snmp: this script gives it a folder holding only our modules (as
`iec62379 mib export` writes them) and the IETF base modules they import (from the cache
`iec62379 mib fetch-base` fills), so that nothing else on the machine is parsed. It writes
OUT_DIR/snmp.yml (default: beside this script) and exits 1 when the generator reports a
warning or an error, printing them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from iec62379.mibs import base, compiler, paths

HERE = Path(__file__).resolve().parent
GENERATOR = "prometheus-snmp-generator"


class GenerateError(RuntimeError):
    """The generator is missing, failed or warned."""


def generate(out_dir: Path = HERE, generator: str = GENERATOR) -> Path:
    """Run the generator on generator.yml; return the written snmp.yml."""
    exe = shutil.which(generator)
    if exe is None:
        raise GenerateError(f"{generator} is not installed (Debian: prometheus-snmp-exporter)")
    missing = base.missing_base_sources([paths.base_source_cache()])
    if missing:
        raise GenerateError(f"run `iec62379 mib fetch-base`: {', '.join(missing)} missing")
    with tempfile.TemporaryDirectory(prefix="iec62379-prom-") as tmp:
        work = Path(tmp)
        mibs = work / "mibs"
        compiler.copy_sources(mibs)
        for name in paths.BASE_SOURCES:
            src = paths.find_module_source(name, [paths.base_source_cache()])
            assert src is not None
            shutil.copyfile(src, mibs / f"{name}.mib")
        shutil.copyfile(HERE / "generator.yml", work / "generator.yml")
        env = dict(os.environ, MIBDIRS=str(mibs), MIBS="")
        r = subprocess.run([exe, "--fail-on-parse-errors", "generate"], cwd=work, env=env,
                           capture_output=True, text=True, timeout=120)
        log = r.stdout + r.stderr
        problems = [ln for ln in log.splitlines() if "level=warn" in ln or "level=error" in ln]
        if r.returncode != 0 or problems:
            raise GenerateError(f"{generator} failed (exit {r.returncode}):\n{log}")
        out_dir.mkdir(parents=True, exist_ok=True)
        target = out_dir / "snmp.yml"
        shutil.copyfile(work / "snmp.yml", target)
        return target


def main(argv: list[str]) -> int:
    try:
        written = generate(Path(argv[0]) if argv else HERE)
    except GenerateError as exc:
        print(f"generate.py: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {written}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
