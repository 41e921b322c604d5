"""The code blocks of the README and docs, and a runner that runs them as a reader would.

A code block is a fenced block (```) or an indented one (4 spaces or more after a blank line).
What the runner does with a block is said by an HTML comment on the line before it (blank
lines between allowed), and only by that:

- no marker: a shell block, run with bash in the repository's root (each line as typed; a
  trailing backslash continues the line); it must exit 0 and print no "Cannot find module";
- `<!-- doc-test: background -->`: a shell block that starts a server (an agent); it is started,
  the runner waits until 127.0.0.1:1161 answers SNMP, and it runs until the next background
  block or a Python block starts, or the file ends;
- `<!-- doc-test: python -->`: Python, run in a fresh interpreter (top-level `await` allowed);
  running agents are stopped first (the block may bind the documented port);
- `<!-- doc-test: toml -->`: a TOML fragment; it must parse;
- `<!-- doc-test: skip REASON -->`: not run (a synopsis, an output, a fragment).

A fenced block whose language is `python` or `toml` is run as that kind without a marker.

Run as a script (`python doc_examples.py FILE...`) it runs every block of the files and prints
one JSON object per block. The test runs it in a network namespace of its own (`unshare -n`),
so the documented port 1161 is free and nothing it starts is reachable from outside.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import tomllib
from dataclasses import asdict, dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
MARKER = re.compile(r"^\s*<!--\s*doc-test:\s*(\w+)(.*?)-->\s*$")
KINDS = ("shell", "background", "python", "toml", "skip")
SYS_UPTIME = "1.3.6.1.2.1.1.3.0"


@dataclass(frozen=True)
class Block:
    file: str
    line: int  # 1-based line of the block's first line
    kind: str
    text: str
    reason: str = ""


def _marker(lines: list[str], start: int) -> tuple[str, str]:
    i = start - 1
    while i >= 0 and not lines[i].strip():
        i -= 1
    if i >= 0:
        m = MARKER.match(lines[i])
        if m:
            kind = m.group(1)
            if kind not in KINDS[1:]:
                raise ValueError(f"line {i + 1}: unknown doc-test marker {kind!r}")
            return kind, m.group(2).strip()
    return "shell", ""


def extract(path: Path) -> list[Block]:
    """The code blocks of a markdown file, in order."""
    lines = path.read_text().splitlines()
    blocks = []
    i = 0
    prev_blank = True
    while i < len(lines):
        line = lines[i]
        if line.lstrip().startswith("```"):
            indent = len(line) - len(line.lstrip())
            start = i
            i += 1
            body = []
            while i < len(lines) and not lines[i].lstrip().startswith("```"):
                body.append(lines[i][indent:])
                i += 1
            kind, reason = _marker(lines, start)
            lang = line.strip()[3:].strip()
            if kind == "shell" and lang in ("python", "toml"):
                kind = lang  # a fence's language says it as well as a marker
            blocks.append(Block(str(path), start + 2, kind, "\n".join(body) + "\n", reason))
            i += 1
            prev_blank = False
            continue
        if prev_blank and line.startswith("    ") and line.strip():
            start = i
            indent = len(line) - len(line.lstrip())
            body = []
            while i < len(lines) and (
                lines[i].startswith(" " * indent)
                or (not lines[i].strip() and i + 1 < len(lines)
                    and lines[i + 1].startswith(" " * indent))
            ):
                body.append(lines[i][indent:])
                i += 1
            kind, reason = _marker(lines, start)
            blocks.append(Block(str(path), start + 1, kind, "\n".join(body) + "\n", reason))
            prev_blank = False
            continue
        prev_blank = not line.strip()
        i += 1
    return blocks


# --- running, inside the namespace ----------------------------------------------------------


def _answers(timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        r = subprocess.run(
            ["snmpget", "-v2c", "-c", "public", "-t", "0.5", "-r", "0", "-On",
             "127.0.0.1:1161", SYS_UPTIME], capture_output=True, text=True, timeout=10,
        )
        if r.returncode == 0 and "Timeticks" in r.stdout:
            return True
        time.sleep(0.3)
    return False


class Runner:
    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.background: list[subprocess.Popen[bytes]] = []

    def stop_background(self) -> None:
        for p in self.background:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
                try:
                    p.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    os.killpg(p.pid, signal.SIGKILL)
                    p.wait(timeout=10)
        self.background.clear()

    def run(self, block: Block) -> dict:
        out = {"file": block.file, "line": block.line, "kind": block.kind, "ok": True,
               "output": ""}
        if block.kind == "skip":
            out["output"] = block.reason
        elif block.kind == "toml":
            try:
                tomllib.loads(block.text)
            except tomllib.TOMLDecodeError as exc:
                out.update(ok=False, output=str(exc))
        elif block.kind == "background":
            self.stop_background()
            log = open(f"/tmp/doc-bg-{os.getpid()}-{block.line}.log", "w+b")  # noqa: SIM115
            p = subprocess.Popen(["bash", "-c", block.text], cwd=REPO, env=self.env,
                                 stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
            self.background.append(p)
            if not _answers(120):
                log.seek(0)
                out.update(ok=False, output="no SNMP answer on 127.0.0.1:1161 within 120 s\n"
                           + log.read().decode(errors="replace")[-3000:])
        elif block.kind == "python":
            self.stop_background()
            code = (
                "import ast, asyncio, sys\n"
                "src = sys.stdin.read()\n"
                "c = compile(src, 'doc', 'exec', flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)\n"
                "r = eval(c, {'__name__': '__main__'})\n"
                "if asyncio.iscoroutine(r):\n"
                "    asyncio.run(r)\n"
            )
            r = subprocess.run([sys.executable, "-c", code], input=block.text, cwd=REPO,
                               env=self.env, capture_output=True, text=True, timeout=300)
            out.update(ok=r.returncode == 0, output=(r.stdout + r.stderr)[-3000:])
        else:
            r = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", block.text], cwd=REPO,
                               env=self.env, capture_output=True, text=True, timeout=300)
            text = r.stdout + r.stderr
            ok = r.returncode == 0 and "Cannot find module" not in text
            out.update(ok=ok, output=text[-3000:])
        return out


def main(files: list[str]) -> int:
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    env = dict(os.environ)
    env["PATH"] = f"{REPO / '.venv' / 'bin'}:{env.get('PATH', '')}"
    runner = Runner(env)
    try:
        for f in files:
            for block in extract(Path(f)):
                print(json.dumps({**runner.run(block), "text": asdict(block)["text"]}),
                      flush=True)
            runner.stop_background()
    finally:
        runner.stop_background()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
