"""The one rule for where the learned model runs: CUDA where the machine has it, else the CPU.

The learned model (``fabricate.reconstruct.neural.load_model``) and the workers
(``fabricate.jobs.device``, which records the device with every attempt) both apply it.
"""
from __future__ import annotations


def choose_device(cuda_available: bool) -> str:
    """``"cuda"`` when CUDA is usable, else ``"cpu"``."""
    return "cuda" if cuda_available else "cpu"
