"""The alarm vocabulary is defined once: the enumerations of mibs/vocabulary.py and the
textual conventions of IEC62379-EXT-MIB name the same values."""

from __future__ import annotations

from iec62379.mibs.tree import mib_builder
from iec62379.mibs.vocabulary import AlarmCondition, AlarmLogType, Severity, TsTest


def named_values(tc: str) -> dict[str, int]:
    builder = mib_builder(texts=False)
    builder.load_modules("IEC62379-EXT-MIB")
    cls = builder.mibSymbols["IEC62379-EXT-MIB"][tc]
    return dict(cls.namedValues.items())


def test_condition_enum_is_the_mib_tc():
    assert named_values("ExtAlarmCondition") == {m.name: m.value for m in AlarmCondition}


def test_every_tr101290_test_is_a_condition_of_the_same_value():
    for test in TsTest:
        condition = AlarmCondition.of_test(test)
        assert condition.name == "tr101290" + test.name[0].upper() + test.name[1:]
        assert condition.ts_test is test
    assert AlarmCondition.dfHigh.ts_test is None


def test_severity_and_log_type_are_the_mib_tcs():
    assert named_values("ExtAlarmSeverity") == {m.name.lower(): m.value for m in Severity}
    assert named_values("ExtAlarmLogEntryType") == {m.name.lower(): m.value
                                                    for m in AlarmLogType}
