"""IEC62379-EXT-MIB's rxPointExtTable, served by the agent from the rxPointTable rows it
augments, read by net-snmp by name (the exported module) and by number."""

from __future__ import annotations

from pathlib import Path

import pytest
from iec62379.mibs import paths
from test_agent_blackbox import AgentProcess, snmp

pytestmark = pytest.mark.integration

EXT_ENTRY = "1.3.6.1.4.1.32473.62380.1.1.1"  # rxPointExtEntry


@pytest.fixture()
def agent(tmp_path: Path):
    a = AgentProcess(tmp_path / "state")
    a.start()
    yield a
    a.stop()


def test_ext_table_numbers_match_the_static_receiver_point(agent: AgentProcess):
    # examples/static-blocks.toml: receiver point 4, df_ms 4.25, mlr 0, tsdf_us 850
    out = snmp("snmpwalk", "-v2c", "-c", "public", "-On", "-Oqvt", agent.v4, EXT_ENTRY).stdout
    values = out.split()
    assert values == ["425", "0", "850", "0", "0", "0", "0", "0", "0", "0"], out
    mdi = snmp("snmpget", "-v2c", "-c", "public", "-Oqv", agent.v4,
               "1.0.62379.7.1.4.1.1.6.4").stdout.strip().strip('"')
    assert mdi == "4.25:0.00"


def test_ext_table_by_name_with_the_exported_modules(agent: AgentProcess, tmp_path: Path):
    from click.testing import CliRunner
    from iec62379.cli.main import cli

    export = tmp_path / "mibs"
    assert CliRunner().invoke(cli, ["mib", "export", str(export)]).exit_code == 0
    out = snmp("snmptable", "-v2c", "-c", "public", "-Cf", ",", "-OU",
               "-M", f"+{export}:{paths.base_source_cache()}",
               "-m", "IEC62379-EXT-MIB", agent.v4, "rxPointExtTable")
    text = out.stdout + out.stderr
    assert "Cannot find module" not in text
    header, row = [ln for ln in out.stdout.splitlines() if "," in ln][:2]
    assert header.split(",")[:3] == ["rxPointExtDelayFactor", "rxPointExtMediaLossRate",
                                     "rxPointExtTSDF"]
    assert row.split(",")[:3] == ["425", "0", "850"]


def test_format_names_augment_the_audio_and_video_tables(agent: AgentProcess):
    base = "1.3.6.1.4.1.32473.62380.1"
    out = snmp("snmpwalk", "-v2c", "-c", "public", "-On", "-Oqv", agent.v4, f"{base}.2").stdout
    assert [v.strip('"') for v in out.split()] == ["audioMpeg1", "noAudio"]
    out = snmp("snmpwalk", "-v2c", "-c", "public", "-On", "-Oqv", agent.v4, f"{base}.3").stdout
    assert [v.strip('"') for v in out.split()] == ["src1920x1080i25", "videoH264", "aspect16x9"]
