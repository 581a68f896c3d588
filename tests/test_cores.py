"""How many pages are cleaned side by side by default: the cores this process may use, a container's quota included."""

from __future__ import annotations

import os

import pytest

from streams.cores import MOST_BY_DEFAULT, available_cores, cgroup_cpu_limit
from streams.settings import Settings


@pytest.mark.parametrize(("cpu_max", "cores"), [("max 100000\n", None), ("150000 100000\n", 2), ("50000 100000", 1),
                                                  ("200000 100000", 2), ("garbage", None), ("", None),
                                                  ("100 0", None)])
def test_a_cgroup_quota_is_read_as_whole_cores(tmp_path, cpu_max, cores):
    f = tmp_path / "cpu.max"
    f.write_text(cpu_max)
    assert cgroup_cpu_limit(f) == cores


def test_no_cgroup_file_means_no_limit(tmp_path):
    assert cgroup_cpu_limit(tmp_path / "absent") is None


def test_the_quota_and_the_affinity_both_bound_the_default(tmp_path, monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(16)))
    f = tmp_path / "cpu.max"
    f.write_text("300000 100000")
    assert available_cores(cpu_max=f) == 3  # docker --cpus 3 on a 16-core host
    f.write_text("max 100000")
    assert available_cores(cpu_max=f) == MOST_BY_DEFAULT  # unlimited: capped
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0})
    assert available_cores(cpu_max=f) == 1  # taskset -c 0


def test_the_worker_setting_defaults_to_the_cores_and_is_bounded(monkeypatch):
    monkeypatch.delenv("NEWSSTREAM_CLEAN_WORKERS", raising=False)
    assert Settings(_env_file=None).clean_workers == available_cores()
    monkeypatch.setenv("NEWSSTREAM_CLEAN_WORKERS", "3")
    assert Settings(_env_file=None).clean_workers == 3
    for bad in ("0", "-1", "65", "two"):
        monkeypatch.setenv("NEWSSTREAM_CLEAN_WORKERS", bad)
        with pytest.raises(ValueError):
            Settings(_env_file=None)
