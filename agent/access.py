"""IEC 62379-1's access levels as MIB views (the communities and users of the config have one).

- listener: reads the measurement tree (and the tables that augment it), the system group,
  the interfaces and ifMIB subtrees and the engine's counters (snmp group, snmpEngine,
  snmpMPDStats, snmpUnavailableContexts, snmpUnknownContexts, usmStats); writes nothing;
- supervisor: reads the same, and writes nMtTxRxPoint and nMtSIPServerAddr, nothing else
  (its write view is the measurement tree; the other columns there answer notWritable).

Communities and SNMPv3 users of a level get the same views (`responder.Principal`).
"""

from __future__ import annotations

from .alarms import alarm_scalars
from .dvb import DVB_MIB
from .instrum import View
from .mibmap import MibMap
from .model import TABLES
from .tables import MEASUREMENT_MIB


def read_subtrees(mibmap: MibMap) -> list[tuple[int, ...]]:
    """What a listener (and a supervisor) may read."""
    subtrees = [
        mibmap.symbol_oid(MEASUREMENT_MIB, "measurementMIB"),
        mibmap.symbol_oid("SNMPv2-MIB", "system"),
        mibmap.symbol_oid("SNMPv2-MIB", "snmp"),
        mibmap.symbol_oid("IF-MIB", "interfaces"),
        mibmap.symbol_oid("IF-MIB", "ifMIB"),
        mibmap.symbol_oid("SNMP-FRAMEWORK-MIB", "snmpEngine"),
        mibmap.symbol_oid("SNMP-MPD-MIB", "snmpMPDStats"),
        mibmap.symbol_oid("SNMP-TARGET-MIB", "snmpUnavailableContexts"),
        mibmap.symbol_oid("SNMP-TARGET-MIB", "snmpUnknownContexts"),
        mibmap.symbol_oid("SNMP-USER-BASED-SM-MIB", "usmStats"),
        # the tables that augment measurement tables (IEC62379-EXT-MIB's rxPointExtTable)
        *(mibmap.symbol_oid(a.module, a.name) for t in TABLES for a in t.augments),
        # the tables of other modules (Table.module): alarms, TR 101 290 tests ...
        *(mibmap.symbol_oid(t.module, t.name) for t in TABLES if t.module != MEASUREMENT_MIB),
        # the DVB measurement MIB's scalars (control, capability)
        mibmap.symbol_oid(DVB_MIB, "tr101290Objects"),
        # the alarms' scalars (extAlarmActiveCount, extAlarmLogCapacity, extAlarmLogDropped)
        *alarm_scalars(mibmap),
    ]
    # a subtree inside another listed one is not listed again (AgentX registers each once)
    return [s for s in dict.fromkeys(subtrees)
            if not any(o != s and s[: len(o)] == o for o in subtrees)]


def write_subtrees(mibmap: MibMap) -> list[tuple[int, ...]]:
    """A supervisor's write view: the measurement tree. Within it only nMtTxRxPoint and
    nMtSIPServerAddr are writable (the instrumentation answers notWritable for the other
    columns); outside it (system group, ifTable ...) a SET is answered noAccess."""
    return [
        mibmap.symbol_oid(MEASUREMENT_MIB, "measurementMIB"),
        # the tables of other modules with read-write columns
        *(mibmap.symbol_oid(t.module, t.name) for t in TABLES
          if t.module != MEASUREMENT_MIB and t.writable),
        # the DVB measurement MIB's control scalars (controlEventPersistence is writable)
        mibmap.symbol_oid(DVB_MIB, "tr101290Control"),
    ]


def read_view(mibmap: MibMap) -> View:
    return View(tuple(read_subtrees(mibmap)))


def write_view(mibmap: MibMap) -> View:
    return View(tuple(write_subtrees(mibmap)))
