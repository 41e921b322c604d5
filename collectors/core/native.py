"""The optional compiled kernels (``_kernels``, built from ``_kernels.c`` by ``pip install``).

``kernels`` is the module, or None when it was not built; callers look it up at each call
(``native.kernels``), so tests can set it to None to run the numpy code, which stays the
reference: both must give the same results.
"""

from __future__ import annotations

from types import ModuleType

kernels: ModuleType | None
try:
    from . import _kernels as kernels
except ImportError:  # not built (no compiler or Python headers): numpy only
    kernels = None

__all__ = ["kernels"]
