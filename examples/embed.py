"""Embedding the iec62379 agent in your own product: the embedding API, by example.

An equipment maker's software already knows its measurements (buffer levels, MDI, board
temperatures). To publish them over SNMP as the IEC 62379-7 tables it needs four things:

    from iec62379.agent.config import AgentConfig, Community, Endpoint
    from iec62379.agent.model import NetworkBlock, RxPoint, Temperature, ...
    from iec62379.agent.runner import Agent
    from iec62379.agent.store import BlockStore
from iec62379.mibs.vocabulary import AlarmCondition, Severity

    config = AgentConfig(listen=(Endpoint("udp", "127.0.0.1", 1161),), ...)   # built in code
    store = BlockStore()                       # the rows the agent serves
    agent = Agent(config, store)

    await agent.start()                        # asyncio: inside your running loop
    ...                                        #   (agent.endpoints has the bound ports)
    await agent.stop()

    agent.start_in_thread()                    # or, from synchronous code: its own thread
    ...
    agent.stop_thread()

and, from your own code, at any time and from any thread:

    with store.transaction() as t:             # all-or-nothing; readers never see half of it
        t.put(RxPoint(...), Temperature(...))

Alarms travel the same way as the collectors' own: the product raises and clears them through
the agent's AlarmBook, which serves them in IEC62379-EXT-MIB's extAlarmActiveTable and
extAlarmLogTable and sends extAlarmRaised / extAlarmCleared to the agent's notification targets:

    alarm_id = agent.alarms.raise_alarm((RX_ID, 0), AlarmCondition.mlrHigh, Severity.MAJOR,
                                        "3.00 packets/s", "stream 1: media loss")
    agent.alarms.clear_alarm(alarm_id)     # or clear_alarm(((RX_ID, 0), AlarmCondition.mlrHigh))

Rows are immutable records; `t.get(RxPoint, (block_id,))` gives the current one and
`dataclasses.replace(row, field=value)` a changed copy. The model checks values as the standard
says (out-of-range values raise ValueError), the store checks the links between blocks when the
transaction commits (a LinkError leaves everything unchanged).

This example serves one received stream (network block 1, receiver point 2) and one temperature
block (3) on loopback, read-only community `public`, and updates the receiver point and the
temperature every second from a simulated measurement; a second with media loss raises an
mlrHigh alarm on the receiver point, the next clean one clears it:

    python examples/embed.py [PORT]                 # asyncio mode (default port 1161; 0: any)
    python examples/embed.py --thread [PORT]        # thread mode (Agent.start_in_thread)
    python examples/embed.py --once 5 [PORT]        # stop by itself after 5 seconds

    snmpget -v2c -c public 127.0.0.1:1161 1.0.62379.7.1.4.1.1.6.2     # rxPointMDI of row 2

It prints `listening on udp:127.0.0.1:PORT` on stdout once it serves, and stops cleanly (exit
status 0) on SIGINT or SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import ipaddress
import logging
import math
import random
import signal
import socket
import sys
import threading
import time

from iec62379.agent.alarms import AlarmBook
from iec62379.agent.config import AgentConfig, Community, Endpoint, SystemGroup
from iec62379.agent.model import (
    NetworkBlock,
    NetworkType,
    RxPoint,
    Temperature,
    TemperatureStatus,
    TransportType,
)
from iec62379.agent.runner import Agent
from iec62379.agent.store import BlockStore
from iec62379.mibs.vocabulary import AlarmCondition, Severity

log = logging.getLogger("embed-example")

NETWORK_ID = 1  # the received stream
RX_ID = 2  # its receiver point (rxPointTable row)
TEMPERATURE_ID = 3  # the board's temperature block, one sensor (location number 1)

# Temperature thresholds of this (imaginary) board, whole degrees Celsius.
LOW_CRITICAL, LOW_WARNING, HIGH_WARNING, HIGH_CRITICAL = 0, 5, 70, 85


def make_config(port: int) -> AgentConfig:
    """The agent's configuration, built in code (no TOML file needed)."""
    return AgentConfig(
        source="examples/embed.py",
        listen=(Endpoint("udp", "127.0.0.1", port),),
        system=SystemGroup(description="iec62379 embedding example: a decoder with one stream",
                           name="embed-example"),
        communities=(Community("public", "listener", ("127.0.0.0/8", "::1/128")),),
        state_dir=None,  # nothing is writable here; give a folder to keep written values
    )


def _loopback_if_index() -> int:
    try:
        return socket.if_nametoindex("lo")
    except OSError:
        return 1


def install_rows(store: BlockStore) -> None:
    """The unit's blocks, as the product knows them at start, in one transaction."""
    with store.transaction() as t:
        t.put(
            NetworkBlock(
                block_id=NETWORK_ID,
                if_index=_loopback_if_index(),
                rx_point=True,
                network_type=NetworkType.IPV4,
                transport_type=TransportType.RTP,
                address=ipaddress.ip_address("239.1.1.1").packed,
                port=5000,
                igmp_version=2,
            ),
            RxPoint(block_id=RX_ID, network_block_id=NETWORK_ID, buffer_size_ms=200),
            Temperature(
                block_id=TEMPERATURE_ID, location_number=1, location="main board",
                celsius=None, status=TemperatureStatus.UNDETERMINED,
                low_warning=LOW_WARNING, high_warning=HIGH_WARNING,
                low_critical=LOW_CRITICAL, high_critical=HIGH_CRITICAL,
            ),
        )


