"""`iec62379 bench alarms` runs, raises and clears alarms in its impaired stretches, and
`bench ingest --alarm-thresholds` gives every stream every threshold."""

from __future__ import annotations

from click.testing import CliRunner
from iec62379.cli.bench.alarms import format_report, run_alarm_bench
from iec62379.cli.bench.ingest import agent_config
from iec62379.cli.bench.live import DEFAULT_MEDIA
from iec62379.cli.main import cli
from iec62379.collectors.settings import parse_settings
from iec62379.mibs.vocabulary import AlarmCondition


def test_the_alarm_bench_counts_and_reports():
    f = run_alarm_bench(DEFAULT_MEDIA, streams=4, seconds=12)
    assert f.evaluations == 48
    assert f.raised > 0 and f.cleared > 0 and f.cpu_s > 0
    assert "% of one core" in format_report(f)
    r = CliRunner().invoke(cli, ["bench", "alarms", "--streams", "2", "--seconds", "3"])
    assert r.exit_code == 0 and "alarm evaluation: 2 streams x 3 s" in r.output
    r = CliRunner().invoke(cli, ["bench", "alarms", "--streams", "0"])
    assert r.exit_code == 2


def test_ingest_config_with_every_threshold():
    s = parse_settings(agent_config(1161, [5004, 5010], 100, alarm_thresholds=True), "x.toml")
    for stream in s.streams:
        assert {AlarmCondition.bitRateLow, AlarmCondition.bitRateHigh, AlarmCondition.dfHigh,
                AlarmCondition.streamLost} <= set(stream.alarms.limits)
