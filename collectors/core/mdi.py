"""Media Delivery Index delay factor and the PCR-derived media rate.

Delay factor (RFC 4445 section 4.1): over a measurement interval a virtual buffer receives the
media bytes of each packet at its arrival and drains at the nominal media rate::

    VB(i, pre)  = sum of bytes of packets before i in the interval - rate * (T(i) - T(0))
    VB(i, post) = VB(i, pre) + bytes of packet i
    DF = (max VB - min VB) / rate

T(0) is the arrival of the first packet of the interval. Media bytes are the 188-byte TS
packets of the datagram; RTP/UDP/IP headers are not counted, so that the bytes match a rate
that is the TS rate.

Media rate from the PCR (ISO/IEC 13818-1 2.4.2.2, the transport rate equation): for two
consecutive PCRs of the PCR PID, rate = (TS packets from one PCR packet to the next) * 188 * 8
* 27 MHz / (PCR delta). The packets counted are those sent: the stream's TS packet index
counts the packets the RTP gaps say were lost (passes._sent_index), so loss does not bias the
rate low. Pairs across a discontinuity_indicator, or with a delta of zero or more than one
second, are skipped.

Plain UDP has no sequence numbers, and the continuity counters cannot say how many packets a
burst took (they count modulo 16 per PID), so counting them would still bias the rate low.
What is exact is to skip the pairs that span a loss: each continuity error moves the stream's
packet index on by ``LOSS_STEP`` (more packets than any pair spans; passes ``_mark_losses``)
and a pair whose step reaches it is left out of the loss-free sums. A loss shows at the next
packet of every PID that lost packets; a burst takes packets of every PID, so it shows at or
before the second PCR of the pair across it, even when one PID lost a multiple of 16. The
interval's rate is that of its loss-free pairs; only when it has none (every pair spans a
continuity error: heavy loss, or a PID whose counters are always wrong) is it that of all
its pairs, each counting the packets received (the rate as it was before, low under loss).
A loss of null packets only (no counter) is not seen: its pair counts them short.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass

import numpy as np

from .ts import PCR_HZ, PCR_MODULUS, TS_PACKET_SIZE

MAX_PCR_GAP = PCR_HZ  # 1 s; ISO/IEC 13818-1 requires PCRs at least every 100 ms
# A continuity loss on plain UDP moves the packet index on by this much: a pair whose step
# reaches it spans a loss and is skipped (collectors/core/_kernels.c PCR_LOSS_STEP: the same)
LOSS_STEP = 1 << 32


def delay_factor_ms(arrival_ns: np.ndarray, media_bytes: np.ndarray, rate_bps: float) -> float:
    """DF in milliseconds for one interval's packets (arrival order) at ``rate_bps``."""
    n = arrival_ns.shape[0]
    if n == 0 or rate_bps <= 0:
        return 0.0
    b = media_bytes.astype(np.float64)
    before = np.cumsum(b) - b
    drained = (arrival_ns - arrival_ns[0]).astype(np.float64) * (rate_bps / 8e9)
    pre = before - drained
    post = pre + b
    return float(post.max() - pre.min()) / (rate_bps / 8.0) * 1000.0


@dataclass(slots=True)
class PcrPairs:
    """PCRs of the PCR PID with their pair sums (``PcrRateMeter.pairs``); ``done`` are taken."""

    at: np.ndarray  # int64, the caller's positions of the PCR packets, ascending
    index: np.ndarray  # int64, TS packet index in the stream
    pcr: np.ndarray  # int64, 27 MHz
    cum_steps: np.ndarray  # int64, running sums of the TS packet steps of the valid pairs
    cum_ticks: np.ndarray  # int64, running sums of their PCR deltas (both 0 first)
    cum_steps_all: np.ndarray  # the same over every pair, loss or not (steps received)
    cum_ticks_all: np.ndarray
    done: int = 0
    at_list: list[int] | None = None  # ``at`` as a list, made at the first take


