"""The stream URL parser the CLI uses: good URLs, and a clear ValueError for garbage."""

from __future__ import annotations

import socket

import pytest
from iec62379.collectors.sources.url import StreamUrl, parse_stream_url


@pytest.mark.parametrize(
    "text,expected",
    [
        ("udp://239.1.1.1:5004", StreamUrl("udp", "239.1.1.1", 5004)),
        ("rtp://239.1.1.1:5004", StreamUrl("rtp", "239.1.1.1", 5004)),
        ("UDP://239.1.1.1:5004", StreamUrl("udp", "239.1.1.1", 5004)),
        ("udp://@239.1.1.1:5004", StreamUrl("udp", "239.1.1.1", 5004)),
        ("udp://10.0.0.1@232.1.1.1:5004", StreamUrl("udp", "232.1.1.1", 5004, "10.0.0.1")),
        ("udp://239.1.1.1:5004?iface=eth0", StreamUrl("udp", "239.1.1.1", 5004, iface="eth0")),
        ("udp://:5004", StreamUrl("udp", "", 5004)),
        (
            "udp://192.0.2.7:1234?rcvbuf=1000000",
            StreamUrl("udp", "192.0.2.7", 1234, rcvbuf=1000000),
        ),
        ("udp://[ff3e::1234]:5004", StreamUrl("udp", "ff3e::1234", 5004)),
        (
            "udp://[2001:db8::1]@[ff3e::1]:5004?iface=vb",
            StreamUrl("udp", "ff3e::1", 5004, "2001:db8::1", "vb"),
        ),
        ("udp://2001:db8::1@[ff3e::1]:5004", StreamUrl("udp", "ff3e::1", 5004, "2001:db8::1")),
    ],
)
def test_good_urls(text: str, expected: StreamUrl) -> None:
    url = parse_stream_url(text)
    assert url == expected
    assert parse_stream_url(str(url)) == url  # str() round-trips


def test_properties() -> None:
    u = parse_stream_url("udp://[ff3e::1]:5004")
    assert u.family == socket.AF_INET6 and u.is_multicast and u.bind_address == "ff3e::1"
    u = parse_stream_url("udp://:5004")
    assert u.family == socket.AF_INET and not u.is_multicast and u.bind_address == "0.0.0.0"


@pytest.mark.parametrize(
    "text,message",
    [
        ("239.1.1.1:5004", "expected scheme://"),
        ("http://239.1.1.1:5004", "unknown scheme 'http'"),
        ("udp://239.1.1.1", "missing ':port'"),
        ("udp://239.1.1.1:", "port '' is not a number"),
        ("udp://239.1.1.1:70000", "port 70000 out of range"),
        ("udp://239.1.1.1:0", "port 0 out of range"),
        ("udp://239.1.1.1:-5", "port '-5' is not a number"),
        ("udp://239.1.1.1:50x4", "is not a number"),
        ("udp://239.1.1.300:5004", "address '239.1.1.300' is not an IPv4 or IPv6 address"),
        ("udp://example.com:5004", "'example.com' is not an IPv4 or IPv6 address"),
        ("udp://ff3e::1:5004", "must be written in brackets"),
        ("udp://[ff3e::1:5004", "'[' without ']'"),
        ("udp://[ff3e::1]5004", "expected ':port'"),
        ("udp://[239.1.1.1]:5004", "brackets are only for IPv6"),
        ("udp://239.1.1.1:5004/path", "a path is not allowed"),
        ("udp://239.1.1.1:5004#frag", "fragments"),
        ("udp://239.1.1.1:5004?foo=1", "unknown query key 'foo'"),
        ("udp://239.1.1.1:5004?iface=", "is not an interface name"),
        ("udp://239.1.1.1:5004?iface=a%20b", "is not an interface name"),
        ("udp://239.1.1.1:5004?iface=eth0&iface=eth1", "given twice"),
        ("udp://239.1.1.1:5004?rcvbuf=big", "rcvbuf 'big' is not a byte count"),
        ("udp://239.1.1.1:5004?novalue", "malformed query"),
        ("udp://10.0.0.1@192.0.2.1:5004", "needs a multicast group"),
        ("udp://10.0.0.1@:5004", "needs a multicast group"),
        ("udp://[2001:db8::1]@232.1.1.1:5004", "different IP versions"),
        ("udp://239.9.9.9@232.1.1.1:5004", "is itself a multicast address"),
        ("udp://a@b@232.1.1.1:5004", "more than one '@'"),
        ("udp://nonsense@232.1.1.1:5004", "source 'nonsense' is not"),
    ],
)
def test_garbage_urls(text: str, message: str) -> None:
    with pytest.raises(ValueError) as exc:
        parse_stream_url(text)
    assert message in str(exc.value)
    assert repr(text) in str(exc.value) or message.startswith("expected")


def test_not_a_string() -> None:
    with pytest.raises(ValueError, match="must be a string"):
        parse_stream_url(5004)  # type: ignore[arg-type]
