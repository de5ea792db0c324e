"""Hardware detection: NVML (a fake at the plugin boundary), the nvidia-smi fallback, CPU.

No machine running these tests needs a GPU: NVML is the fake of
``agentdock_plugins.hardware.fakenvml`` and ``nvidia-smi`` a script on a temporary PATH.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pynvml
import pytest
from agentdock_plugins.hardware.fakenvml import FakeNvml
from agentdock_plugins.hardware.probe import (
    host_platform,
    probe,
    probe_nvidia_smi,
)
from agentdock_runtime.machine import available_cpus, available_memory
from fake_smi import SMI_TWO_GPUS, fake_smi

GIB = 1024**3
MIB = 1024**2


def env_with(path: Path | None = None, **extra: str) -> dict[str, str]:
    env = {"PATH": str(path) if path else "/nonexistent"}
    env.update(extra)
    return env


# -- NVML ---------------------------------------------------------------------------------------


def test_nvml_reports_each_gpu_with_driver_and_cuda_version() -> None:
    nvml = FakeNvml.of("rtx4090")
    found = probe(nvml=nvml, environ=env_with(), cpus=16, memory_bytes=64 * GIB)
    assert found.source == "nvml"
    assert found.has_gpu
    (gpu,) = found.gpus
    assert gpu.name == "NVIDIA GeForce RTX 4090"
    assert gpu.memory_bytes == 24564 * MIB
    assert gpu.compute_capability == "8.9"
    assert gpu.uuid == "GPU-00000000-fake"
    assert found.driver_version == "550.54.14"
    assert found.cuda_version == "12.4"
    assert found.cpus == 16
    assert found.problems == ()
    assert nvml.initialised == 0, "NVML must be shut down after probing"


def test_nvml_several_models_keep_their_indices_and_sizes() -> None:
    nvml = FakeNvml.of("h100", "a100-40", "t4", cuda=12080, names_as_bytes=True)
    found = probe(nvml=nvml, environ=env_with(), cpus=4, memory_bytes=GIB)
    assert [g.index for g in found.gpus] == [0, 1, 2]
    assert [g.name for g in found.gpus] == [
        "NVIDIA H100 80GB HBM3",
        "NVIDIA A100-SXM4-40GB",
        "Tesla T4",
    ]
    assert [g.memory_gib for g in found.gpus] == [79.6, 39.6, 15.0]
    assert found.cuda_version == "12.8"


def test_driver_without_devices_is_a_cpu_machine_with_a_driver() -> None:
    found = probe(nvml=FakeNvml([]), environ=env_with(), cpus=2, memory_bytes=GIB)
    assert found.source == "none"
    assert found.gpus == ()
    assert found.driver_version == "550.54.14"
    assert found.problems == ("nvidia-smi: not found on PATH",)


def test_broken_driver_is_reported_not_raised() -> None:
    nvml = FakeNvml(init_error=pynvml.NVML_ERROR_DRIVER_NOT_LOADED)
    found = probe(nvml=nvml, environ=env_with(AGENTDOCK_NVIDIA_SMI="off"), cpus=2)
    assert found.source == "none"
    assert found.gpus == ()
    assert found.problems == (
        "nvml: Driver Not Loaded",
        "nvidia-smi: disabled by AGENTDOCK_NVIDIA_SMI=off",
    )
    assert "nvmlShutdown" not in nvml.calls


def test_a_lost_gpu_is_left_out_and_named() -> None:
    nvml = FakeNvml.of("rtx4090", "rtx3060", lost=frozenset({1}))
    found = probe(nvml=nvml, environ=env_with(), cpus=2, memory_bytes=GIB)
    assert [g.name for g in found.gpus] == ["NVIDIA GeForce RTX 4090"]
    assert found.problems == ("nvml: GPU 1: GPU is lost",)
    assert nvml.initialised == 0


def test_device_count_failure_falls_back_to_nvidia_smi(tmp_path: Path) -> None:
    fake_smi(tmp_path, SMI_TWO_GPUS)
    nvml = FakeNvml.of("rtx4090", count_error=pynvml.NVML_ERROR_UNKNOWN)
    found = probe(nvml=nvml, environ=env_with(tmp_path), cpus=2, memory_bytes=GIB)
    assert found.source == "nvidia-smi"
    assert len(found.gpus) == 2
    assert found.problems == ("nvml: device count: Unknown Error",)


def test_missing_compute_capability_is_not_a_problem() -> None:
    nvml = FakeNvml(gpus=[("Old GPU", 4096)])
    found = probe(nvml=nvml, environ=env_with(), cpus=1, memory_bytes=GIB)
    assert found.gpus[0].compute_capability is None
    assert found.problems == ()


# -- nvidia-smi ---------------------------------------------------------------------------------


def test_nvidia_smi_fallback_when_nvml_is_off(tmp_path: Path) -> None:
    fake_smi(tmp_path, SMI_TWO_GPUS)
    found = probe(environ=env_with(tmp_path, AGENTDOCK_NVML="off"), cpus=8, memory_bytes=GIB)
    assert found.source == "nvidia-smi"
    assert [(g.index, g.name, g.memory_bytes, g.uuid) for g in found.gpus] == [
        (0, "NVIDIA GeForce RTX 4090", 24564 * MIB, "GPU-aaaa"),
        (1, "NVIDIA GeForce RTX 3060", 12288 * MIB, "GPU-bbbb"),
    ]
    assert found.driver_version == "550.54.14"
    assert found.cuda_version == "12.4"
    assert found.problems == ("nvml: disabled by AGENTDOCK_NVML=off",)


def test_nvidia_smi_named_by_variable(tmp_path: Path) -> None:
    script = fake_smi(tmp_path, "0, Tesla T4, 15360, 535.104.05, GPU-t4\n")
    env = {"PATH": "/nonexistent", "AGENTDOCK_NVML": "off", "AGENTDOCK_NVIDIA_SMI": str(script)}
    found = probe(environ=env, cpus=1, memory_bytes=GIB)
    assert [g.name for g in found.gpus] == ["Tesla T4"]
    assert found.driver_version == "535.104.05"


def test_nvidia_smi_broken_driver_is_reported(tmp_path: Path) -> None:
    message = "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver."
    fake_smi(tmp_path, "", exit_code=9, message=message)
    found = probe(environ=env_with(tmp_path, AGENTDOCK_NVML="off"), cpus=1, memory_bytes=GIB)
    assert found.source == "none"
    assert found.problems[-1] == f"nvidia-smi: exit 9: {message}"


def test_nvidia_smi_name_with_a_comma_and_unknown_memory(tmp_path: Path) -> None:
    fake_smi(tmp_path, "0, Odd, Card, [N/A], 470.1, GPU-x\n")
    found = probe(environ=env_with(tmp_path, AGENTDOCK_NVML="off"), cpus=1, memory_bytes=GIB)
    assert [(g.name, g.memory_bytes) for g in found.gpus] == [("Odd, Card", 0)]


def test_nvidia_smi_output_not_understood(tmp_path: Path) -> None:
    fake_smi(tmp_path, "something else entirely\n")
    found = probe(environ=env_with(tmp_path, AGENTDOCK_NVML="off"), cpus=1, memory_bytes=GIB)
    assert found.gpus == ()
    assert "nvidia-smi: output not understood" in found.problems


def test_nvidia_smi_that_hangs_is_given_up() -> None:
    def hangs(args: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
        raise subprocess.TimeoutExpired(args, 15)

    gpus, driver, cuda, problems = probe_nvidia_smi("nvidia-smi", run=hangs)
    assert (gpus, driver, cuda) == ([], None, None)
    assert problems == ["nvidia-smi: no answer within 15 s"]


def test_nvidia_smi_not_executable(tmp_path: Path) -> None:
    script = tmp_path / "nvidia-smi"
    script.write_text("not a program")
    env = {"PATH": "/nonexistent", "AGENTDOCK_NVML": "off", "AGENTDOCK_NVIDIA_SMI": str(script)}
    found = probe(environ=env, cpus=1, memory_bytes=GIB)
    assert found.source == "none"
    assert found.problems[-1] == "nvidia-smi: Permission denied"


def test_probe_is_json_ready() -> None:
    found = probe(nvml=FakeNvml.of("a10g"), environ=env_with(), cpus=4, memory_bytes=8 * GIB)
    document = found.to_json()
    assert document["gpus"][0]["memory_gib"] == 22.5
    assert document["source"] == "nvml"
    assert document["cpus"] == 4


# -- CPUs, memory, platform ---------------------------------------------------------------------


def cgroup(tmp_path: Path, **files: str) -> Path:
    root = tmp_path / "cgroup"
    for name, text in files.items():
        path = root / name.replace("__", "/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_cpus_follow_the_cgroup_quota(tmp_path: Path) -> None:
    root = cgroup(tmp_path, **{"cpu.max": "150000 100000\n"})
    self_cgroup = tmp_path / "self"
    self_cgroup.write_text("0::/\n")
    assert available_cpus(cgroup_root=root, self_cgroup=self_cgroup, affinity=64) == 2
    assert available_cpus(cgroup_root=root, self_cgroup=self_cgroup, affinity=1) == 1


def test_cpus_without_a_quota_are_the_affinity(tmp_path: Path) -> None:
    root = cgroup(tmp_path, **{"cpu.max": "max 100000\n"})
    self_cgroup = tmp_path / "self"
    self_cgroup.write_text("0::/\n")
    assert available_cpus(cgroup_root=root, self_cgroup=self_cgroup, affinity=12) == 12


def test_cpus_tightest_quota_of_the_nested_cgroups(tmp_path: Path) -> None:
    root = cgroup(
        tmp_path,
        **{"cpu.max": "800000 100000", "kubepods__pod1__cpu.max": "300000 100000"},
    )
    self_cgroup = tmp_path / "self"
    self_cgroup.write_text("0::/kubepods/pod1\n")
    assert available_cpus(cgroup_root=root, self_cgroup=self_cgroup, affinity=32) == 3


def test_cpus_cgroup_v1_quota(tmp_path: Path) -> None:
    root = cgroup(
        tmp_path, **{"cpu__cpu.cfs_quota_us": "400000", "cpu__cpu.cfs_period_us": "100000"}
    )
    assert available_cpus(cgroup_root=root, self_cgroup=tmp_path / "none", affinity=16) == 4


def test_memory_is_capped_by_the_cgroup(tmp_path: Path) -> None:
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal:       65536000 kB\nMemFree: 1 kB\n")
    root = cgroup(tmp_path, **{"memory.max": str(2 * GIB)})
    self_cgroup = tmp_path / "self"
    self_cgroup.write_text("0::/\n")
    got = available_memory(cgroup_root=root, self_cgroup=self_cgroup, meminfo=meminfo)
    assert got == 2 * GIB
    (root / "memory.max").write_text("max\n")
    got = available_memory(cgroup_root=root, self_cgroup=self_cgroup, meminfo=meminfo)
    assert got == 65536000 * 1024


@pytest.mark.parametrize(
    ("machine", "platform"),
    [("x86_64", "linux/amd64"), ("aarch64", "linux/arm64"), ("ppc64le", "linux/ppc64le")],
)
def test_host_platform(machine: str, platform: str) -> None:
    assert host_platform(machine) == platform


def test_real_probe_of_this_machine_never_raises() -> None:
    found = probe()
    assert found.cpus >= 1
    assert found.source in {"nvml", "nvidia-smi", "none"}
    if not found.gpus:
        assert found.problems, "a machine without GPUs says why"
