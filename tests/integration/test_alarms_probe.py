"""`iec62379 probe` shows alarms: per interval as "alarms" in --json (raised, cleared, events,
with the documented shape), under the interval's line in the table, and in the summary."""

from __future__ import annotations

from pathlib import Path

import pytest
from iec62379.collectors import generator as g
from test_probe import MEDIA, _make_pcaps_module, json_lines, run_probe

pytestmark = pytest.mark.integration

S = 1_000_000_000
SHAPE = {"kind", "condition", "severity", "part", "component", "value", "shown", "since",
         "description"}


def capture(path: Path, parts: list[tuple[float, ...]]) -> None:
    """A pcap of h264_mp2.ts (2 s a loop) as RTP: per part (loss %, silence after it in s[,
    jitter in ms])."""
    mp = _make_pcaps_module()
    src, dst = bytes([192, 0, 2, 9]), bytes([239, 2, 2, 2])
    t = 1_700_000_000 * S
    frames = []
    for i, (loss, gap, *jitter) in enumerate(parts):
        plan = g.Plan(MEDIA.read_bytes(), g.PlanConfig(
            rtp=True, seed=i + 1,
            impairments=g.Impairments(loss_pct=loss, jitter_ms=jitter[0] if jitter else 0.0)))
        last = t
        for d in plan:
            last = t + d.departure_ns
            frames.append((last, mp.ipv4(src, dst, 17, mp.udp(src, dst, 4000, 5004, d.payload))))
        t = last + S // 50 + int(gap * S)
    mp.write_pcap(path, frames, 101, nanos=True)


def test_json_alarms_loss_raised_and_cleared_stream_lost_and_back(tmp_path: Path) -> None:
    pcap = tmp_path / "a.pcap"
    capture(pcap, [(0, 0), (0, 0), (10, 0), (10, 0), (10, 0), (0, 0), (0, 5), (0, 0), (0, 0)])
    code, out, _ = run_probe(str(pcap), "--json")
    assert code == 0
    lines = json_lines(out)
    assert all("alarms" in d for d in lines)
    got = [(d["interval_start"], a["kind"], a["condition"]) for d in lines for a in d["alarms"]]
    for a in (a for d in lines for a in d["alarms"]):
        assert set(a) == SHAPE and a["part"] == "rx"
    kinds = {(k, c) for _, k, c in got}
    assert {("raised", "rtpLoss"), ("cleared", "rtpLoss"), ("raised", "mlrHigh"),
            ("cleared", "mlrHigh"), ("raised", "streamLost"), ("cleared", "streamLost")} <= kinds
    # in order: loss raised before cleared; stream lost raised in the gap, cleared after it
    order = [(k, c) for _, k, c in got]
    assert order.index(("raised", "rtpLoss")) < order.index(("cleared", "rtpLoss"))
    assert order.index(("raised", "streamLost")) < order.index(("cleared", "streamLost"))
    raised = next(a for d in lines for a in d["alarms"]
                  if (a["kind"], a["condition"]) == ("raised", "rtpLoss"))
    assert raised["severity"] == "minor" and raised["shown"].endswith(" packets")
    assert raised["value"] >= 1 and raised["description"] == "239.2.2.2:5004: RTP loss at or " \
        "above 1 packets"


def test_json_df_alarm_raised_by_jitter_and_cleared(tmp_path: Path) -> None:
    """DF above its limit (default: raised at 150 ms, cleared below 100) while the generator
    delays each datagram by up to 300 ms for 6 s: dfHigh is raised once it held for the
    persistence time, and cleared once the stream is clean again; the capture carries its own
    times, so no scheduling moves them."""
    pcap = tmp_path / "d.pcap"
    capture(pcap, [(0, 0), (0, 0), (0, 0, 300), (0, 0, 300), (0, 0, 300), (0, 0), (0, 0),
                   (0, 0)])
    code, out, _ = run_probe(str(pcap), "--json")
    assert code == 0
    lines = json_lines(out)
    got = [(d["interval_start"], a["kind"], a["condition"]) for d in lines for a in d["alarms"]]
    df = [(t, k) for t, k, c in got if c == "dfHigh"]
    assert [k for _, k in df] == ["raised", "cleared"], got
    (raised_at, _), (cleared_at, _) = df
    assert 4.0 <= raised_at < 10.0 <= cleared_at  # the jittered part is 4..10 s
    assert all(d["df_ms"] < 50 for d in lines if d["interval_start"] < 4.0)


def test_clean_capture_has_no_alarms_and_a_short_gap_is_an_event(tmp_path: Path) -> None:
    pcap = tmp_path / "b.pcap"
    capture(pcap, [(0, 2.5), (0, 0), (0, 0)])  # one whole interval without packets
    code, out, _ = run_probe(str(pcap), "--json")
    assert code == 0
    got = [(a["kind"], a["condition"]) for d in json_lines(out) for a in d["alarms"]]
    # Nothing is raised: the gap is shorter than the persistence time, and so are the TR 101 290
    # faults that the gap (PAT, PMT, PTS) and each restart of the sender (continuity, PCR) trip.
    assert {kind for kind, _ in got} == {"event"} and ("event", "streamLost") in got
    assert {c for _, c in got} - {"streamLost"} == {
        "tr101290PatError2", "tr101290PmtError2", "tr101290PtsError",
        "tr101290ContinuityCountError", "tr101290PcrDiscontinuityError"}


def test_table_view_and_summary_show_alarms(tmp_path: Path) -> None:
    pcap = tmp_path / "c.pcap"
    capture(pcap, [(0, 0), (10, 0), (10, 0), (0, 0), (0, 0)])
    code, out, _ = run_probe(str(pcap))
    assert code == 0
    assert "    alarm raised  minor    rtpLoss " in out
    assert "    alarm cleared minor    rtpLoss " in out
    assert "alarms: " in out and "active at the end: none" in out
