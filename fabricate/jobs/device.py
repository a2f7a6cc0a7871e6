"""Which device a worker's builds use for the learned model: CUDA where the machine has it, else the CPU.

A farm mixes machines with and without GPUs, and the same `fabricate worker` command runs on all
of them: each worker looks once, when it starts, logs what it found and records it with every
attempt it makes (``JobStore.attempts``: ``device``), so a job shows where it was built.

The learned model (``fabricate.reconstruct.neural.load_model``) applies the same rule
(``fabricate.devices.choose_device``) in the build process; the classical model runs on the CPU
everywhere.
"""
from __future__ import annotations

import os
from functools import lru_cache
from importlib.util import find_spec

from fabricate.devices import choose_device


@lru_cache(maxsize=1)
def build_device() -> str:
    """The device this machine's builds use: ``choose_device`` of what torch finds (the CPU without torch)."""
    if find_spec("torch") is None:
        return choose_device(False)
    # Asked through NVML, which does not initialise CUDA in this process: a worker asks before it
    # forks its build processes, and CUDA initialised before a fork is unusable in the children.
    os.environ.setdefault("PYTORCH_NVML_BASED_CUDA_CHECK", "1")
    import torch

    return choose_device(torch.cuda.is_available())