class PcrRateMeter:
    """Accumulates PCR pairs of the PCR PID; one rate per measurement interval."""

    def __init__(self) -> None:
        self.pid: int | None = None
        self.last_index: int | None = None
        self.last_pcr = 0
        self.bytes = 0
        self.ticks = 0
        self.bytes_all = 0  # every pair's, spanning a loss or not (the fallback)
        self.ticks_all = 0
        self.last_rate: float | None = None

    def set_pid(self, pid: int) -> None:
        if pid != self.pid:
            self.pid = pid
            self.last_index = None

    def pairs(
        self, at: np.ndarray, ts_index: np.ndarray, pcr: np.ndarray, discontinuity: np.ndarray
    ) -> PcrPairs:
        """Consecutive PCRs of the PCR PID (stream order; ``at``: the caller's positions of
        their packets, ascending), each with the pair it closes with the PCR before it (the
        previous one of the meter for the first): a pair counts when neither a
        discontinuity nor a delta of zero or over MAX_PCR_GAP nor a packet index that does not
        advance breaks it; its TS packet steps and PCR ticks are summed in running sums (those
        of the pairs whose step reaches LOSS_STEP, a loss on plain UDP, apart), to be
        taken in pieces by ``take``, as long as nothing else changes the meter in between."""
        m = ts_index.shape[0]
        idx = ts_index.astype(np.int64, copy=False)
        pcr = pcr.astype(np.int64, copy=False)
        cum_steps = np.zeros(m + 1, dtype=np.int64)
        cum_ticks = np.zeros(m + 1, dtype=np.int64)
        cum_steps_all = np.zeros(m + 1, dtype=np.int64)
        cum_ticks_all = np.zeros(m + 1, dtype=np.int64)
        if m:
            prev_idx = np.empty_like(idx)
            prev_pcr = np.empty_like(pcr)
            prev_idx[1:] = idx[:-1]
            prev_pcr[1:] = pcr[:-1]
            has_prev = np.ones(m, dtype=bool)
            if self.last_index is None:
                has_prev[0] = False
                prev_idx[0] = prev_pcr[0] = 0
            else:
                prev_idx[0] = self.last_index
                prev_pcr[0] = self.last_pcr
            delta = (pcr - prev_pcr) % PCR_MODULUS
            step = idx - prev_idx
            received = step % LOSS_STEP
            ok_all = has_prev & ~discontinuity & (delta > 0) & (delta <= MAX_PCR_GAP)
            ok_all &= (step > 0) & (received > 0)
            ok = ok_all & (step < LOSS_STEP)
            np.cumsum(np.where(ok, step, 0), out=cum_steps[1:])
            np.cumsum(np.where(ok, delta, 0), out=cum_ticks[1:])
            np.cumsum(np.where(ok_all, received, 0), out=cum_steps_all[1:])
            np.cumsum(np.where(ok_all, delta, 0), out=cum_ticks_all[1:])
        return PcrPairs(
            at.astype(np.int64, copy=False), idx, pcr, cum_steps, cum_ticks, cum_steps_all,
            cum_ticks_all,
        )

    def take(self, pairs: PcrPairs, upto: int) -> None:
        """The PCRs of ``pairs`` at positions before ``upto`` not taken yet."""
        at = pairs.at_list
        if at is None:
            at = pairs.at_list = pairs.at.tolist()
        i = pairs.done
        if i == len(at) or at[i] >= upto:
            return
        j = bisect_left(at, upto, i)
        pairs.done = j
        self.bytes += int(pairs.cum_steps[j] - pairs.cum_steps[i]) * TS_PACKET_SIZE
        self.ticks += int(pairs.cum_ticks[j] - pairs.cum_ticks[i])
        self.bytes_all += int(pairs.cum_steps_all[j] - pairs.cum_steps_all[i]) * TS_PACKET_SIZE
        self.ticks_all += int(pairs.cum_ticks_all[j] - pairs.cum_ticks_all[i])
        self.last_index = int(pairs.index[j - 1])
        self.last_pcr = int(pairs.pcr[j - 1])

    def take_interval(self) -> float | None:
        """The rate (bit/s) over the loss-free pairs seen since the last call, else over all of
        them, or None if there were none."""
        rate = None
        if self.ticks > 0:
            rate = self.bytes * 8 * PCR_HZ / self.ticks
        elif self.ticks_all > 0:
            rate = self.bytes_all * 8 * PCR_HZ / self.ticks_all
        if rate is not None:
            self.last_rate = rate
        self.bytes = self.ticks = self.bytes_all = self.ticks_all = 0
        return rate
