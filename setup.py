"""Build shim: everything else is in setup.cfg and pyproject.toml.

The one thing setup.cfg cannot say is the optional C extension ``iec62379.collectors.core.
_kernels`` (per-packet loops; see collectors/core/_kernels.c). It is optional: without a C
compiler and the Python headers the install goes on without it and the numpy code is used.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "iec62379.collectors.core._kernels",
            ["collectors/core/_kernels.c"],
            extra_compile_args=["-O2", "-ffp-contract=off"],
            libraries=["m"],
            optional=True,
        )
    ]
)
