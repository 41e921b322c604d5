"""`iec62379 bench alarms`: what evaluating the alarm conditions costs, in process.

The interval reports are real: the media file sent through the generator's planner (clean, and
with 5 % loss) and measured by the analyzer. Every stream gets the default conditions plus
bit-rate limits (thresholds on every condition) and is evaluated once per simulated second as
the collector service does it: each closed interval's report, then the stream's presence. Half
of the streams alternate between clean and impaired stretches, so alarms are raised and
cleared in the agent's AlarmBook (store transactions, notifications) during the run. The CPU
time of the evaluation over the simulated seconds is the share of a core it takes.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path

from iec62379.collectors.core.alarms import DEFAULT_LIMITS, AlarmLimits, Limit, StreamAlarms
from iec62379.collectors.core.analyzer import StreamAnalyzer
from iec62379.collectors.core.report import IntervalReport
from iec62379.collectors.generator.plan import Impairments, Plan, PlanConfig
from iec62379.mibs.vocabulary import AlarmCondition, AlarmLogType, Severity

S = 1_000_000_000


@dataclass
class AlarmFigures:
    streams: int
    seconds: int
    evaluations: int = 0  # stream intervals evaluated
    cpu_s: float = 0.0
    raised: int = 0
    cleared: int = 0
    events: int = 0

    @property
    def core_percent(self) -> float:
        return 100 * self.cpu_s / self.seconds

    @property
    def us_per_interval(self) -> float:
        return 1e6 * self.cpu_s / max(1, self.evaluations)


def _reports(media: Path, loss_pct: float) -> list[IntervalReport]:
    plan = Plan(media.read_bytes(), PlanConfig(rtp=True, loops=3, seed=5,
                                               impairments=Impairments(loss_pct=loss_pct)))
    a = StreamAnalyzer()
    last = 0
    for dg in plan:
        a.feed(dg.payload, dg.departure_ns)
        last = dg.departure_ns
    a.close_until(last)
    return [r for r in a.pop_reports() if r.datagrams][1:]


def limits() -> AlarmLimits:
    """The defaults plus bit-rate limits: a threshold on every condition."""
    lim = dict(DEFAULT_LIMITS)
    lim[AlarmCondition.bitRateLow] = Limit(100_000, 200_000, Severity.MINOR)
    lim[AlarmCondition.bitRateHigh] = Limit(50e6, 40e6, Severity.MINOR)
    return AlarmLimits(lim, 2.0)


def run_alarm_bench(media: Path, streams: int = 100, seconds: int = 60) -> AlarmFigures:
    from iec62379.agent.config import AgentConfig
    from iec62379.agent.runner import Agent
    from iec62379.collectors.alarming import apply

    clean, lossy = _reports(media, 0.0), _reports(media, 5.0)
    book = Agent(AgentConfig()).alarms
    alarms = [StreamAlarms(limits(), 4 * i + 3, 4 * i + 2, 4 * i + 1, f"s{i}")
              for i in range(streams)]
    fig = AlarmFigures(streams=streams, seconds=seconds)
    cpu0 = time.process_time()
    for k in range(seconds):
        start, end = k * S, (k + 1) * S
        for i, sa in enumerate(alarms):
            impaired = i % 2 == 1 and (k // 5) % 2 == 1  # 5 s stretches on odd streams
            pool = lossy if impaired else clean
            r = dataclasses.replace(pool[k % len(pool)], start_ns=start, interval_s=1.0)
            out = sa.evaluate(r, end)
            out += sa.presence(False, end, end)
            fig.evaluations += 1
            if out:
                apply(book, out)
                for t in out:
                    if t.kind is AlarmLogType.RAISED:
                        fig.raised += 1
                    elif t.kind is AlarmLogType.CLEARED:
                        fig.cleared += 1
                    else:
                        fig.events += 1
    fig.cpu_s = time.process_time() - cpu0
    return fig


def format_report(f: AlarmFigures) -> str:
    return "\n".join([
        f"alarm evaluation: {f.streams} streams x {f.seconds} s of 1 s intervals "
        f"({f.evaluations:,} stream intervals, every condition with a threshold)",
        f"CPU {f.cpu_s:.3f} s for {f.seconds} s: {f.core_percent:.2f} % of one core, "
        f"{f.us_per_interval:.1f} us per stream interval",
        f"alarms raised {f.raised}, cleared {f.cleared}, events {f.events} "
        "(applied to the AlarmBook: rows, log, notifications)",
    ])


__all__ = ["AlarmFigures", "format_report", "limits", "run_alarm_bench"]
