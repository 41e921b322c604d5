"""[[stream]] dvb_input: the stream's InputNumber in the DVB measurement MIB; its default (the
network block id), duplicates and garbage refused with file / key / expected / found."""

from __future__ import annotations

import pytest
from iec62379.agent.config import ConfigError
from iec62379.collectors.settings import derive_block_id, parse_settings, stream_identity

S1 = '[[stream]]\nurl = "rtp://239.1.1.1:5004"\n'
S2 = '[[stream]]\nurl = "rtp://239.1.1.2:5004"\n'


def test_default_is_the_network_block_id_and_stable():
    cfg = parse_settings(S1 + "id = 40\n" + S2, "f.toml")
    derived = derive_block_id(stream_identity(None, "239.1.1.2", 5004, None))
    assert [s.dvb_input for s in cfg.streams] == [40, derived]
    again = parse_settings(S2 + S1 + "id = 40\n", "f.toml")  # reordered: the same numbers
    assert sorted(s.dvb_input for s in again.streams) == sorted([40, derived])


def test_explicit_dvb_input():
    cfg = parse_settings(S1 + "dvb_input = 1\n" + S2 + "dvb_input = 2147483647\n", "f.toml")
    assert [s.dvb_input for s in cfg.streams] == [1, 2147483647]


@pytest.mark.parametrize("text,message", [
    (S1 + "dvb_input = 0", "f.toml: stream[0].dvb_input: expected an integer in 1..2147483647, "
                           "found 0"),
    (S1 + "dvb_input = 2147483648", "f.toml: stream[0].dvb_input: expected an integer in "
                                    "1..2147483647, found 2147483648"),
    (S1 + 'dvb_input = "1"', "f.toml: stream[0].dvb_input: expected an integer in "
                             "1..2147483647, found '1'"),
    (S1 + "dvb_input = 1.5", "f.toml: stream[0].dvb_input: expected an integer in "
                             "1..2147483647, found 1.5"),
    (S1 + "dvb_input = true", "f.toml: stream[0].dvb_input: expected an integer in "
                              "1..2147483647, found True"),
    (S1 + "dvb_input = 5\n" + S2 + "dvb_input = 5",
     "f.toml: stream[1].dvb_input: expected an InputNumber (dvb_input) not used by another "
     "stream (stream[0] has it), found 5"),
    (S1 + "dvb_input = 40\n" + S2 + "id = 40",
     "f.toml: stream[1].id: expected an InputNumber (dvb_input) not used by another stream "
     "(stream[0] has it), found 40"),
    (S1 + "id = 3000000000",
     "f.toml: stream[0].id: expected an id in 1..2147483647 or a dvb_input (the stream's "
     "InputNumber, by default its id), found 3000000000"),
])
def test_garbage_is_refused(text, message):
    with pytest.raises(ConfigError) as exc:
        parse_settings(text, "f.toml")
    assert str(exc.value) == message
