"""Which device a worker builds on, and the time limits that keep a job from being handed out twice.

There is no GPU on this machine: the CPU path runs for real (torch is installed, CUDA is not
available), and the CUDA branch is checked as the rule it is (``choose_device``), not run.
"""
import subprocess
import sys

import pytest

from fabricate.jobs.celery_runner import JOB_TIME_LIMIT_S, job_limits
from fabricate.jobs.device import build_device, choose_device


def test_the_rule_picks_cuda_where_it_is_available_and_the_cpu_elsewhere():
    # The CUDA branch as a unit: no GPU here to run it on.
    assert choose_device(True) == "cuda"
    assert choose_device(False) == "cpu"


def test_this_machine_builds_on_the_cpu_and_asks_without_initialising_cuda():
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA: the CPU path is checked on machines without it")
    # In a fresh process, as a worker asks before forking its build processes.
    probe = ("import os; from fabricate.jobs.device import build_device; print(build_device()); "
             "import torch; print(os.environ['PYTORCH_NVML_BASED_CUDA_CHECK'], torch.cuda.is_initialized())")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["cpu", "1", "False"]
    assert build_device() == "cpu"


@pytest.mark.parametrize("limit", [10, 90, JOB_TIME_LIMIT_S, 7 * 24 * 3600])
def test_a_job_is_never_handed_out_twice_while_it_may_still_build(limit):
    times = job_limits(limit)
    # Interrupted at the limit, killed a little after, handed out again only after that.
    assert times["soft"] == limit < times["hard"] < times["visibility"]
    assert 1 <= times["restore_every"] <= min(60, times["visibility"] // 10 or 1)
    assert times["visibility"] <= 1.25 * limit + 10  # and not much later: a power cut costs about the limit


def test_the_default_limit_re_queues_a_power_cut_job_within_the_hour():
    # Kombu's own default visibility timeout is 1 hour; ours follows from the longest job.
    assert job_limits()["visibility"] + job_limits()["restore_every"] < 3600