class SimulatedReceiver:
    """Stands for the product's own measurement code. Every call gives new readings; the
    delay factor moves by at least 0.02 ms per tick, so rxPointMDI visibly changes."""

    def __init__(self, seed: int | None = None) -> None:
        self.tick = 0
        self.rng = random.Random(seed)

    def read(self) -> tuple[dict[str, float | int], float]:
        self.tick += 1
        n = self.tick
        df_ms = 2.0 + (n % 40) * 0.05 + self.rng.uniform(0.0, 0.03)  # sawtooth + jitter
        mlr = 0.0 if n % 10 else float(self.rng.randint(1, 3))  # a burst of loss now and then
        occupancy_ms = 100 + int(40 * math.sin(n / 5))
        rx = {
            "occupancy_ms": occupancy_ms,
            "occupancy_percent": round(occupancy_ms * 100 / 200),
            "df_ms": df_ms,
            "mlr": mlr,
            "tsdf_us": int(df_ms * 200),
        }
        celsius = 48.0 + 6.0 * math.sin(n / 30) + self.rng.uniform(-0.2, 0.2)
        return rx, celsius


def temperature_status(celsius: float) -> TemperatureStatus:
    if celsius >= HIGH_CRITICAL or celsius <= LOW_CRITICAL:
        return TemperatureStatus.CRITICAL
    if celsius >= HIGH_WARNING or celsius <= LOW_WARNING:
        return TemperatureStatus.WARNING
    return TemperatureStatus.OK


def publish(store: BlockStore, receiver: SimulatedReceiver, alarms: AlarmBook | None = None
            ) -> None:
    """Read the product's measurements and publish them: one transaction, both rows; then
    the product's own alarm rule."""
    rx_values, celsius = receiver.read()
    with store.transaction() as t:
        rx = t.get(RxPoint, (RX_ID,))
        temp = t.get(Temperature, (TEMPERATURE_ID, 1))
        t.put(
            dataclasses.replace(rx, **rx_values),
            dataclasses.replace(temp, celsius=celsius, status=temperature_status(celsius)),
        )
    if alarms is not None:
        report_alarms(alarms, float(rx_values["mlr"]))


def report_alarms(alarms: AlarmBook, mlr: float) -> None:
    """The product's alarm rule: a second with media loss raises mlrHigh on the receiver
    point (raising it again while it is active changes nothing), a clean second clears it."""
    resource = (RX_ID, 0)  # (block id, component)
    if mlr > 0:
        alarms.raise_alarm(resource, AlarmCondition.mlrHigh, Severity.MAJOR,
                           f"{mlr:.2f} packets/s", "stream 1: media loss")
    else:
        alarms.clear_alarm((resource, AlarmCondition.mlrHigh), "0.00 packets/s")


# --- asyncio mode -------------------------------------------------------------------------------


async def feed(store: BlockStore, alarms: AlarmBook, period_s: float = 1.0) -> None:
    """The product's own task: publish new readings every period. (A reading that blocks, e.g.
    on a device, belongs in `loop.run_in_executor`, not in the loop that answers SNMP.)"""
    receiver = SimulatedReceiver()
    while True:
        try:
            publish(store, receiver, alarms)
        except ValueError:  # a reading the model refuses: keep the last good rows
            log.exception("measurement refused")
        await asyncio.sleep(period_s)


async def run_async(port: int, once_s: float | None) -> None:
    store = BlockStore()
    install_rows(store)
    agent = Agent(make_config(port), store)

    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    await agent.start()
    print("listening on " + ", ".join(map(str, agent.endpoints)), flush=True)
    feeder = asyncio.create_task(feed(store, agent.alarms))
    try:
        if once_s is None:
            await stop.wait()
        else:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), once_s)
    finally:
        feeder.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await feeder
        await agent.stop()


# --- thread mode --------------------------------------------------------------------------------


def run_thread(port: int, once_s: float | None) -> None:
    """Synchronous products: the agent runs in its own thread and loop; this thread feeds it."""
    store = BlockStore()
    install_rows(store)
    agent = Agent(make_config(port), store)

    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())

    agent.start_in_thread()
    print("listening on " + ", ".join(map(str, agent.endpoints)), flush=True)
    receiver = SimulatedReceiver()
    deadline = None if once_s is None else time.monotonic() + once_s
    try:
        while not stop.is_set():
            publish(store, receiver, agent.alarms)
            wait = 1.0 if deadline is None else min(1.0, deadline - time.monotonic())
            if wait <= 0 or stop.wait(wait):
                break
    finally:
        agent.stop_thread()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("port", nargs="?", type=int, default=1161,
                        help="UDP port on 127.0.0.1 (default 1161; 0 picks a free one)")
    parser.add_argument("--once", type=float, metavar="SECONDS",
                        help="stop by itself after SECONDS")
    parser.add_argument("--thread", action="store_true",
                        help="run the agent in a thread (Agent.start_in_thread)")
    args = parser.parse_args(argv)
    if not 0 <= args.port <= 65535:
        parser.error(f"port must be in 0..65535, got {args.port}")
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        if args.thread:
            run_thread(args.port, args.once)
        else:
            asyncio.run(run_async(args.port, args.once))
    except OSError as exc:  # e.g. the port is in use
        print(f"embed.py: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
