"""The alarms of `iec62379 probe`: the measurement core's conditions, with their default limits
and persistence (docs/configuration.md), evaluated on every interval of every stream.

Each interval's JSON object has ``"alarms"``: the transitions that interval made, each

    {"kind": "raised" | "cleared" | "event", "condition": "mlrHigh", "severity": "major",
     "part": "rx" | "video" | "audio", "component": 0, "value": 7.0,
     "shown": "7.00 packets/s", "since": 1780000000.0, "description": "..."}

(``part`` is the block the agent would put it on: the receiver point, the video or the audio
block; ``component`` the audio component number, else 0; ``value`` / ``shown`` the worst value
while it held for raised and event, the clearing value for cleared; ``since`` when the
condition started, in seconds of the packets' clock). The table view prints one line per
transition under the interval's line and the summary the alarms raised and those still active.
A stream that has no packets in an interval is lost (streamLost) once that lasts for the
persistence time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from iec62379.collectors.core.alarms import AlarmLimits, AlarmTransition, StreamAlarms
from iec62379.collectors.core.report import IntervalReport
from iec62379.mibs.vocabulary import AlarmLogType

_RX, _VIDEO, _AUDIO = 1, 2, 3  # the probe has no blocks: the parts get these ids
_PARTS = {_RX: "rx", _VIDEO: "video", _AUDIO: "audio"}


def transition_dict(t: AlarmTransition) -> dict[str, Any]:
    """A transition as the JSON output shows it."""
    return {
        "kind": t.kind.name.lower(),
        "condition": t.condition.name,
        "severity": t.severity.name.lower(),
        "part": _PARTS.get(t.block_id, str(t.block_id)),
        "component": t.component,
        "value": t.value,
        "shown": t.shown,
        "since": t.since_ns / 1e9,
        "description": t.description,
    }


def transition_line(t: AlarmTransition) -> str:
    """A transition as the table view shows it, under its interval's line."""
    return (f"    alarm {t.kind.name.lower():<7} {t.severity.name.lower():<8} "
            f"{t.condition.name} {t.shown}: {t.description}")


@dataclass(slots=True)
class _Stream:
    alarms: StreamAlarms
    raised: int = 0
    events: int = 0
    active: set[str] = field(default_factory=set)


class ProbeAlarms:
    """The alarm state of every stream the probe measures."""

    def __init__(self, limits: AlarmLimits | None = None) -> None:
        self.limits = limits or AlarmLimits()
        self.streams: dict[str, _Stream] = {}

    def interval(self, name: str, r: IntervalReport, start_ns: int, end_ns: int
                 ) -> list[AlarmTransition]:
        """The transitions of one interval of stream `name` ([start_ns, end_ns); `r` is its
        report, or for a run of a silence's intervals the run's first)."""
        s = self.streams.get(name)
        if s is None:
            s = self.streams[name] = _Stream(StreamAlarms(self.limits, _RX, _VIDEO, _AUDIO,
                                                          name))
        out = s.alarms.evaluate(r, end_ns) if r.start_ns == start_ns else []
        out += s.alarms.presence(r.datagrams == 0, start_ns, end_ns)
        for t in out:
            label = f"{t.condition.name}" + (f" {t.component}" if t.component else "")
            if t.kind is AlarmLogType.RAISED:
                s.raised += 1
                s.active.add(label)
            elif t.kind is AlarmLogType.CLEARED:
                s.active.discard(label)
            else:
                s.events += 1
        return out

    def summary(self, name: str) -> str:
        """The summary's alarm part for a stream."""
        s = self.streams.get(name)
        if s is None:
            return "alarms: none"
        active = ", ".join(sorted(s.active)) or "none"
        return f"alarms: {s.raised} raised, {s.events} events; active at the end: {active}"


__all__ = ["ProbeAlarms", "transition_dict", "transition_line"]
