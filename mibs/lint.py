"""Running libsmi's smilint over our modules and reading its findings.

smilint exits 0 even when it reports errors, so its output is parsed: each line carries file,
line, severity level (0-6) and, with -m, the error's name. Levels 0-3 are errors, 4-5 warnings,
6 informational. Findings in modules other than the one linted (the base modules) are dropped.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from .paths import OUR_MODULES, RECONSTRUCTED_MODULES, base_source_dirs, our_source, source_dir

_LINE = re.compile(
    r"^(?P<file>[^:\n]+):(?P<line>\d+): \[(?P<level>\d)\] (?:\{(?P<tag>[^}]+)\} )?(?P<msg>.*)$"
)

#: Warnings that stay, each explained in docs/mib.md ("smilint findings that remain").
_BOTH = "the standard names both the type and the column"
EXPLAINED: dict[tuple[str, str], str] = {
    ("identifier-case-match", "temperatureTrend"): _BOTH,
    ("identifier-case-match", "temperatureStatus"): _BOTH,
    ("taddress-tdomain", "nMtTxRxAddr"): "nMtNetworkType plays the part of the TDomain",
    ("taddress-tdomain", "nMtSIPServerAddr"): "nMtNetworkType plays the part of the TDomain",
}


class LintUnavailable(RuntimeError):
    """smilint is not installed."""


@dataclass(frozen=True)
class LintFinding:
    file: str
    line: int
    level: int
    tag: str
    message: str

    @property
    def severity(self) -> str:
        return "error" if self.level <= 3 else "warning" if self.level <= 5 else "info"

    @property
    def subject(self) -> str:
        """The first quoted identifier of the message (libsmi quotes them as `name')."""
        m = re.search(r"`([^']+)'", self.message)
        return m.group(1) if m else ""

    @property
    def explanation(self) -> str | None:
        # smilint's tag for the TAddress finding is generic; key it by our own name.
        tag = "taddress-tdomain" if "TDomain" in self.message else self.tag
        subject = self.subject
        if tag == "taddress-tdomain":
            subject = _object_at_line(self.file, self.line)
        return EXPLAINED.get((tag, subject))

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.severity}: {self.message} [{self.tag}]"


def _object_at_line(file: str, line: int) -> str:
    """The OBJECT-TYPE defined at or just above `line` of `file`."""
    try:
        lines = Path(file).read_text(errors="replace").splitlines()
    except OSError:
        return ""
    for i in range(min(line, len(lines)) - 1, -1, -1):
        m = re.match(r"^(\w+)\s+OBJECT-TYPE", lines[i])
        if m:
            return m.group(1)
    return ""


def run_smilint(
    files: list[Path] | None = None,
    mib_dirs: list[str] | tuple[str, ...] = (),
    level: int = 6,
    smilint: str = "smilint",
    timeout_s: float = 120,
) -> list[LintFinding]:
    """Lint `files` (default: our modules, not the reconstructed ones) and return the findings
    in those files."""
    exe = shutil.which(smilint)
    if exe is None:
        raise LintUnavailable(
            "smilint is not installed (Debian: apt-get install smitools)"
        )
    files = files or [our_source(m) for m in OUR_MODULES if m not in RECONSTRUCTED_MODULES]
    findings: list[LintFinding] = []
    for f in files:
        if not f.is_file():
            raise FileNotFoundError(f"{f}: no such file")
        path = os.pathsep.join(
            str(d) for d in [f.resolve().parent, source_dir(), *base_source_dirs(mib_dirs)]
        )
        env = dict(os.environ, SMIPATH=path)
        proc = subprocess.run(
            [exe, "-l", str(level), "-m", "-s", str(f.name)],
            cwd=f.resolve().parent,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout_s,
        )
        for raw in (proc.stdout + proc.stderr).splitlines():
            m = _LINE.match(raw.strip())
            if not m:
                continue
            file = m.group("file")
            if Path(file).name != f.name:
                continue
            findings.append(
                LintFinding(
                    file=str(f),
                    line=int(m.group("line")),
                    level=int(m.group("level")),
                    tag=m.group("tag") or "",
                    message=re.sub(r"^(?:error|warning|info): ", "", m.group("msg")),
                )
            )
    return findings
