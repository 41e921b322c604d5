"""The DVB measurement MIB's scalars (DVB-MGTR101290-MIB): controlNow, controlEventPersistence
(writable, persisted in written.json's "scalars"), capabilityMIBRevision and the capability
groups; a provider of `instrum.MeasurementInstrum`. The tables are in `dvb`."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

from . import ber
from .dvb import DVB_MIB, date_and_time, decode_persistence, normal_float
from .tables import Refused

# --- scalars --------------------------------------------------------------------------------

#: capabilityMIBRevision: the module's LAST-UPDATED, 2001-11-07 14:00 UTC (no REVISION).
MIB_REVISION = bytes([0x07, 0xD1, 11, 7, 14, 0, 0, 0, ord("+"), 0, 0])
# GroupAvailability
NO_SUPPORT, SELECTIVE_SUPPORT = 1, 2


class DvbScalars:
    """The DVB MIB's scalars, a provider of `instrum.MeasurementInstrum` (see the module
    docstring). `persistence_s` is controlEventPersistence: `persistence` is its text as
    written.json keeps it (None: the DEFVAL, "2"); ValueError if it is not a valid value."""

    version = 0

    def __init__(self, mibmap: Any, persistence: str | None = None,
                 clock: Callable[[], int] = time.time_ns) -> None:
        self.clock = clock
        self.persistence_s = 2.0
        if persistence is not None:
            try:
                self.persistence_s = float(decode_persistence(str(persistence).encode()))
            except (Refused, UnicodeEncodeError) as exc:
                raise ValueError(f"controlEventPersistence {persistence!r}: "
                                 f"{getattr(exc, 'why', exc)}") from exc
        sym = mibmap.symbol_oid
        self._persistence_oid = sym(DVB_MIB, "controlEventPersistence") + (0,)
        self._objects: list[tuple[tuple[int, ...], int, Callable[[], Any]]] = [
            (sym(DVB_MIB, "controlNow") + (0,), ber.OCTET_STRING,
             lambda: date_and_time(self.clock())),
            (sym(DVB_MIB, "controlEventPersistence") + (0,), ber.OCTET_STRING,
             lambda: normal_float(self.persistence_s).encode()),
            (sym(DVB_MIB, "capabilityMIBRevision") + (0,), ber.OCTET_STRING,
             lambda: MIB_REVISION),
            (sym(DVB_MIB, "capabilityTSGroup") + (0,), ber.INTEGER, lambda: SELECTIVE_SUPPORT),
            *((sym(DVB_MIB, f"capability{b}Group") + (0,), ber.INTEGER, lambda: NO_SUPPORT)
              for b in ("CableSat", "Cable", "Satellite", "Terrestrial")),
        ]

    def object_types(self) -> Iterable[tuple[int, ...]]:
        return [oid[:-1] for oid, _, _ in self._objects]

    def writable_scalars(self) -> dict[tuple[int, ...], Any]:
        """controlEventPersistence's SET rule (`instrum.ScalarRule`)."""
        from .instrum import ScalarRule

        def put(value: str) -> None:
            self.persistence_s = float(value)

        return {self._persistence_oid: ScalarRule(
            "controlEventPersistence", ber.OCTET_STRING, decode_persistence,
            lambda: normal_float(self.persistence_s), put)}

    def objects(self) -> Iterable[tuple[tuple[int, ...], int, Callable[[], Any]]]:
        return list(self._objects)


__all__ = ["DvbScalars", "MIB_REVISION"]
