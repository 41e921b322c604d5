"""The MIB vocabulary is defined once (iec62379.mibs.vocabulary) and every old name is that
definition; the agent's modules load without the collectors, the vocabulary without numpy."""

from __future__ import annotations

import subprocess
import sys

from iec62379.agent import config, model, responder
from iec62379.collectors.core import bitrate, formats
from iec62379.mibs import vocabulary


def test_old_names_are_the_one_definition():
    for name in ("NetworkType", "TransportType", "FecType", "BitRateType", "TemperatureStatus"):
        assert getattr(model, name) is getattr(vocabulary, name), name
    for name in ("AudioFormat", "VideoCoding", "AspectRatio", "SourceFormat", "FecType"):
        assert getattr(formats, name) is getattr(vocabulary, name), name
    assert bitrate.BitRateType is vocabulary.BitRateType
    assert responder.Community is config.Community


def test_both_spellings_of_fec_type_are_the_same_members():
    f = vocabulary.FecType
    assert f.SMPTE2022_1 is f.SMPTE_2022_1 and f.SMPTE2022_5 is f.SMPTE_2022_5
    assert [m.name for m in f] == ["NONE", "RFC2733", "RFC5109", "SMPTE_2022_1", "SMPTE_2022_5",
                                   "PROPRIETARY"]


def test_the_agent_loads_without_the_collectors_and_the_vocabulary_alone():
    code = (
        "import sys\n"
        "import iec62379.mibs.vocabulary\n"
        "assert not {'numpy', 'pysnmp'} & set(sys.modules), 'the vocabulary is stdlib only'\n"
        "import iec62379.agent.runner, iec62379.agent.config, iec62379.agent.store\n"
        "import iec62379.agent.instrum, iec62379.agent.responder, iec62379.agent.access\n"
        "loaded = sorted(m for m in sys.modules if m.startswith('iec62379.collectors'))\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
