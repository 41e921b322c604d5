"""recvmmsg(2) through ctypes, with every buffer preallocated and visible to numpy.

The mmsghdr, iovec, address and control arrays are numpy arrays whose memory the kernel writes
into directly, so the results of one call (lengths, flags, source addresses, timestamps) are
read back with vectorised numpy operations instead of one Python object per datagram.
Linux only.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os

import numpy as np

__all__ = ["MmsgRing", "MMSG_FIELDS", "MSG_DONTWAIT", "MSG_TRUNC", "MSG_CTRUNC"]

MSG_TRUNC = 0x20
MSG_CTRUNC = 0x08
MSG_DONTWAIT = 0x40


class _Iovec(ctypes.Structure):
    _fields_ = [("iov_base", ctypes.c_void_p), ("iov_len", ctypes.c_size_t)]


class _Msghdr(ctypes.Structure):
    _fields_ = [
        ("msg_name", ctypes.c_void_p),
        ("msg_namelen", ctypes.c_uint32),
        ("msg_iov", ctypes.c_void_p),
        ("msg_iovlen", ctypes.c_size_t),
        ("msg_control", ctypes.c_void_p),
        ("msg_controllen", ctypes.c_size_t),
        ("msg_flags", ctypes.c_int),
    ]


class _Mmsghdr(ctypes.Structure):
    _fields_ = [("msg_hdr", _Msghdr), ("msg_len", ctypes.c_uint)]


def _np_type(ctype: type) -> str:
    size = ctypes.sizeof(ctype)
    signed = ctype in (ctypes.c_int, ctypes.c_long)
    return f"{'i' if signed else 'u'}{size}"


_MMSG_DTYPE = np.dtype(
    {
        "names": [name for name, _ in _Msghdr._fields_] + ["msg_len"],
        "formats": [_np_type(t) for _, t in _Msghdr._fields_] + [_np_type(ctypes.c_uint)],
        "offsets": [getattr(_Msghdr, name).offset for name, _ in _Msghdr._fields_]
        + [_Mmsghdr.msg_len.offset],
        "itemsize": ctypes.sizeof(_Mmsghdr),
    }
)
MMSG_FIELDS: tuple[str, ...] = tuple(_MMSG_DTYPE.names or ())
_IOV_DTYPE = np.dtype(
    {
        "names": ["iov_base", "iov_len"],
        "formats": [_np_type(ctypes.c_void_p), _np_type(ctypes.c_size_t)],
        "offsets": [_Iovec.iov_base.offset, _Iovec.iov_len.offset],
        "itemsize": ctypes.sizeof(_Iovec),
    }
)

_libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
_recvmmsg = _libc.recvmmsg
_recvmmsg.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_uint, ctypes.c_int, ctypes.c_void_p]
_recvmmsg.restype = ctypes.c_int

NAME_SIZE = 32  # room for sockaddr_in6 (28 bytes), 8-byte aligned rows


class MmsgRing:
    """Preallocated headers for receiving up to ``count`` datagrams per recvmmsg call.

    ``data`` buffers are supplied per call (see :meth:`recv`) so that a returned batch can keep
    its buffer while the next call fills a new one. ``names`` (count x 32 bytes) and
    ``control`` (count x control_size bytes) are rewritten by every call.
    """

    def __init__(self, count: int, slot_size: int, control_size: int = 64) -> None:
        if count < 1 or slot_size < 1:
            raise ValueError(f"count and slot_size must be positive: {count}, {slot_size}")
        if control_size % 8:
            raise ValueError(f"control_size must be a multiple of 8: {control_size}")
        self.count = count
        self.slot_size = slot_size
        self.control_size = control_size
        self.hdrs = np.zeros(count, dtype=_MMSG_DTYPE)
        self.iov = np.zeros(count, dtype=_IOV_DTYPE)
        self.names = np.zeros((count, NAME_SIZE), dtype=np.uint8)
        self.control = np.zeros((count, control_size), dtype=np.uint8)
        idx = np.arange(count, dtype=np.uint64)
        self.iov["iov_len"] = slot_size
        self.hdrs["msg_name"] = np.uint64(self.names.ctypes.data) + idx * np.uint64(NAME_SIZE)
        self.hdrs["msg_iov"] = np.uint64(self.iov.ctypes.data) + idx * np.uint64(
            _IOV_DTYPE.itemsize
        )
        self.hdrs["msg_iovlen"] = 1
        self.hdrs["msg_control"] = np.uint64(self.control.ctypes.data) + idx * np.uint64(
            control_size
        )
        self._slot_offsets = idx * np.uint64(slot_size)
        self._dirty = count  # headers the kernel may have changed since the last reset

    def recv(self, fd: int, data: np.ndarray, flags: int = MSG_DONTWAIT) -> int:
        """Receive up to ``count`` datagrams into ``data`` (count * slot_size uint8 bytes),
        datagram i at byte i * slot_size. Returns how many arrived (0 if none was waiting).
        """
        if data.dtype != np.uint8 or data.size < self.count * self.slot_size:
            raise ValueError(
                f"data must be uint8 with at least {self.count * self.slot_size} bytes"
            )
        if not data.flags.c_contiguous or not data.flags.writeable:
            raise ValueError("data must be a writeable contiguous array")
        self.iov["iov_base"] = np.uint64(data.ctypes.data) + self._slot_offsets
        if self._dirty:
            dirty = self.hdrs[: self._dirty]
            dirty["msg_namelen"] = NAME_SIZE
            dirty["msg_controllen"] = self.control_size
            dirty["msg_flags"] = 0
        n = _recvmmsg(fd, self.hdrs.ctypes.data, self.count, flags, None)
        self._dirty = max(n, 0)
        if n < 0:
            err = ctypes.get_errno()
            if err in (errno.EAGAIN, errno.EWOULDBLOCK, errno.EINTR):
                return 0
            raise OSError(err, f"recvmmsg: {os.strerror(err)}")
        return n
