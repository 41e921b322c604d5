"""Bit-level reading shared by the video elementary stream parsers (video_es, video_h26x):
an RBSP reader with exp-Golomb codes (ITU-T H.264 / H.265 9.2), emulation prevention removal
and the Annex B start-code search. Pure computation.
"""

from __future__ import annotations

# The largest picture dimension the highest levels allow: H.265 level 6.2 gives
# sqrt(8 * MaxLumaPs) = 16888 luma samples (A.4.1); H.264 level 6.2 gives 1055 MBs = 16880.
MAX_DIMENSION = 16888

START_CODE = b"\x00\x00\x01"


class Truncated(ValueError):
    """The data ended inside a syntax structure (a `ValueError`, so it is never lost)."""


# --------------------------------------------------------------------------------------------
# Bit reading


class BitReader:
    """Reads an RBSP most significant bit first, with ITU-T H.264 / H.265 9.2 exp-Golomb codes.

    Every read names the syntax element, so that errors say which one was bad.
    """

    __slots__ = ("_data", "_pos", "_end", "_what")

    def __init__(self, data: bytes, what: str) -> None:
        self._data = data
        self._pos = 0
        self._end = len(data) * 8
        self._what = what

    @property
    def bytes_read(self) -> int:
        return (self._pos + 7) // 8

    def error(self, message: str) -> ValueError:
        return ValueError(f"{self._what}: {message}")

    def u(self, n: int, name: str) -> int:
        """u(n): an n-bit unsigned integer."""
        if self._pos + n > self._end:
            raise Truncated(f"{self._what}: data ends inside {name}")
        value = 0
        data, pos = self._data, self._pos
        for _ in range(n):
            value = (value << 1) | ((data[pos >> 3] >> (7 - (pos & 7))) & 1)
            pos += 1
        self._pos = pos
        return value

    def flag(self, name: str) -> bool:
        return self.u(1, name) == 1

    def skip(self, n: int, name: str) -> None:
        if self._pos + n > self._end:
            raise Truncated(f"{self._what}: data ends inside {name}")
        self._pos += n

    def ue(self, name: str, maximum: int = 0xFFFFFFFE) -> int:
        """ue(v): unsigned exp-Golomb (9.2), checked against its largest allowed value."""
        zeros = 0
        while self.u(1, name) == 0:
            zeros += 1
            if zeros > 31:
                raise self.error(f"{name} exp-Golomb code is longer than 32 bits")
        value = (1 << zeros) - 1 + self.u(zeros, name)
        if value > maximum:
            raise self.error(f"{name} = {value} is out of range (at most {maximum})")
        return value

    def se(self, name: str, minimum: int = -(2**31) + 1, maximum: int = 2**31 - 1) -> int:
        """se(v): signed exp-Golomb (9.2.2), checked against its range."""
        k = self.ue(name)
        value = (k + 1) // 2 if k & 1 else -(k // 2)
        if not minimum <= value <= maximum:
            raise self.error(f"{name} = {value} is out of range ({minimum}..{maximum})")
        return value


def rbsp(payload: bytes) -> bytes:
    """Remove emulation_prevention_three_byte (H.264 7.3.1 / 7.4.1, H.265 7.3.1.1 / 7.4.2).

    The syntax scans left to right and drops the 03 of every 00 00 03, then goes on after
    it: exactly what a non-overlapping replace does.
    """
    return payload.replace(b"\x00\x00\x03", b"\x00\x00")



# --------------------------------------------------------------------------------------------
# Annex B byte streams (H.264 B.1, H.265 B.2)


def find_nal(es: bytes, wanted: int, hevc: bool) -> tuple[bytes, bool] | None:
    """The first NAL unit of type `wanted` (with its header), and whether it is complete.

    A NAL unit is complete when the next start code follows it; trailing zero bytes (the
    zero_byte of a 4-byte start code, trailing_zero_8bits) are removed either way, since a
    NAL unit never ends with a zero byte. For H.265 only the base layer (nuh_layer_id 0) is
    taken.
    """
    pos = 0
    while True:
        sc = es.find(START_CODE, pos)
        if sc < 0 or sc + 3 >= len(es):
            return None
        head = sc + 3
        if hevc:
            if head + 1 >= len(es):
                return None
            nal_type = (es[head] >> 1) & 0x3F
            layer = ((es[head] & 1) << 5) | (es[head + 1] >> 3)
            match = nal_type == wanted and layer == 0
        else:
            match = es[head] & 0x1F == wanted
        if match:
            end = es.find(START_CODE, head)
            complete = end >= 0
            nal = es[head:end] if complete else es[head:]
            return nal.rstrip(b"\x00"), complete
        pos = head
