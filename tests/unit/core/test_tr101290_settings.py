"""[stream.tr101290] in the configuration: limits, enabled tests, checks = false, garbage."""

from __future__ import annotations

import pytest
from iec62379.agent.config import ConfigError
from iec62379.collectors.core.report import Tr101290Limits
from iec62379.collectors.publish.streams import analyzer_config
from iec62379.collectors.settings import parse_settings
from iec62379.mibs.vocabulary import TsTest

HEAD = '[[stream]]\nurl = "rtp://239.1.1.1:5004"\n'


def stream(extra: str = ""):
    return parse_settings(HEAD + extra, "t.toml").streams[0]


def test_defaults_are_tr_101_290s_with_every_test():
    s = stream()
    assert s.tr101290 == Tr101290Limits()
    assert analyzer_config(s).tr101290 == Tr101290Limits()


def test_limits_and_enabled_tests():
    s = stream(
        "[stream.tr101290]\n"
        "pat_interval_max_s = 0.25\npcr_interval_max_s = 0.1\npcr_inaccuracy_max_s = 1e-6\n"
        'enabled = ["tsSyncLoss", "continuityCountError"]\n'
    )
    assert s.tr101290 is not None
    assert s.tr101290.pat_interval_max_s == 0.25
    assert s.tr101290.pcr_interval_max_s == 0.1
    assert s.tr101290.pcr_inaccuracy_max_s == 1e-6
    assert s.tr101290.pmt_interval_max_s == 0.5
    assert s.tr101290.enabled == {TsTest.tsSyncLoss, TsTest.continuityCountError}
    assert analyzer_config(s).tr101290 == s.tr101290


def test_checks_false_turns_them_off():
    s = stream("[stream.tr101290]\nchecks = false\n")
    assert s.tr101290 is None
    assert analyzer_config(s).tr101290 is None


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("tr101290 = 3\n", "t.toml: stream[0].tr101290: expected a table, found 3"),
        (
            "[stream.tr101290]\npat_interval_max_s = -1\n",
            "t.toml: stream[0].tr101290.pat_interval_max_s: expected a number in 0.001..3600.0,"
            " found -1",
        ),
        (
            '[stream.tr101290]\npcr_interval_max_s = "40ms"\n',
            "stream[0].tr101290.pcr_interval_max_s: expected a number in 0.001..60.0, found",
        ),
        (
            '[stream.tr101290]\nenabled = ["patError"]\n',
            "t.toml: stream[0].tr101290.enabled: expected test names among tsSyncLoss,",
        ),
        (
            "[stream.tr101290]\nenabled = 1\n",
            "t.toml: stream[0].tr101290.enabled: expected an array of strings, found 1",
        ),
        (
            '[stream.tr101290]\nchecks = "no"\n',
            "t.toml: stream[0].tr101290.checks: expected true or false, found 'no'",
        ),
        (
            "[stream.tr101290]\npat_max = 1\n",
            "t.toml: stream[0].tr101290.pat_max: unknown key (expected one of checks, enabled,",
        ),
    ],
)
def test_garbage_is_refused_with_file_key_expected_found(extra, message):
    with pytest.raises(ConfigError) as e:
        stream(extra)
    assert message in str(e.value)
