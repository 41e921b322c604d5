"""What keeps the agent's start small: the heap trimmed once after the start, modules the agent
does not use left unimported (pysnmp among them: tests/mibs/test_agent_index.py); and where
pysnmp does load the MIB modules (the compiler, `mib tree`), they are read through Python's
bytecode cache."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from iec62379.agent.mibmap import MibMap
from iec62379.agent.runner import trim_heap
from iec62379.mibs.index import MibIndex
from iec62379.mibs.index_build import index_data
from iec62379.mibs.paths import compiled_dir
from iec62379.mibs.tree import cached_bytecode_sources, mib_builder
from pysnmp.smi import builder

MODULES = ("SNMPv2-MIB", "IF-MIB", "SNMP-FRAMEWORK-MIB", "SNMP-USER-BASED-SM-MIB")


def _symbols(mb) -> dict[str, dict[str, tuple[int, ...]]]:
    mb.load_modules(*MODULES)
    return {
        mod: {n: tuple(s.getName()) for n, s in syms.items()
              if not isinstance(s, type) and hasattr(s, "getName")}
        for mod, syms in mb.mibSymbols.items()
    }


def test_cached_sources_load_the_same_modules_as_pysnmp_does():
    plain = mib_builder(texts=False)
    cached = cached_bytecode_sources(mib_builder(texts=False))
    assert all(type(s) is not builder.DirMibSource for s in cached.get_mib_sources())
    assert _symbols(cached) == _symbols(plain)
    # the index built from it is the plain one's, and the declared tables resolve against it
    assert index_data(cached) == index_data(plain)
    MibMap(MibIndex(*index_data(cached)))


def test_a_module_comes_from_its_bytecode_cache_and_a_newer_source_wins(tmp_path: Path):
    src = tmp_path / "mibs"
    src.mkdir()
    for name in ("IF-MIB", "IANAifType-MIB"):
        shutil.copy(Path(compiled_dir()) / f"{name}.py", src / f"{name}.py")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    code = (
        "import sys; from pysnmp.smi import builder;"
        "from iec62379.mibs.tree import cached_bytecode_sources;"
        "mb = builder.MibBuilder(); mb.add_mib_sources(builder.DirMibSource(sys.argv[1]));"
        "cached_bytecode_sources(mb).load_modules('IF-MIB');"
        "print(tuple(mb.import_symbols('IF-MIB', 'ifTable')[0].getName()))"
    )
    run = [sys.executable, "-c", code, str(src)]
    first = subprocess.run(run, env=env, capture_output=True, text=True, check=True)
    (cache,) = (src / "__pycache__").glob("IF-MIB.*.pyc")  # written where the folder allows
    assert first.stdout.strip() == "(1, 3, 6, 1, 2, 1, 2, 2)"
    # a changed source is recompiled, not served from the stale cache
    text = (src / "IF-MIB.py").read_text()
    (src / "IF-MIB.py").write_text(text.replace("(1, 3, 6, 1, 2, 1, 2, 2)", "(1, 3, 6, 1, 9, 9)"))
    st = cache.stat()
    os.utime(src / "IF-MIB.py", (st.st_atime + 10, st.st_mtime + 10))
    second = subprocess.run(run, env=env, capture_output=True, text=True, check=True)
    assert second.stdout.strip() == "(1, 3, 6, 1, 9, 9)"


def test_sources_other_than_folders_are_kept():
    mb = builder.MibBuilder()

    class Other(builder.DirMibSource):
        pass

    other, plain = Other(str(compiled_dir())), builder.DirMibSource(str(compiled_dir()))
    mb.set_mib_sources(other, plain)
    cached_bytecode_sources(mb)
    kept, replaced = mb.get_mib_sources()
    assert kept is other and replaced is not plain
    assert replaced.full_path() == plain.full_path()


def test_trim_heap_runs_and_says_whether_it_trimmed():
    glibc = True
    try:
        os.confstr("CS_GNU_LIBC_VERSION")
    except (ValueError, OSError):
        glibc = False
    assert isinstance(trim_heap(), bool)
    if not glibc:
        assert trim_heap() is False


def test_the_agent_command_does_not_import_the_mib_compilers_tools():
    """`iec62379 agent` imports mibs.compiler for MibCompileError only: tempfile, shutil and
    with them bz2 / lzma stay unloaded (they cost RSS; see docs/benchmarks.md)."""
    code = (
        "import sys; import iec62379.cli.agent; from iec62379.mibs.compiler import MibCompileError;"
        "print(sorted(m for m in ('tempfile', 'shutil', 'bz2', 'lzma') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_agent_command_imports_asyncio_without_tls_and_ssl_still_works_later():
    """`iec62379 agent` imports asyncio while `ssl` is unavailable (the agent speaks no TLS;
    libssl costs 1.1 MiB of RSS); a later `import ssl` works, and asyncio serves UDP."""
    code = (
        "import sys\n"
        "from iec62379.cli.agent import _asyncio_without_tls\n"
        "aio = _asyncio_without_tls()\n"
        "print('ssl' in sys.modules, aio.sslproto.ssl is None)\n"
        "async def udp():\n"
        "    loop = aio.get_running_loop()\n"
        "    got = loop.create_future()\n"
        "    class P(aio.DatagramProtocol):\n"
        "        def datagram_received(self, data, addr): got.set_result(data)\n"
        "    t, _ = await loop.create_datagram_endpoint(P, local_addr=('127.0.0.1', 0))\n"
        "    c, _ = await loop.create_datagram_endpoint(aio.DatagramProtocol,\n"
        "                                               remote_addr=t.get_extra_info('sockname'))\n"
        "    c.sendto(b'x'); data = await aio.wait_for(got, 30); t.close(); c.close()\n"
        "    return data\n"
        "print(aio.run(udp()))\n"
        "import ssl\n"
        "print(ssl.OPENSSL_VERSION.startswith('OpenSSL'))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=60)
    assert out.stdout.split() == ["False", "True", "b'x'", "True"]


def test_asyncio_already_imported_is_left_as_it_is():
    import asyncio

    from iec62379.cli.agent import _asyncio_without_tls

    assert _asyncio_without_tls() is asyncio
    assert "ssl" in sys.modules or asyncio.sslproto.ssl is None
