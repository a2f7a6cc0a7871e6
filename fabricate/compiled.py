"""The package's compiled loops (C files built by ``pip install``), loaded through ctypes.

Each C file is built as an extension module whose init only lets the import system find it;
its functions are plain C, called through ctypes (which releases the GIL, so ranges of work
run on several threads). Signatures are declared where each library is used.
"""
from __future__ import annotations

import ctypes
import importlib
from functools import lru_cache

import numpy as np

from fabricate.errors import FabricateError


def array(dtype) -> type:
    """A ctypes argument type for a C-contiguous numpy array of ``dtype``."""
    return np.ctypeslib.ndpointer(dtype, flags="C_CONTIGUOUS")


@lru_cache(maxsize=None)
def library(module: str) -> ctypes.CDLL:
    """The shared library of compiled module ``module`` (e.g. ``fabricate.mesh._intersect``)."""
    try:
        built = importlib.import_module(module)
    except ImportError as error:
        raise FabricateError(f"{module} is not built: reinstall with `pip install -e .` "
                             f"(it needs a C compiler and Python's headers)") from error
    return ctypes.CDLL(built.__file__)
