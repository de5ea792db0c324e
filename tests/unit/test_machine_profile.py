"""The machine profile at start-up: defaults applied unless the environment has them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pynvml
import pytest
from agentdock_plugins.hardware.defaults import machine_profile
from agentdock_plugins.hardware.fakenvml import FakeNvml
from agentdock_plugins.hardware.probe import probe
from agentdock_runtime.machine import (
    GpuFacts,
    apply_machine_profile,
    evaluate_tuning,
    nvml_gpus,
)

GIB = 1024**3


@pytest.fixture
def cgroup() -> dict[str, Any]:
    """A machine with 4 CPUs, whatever this one has."""
    return {"cpus": 4}


def write(tmp_path: Path, document: Any) -> Path:
    path = tmp_path / "machine-profile.json"
    path.write_text(document if isinstance(document, str) else json.dumps(document))
    return path


def build_time(hardware: str, *models: str, cpus: int = 32) -> dict[str, Any]:
    """The document a build on a machine with ``models`` GPUs would bake."""
    found = probe(
        nvml=FakeNvml.of(*models),
        environ={"PATH": "/nonexistent", "AGENTDOCK_NVIDIA_SMI": "off"},
        cpus=cpus,
        memory_bytes=GIB,
    )
    return machine_profile({"hardware": hardware}, found)


def test_missing_file_is_a_no_op(tmp_path: Path) -> None:
    environ: dict[str, str] = {"PATH": "/bin"}
    assert apply_machine_profile(tmp_path / "absent.json", environ) == {}
    assert environ == {"PATH": "/bin"}


def test_switched_off_by_the_environment(tmp_path: Path) -> None:
    path = write(tmp_path, build_time("cpu"))
    environ = {"AGENTDOCK_MACHINE_PROFILE": "off"}
    assert apply_machine_profile(path, environ) == {}
    assert environ == {"AGENTDOCK_MACHINE_PROFILE": "off"}


def test_fixed_profile_applies_the_baked_defaults(tmp_path: Path, cgroup: dict[str, Any]) -> None:
    path = write(tmp_path, build_time("cuda", "rtx4090", cpus=16))
    environ: dict[str, str] = {}
    report = apply_machine_profile(path, environ, nvml=FakeNvml.of("gtx1080"), **cgroup)
    assert report["redetected"] is False
    assert report["profile"] == "cuda"
    # Seed 001 §D, the 4090 row, whatever the machine it starts on.
    assert environ == {
        "CUDA_DEVICE_ORDER": "PCI_BUS_ID",
        "CUDA_VISIBLE_DEVICES": "0",
        "PYTORCH_CUDA_ALLOC_CONF": "max_split_size_mb:64",
        "AGENTDOCK_WORKER_THREADS": "32",
        "OMP_NUM_THREADS": "16",
    }
    assert report["applied"] == environ
    assert report["kept"] == []


def test_the_environment_always_wins(tmp_path: Path, cgroup: dict[str, Any]) -> None:
    planted = "planted-value-7f3a"
    path = write(tmp_path, build_time("cpu", cpus=8))
    environ = {"OMP_NUM_THREADS": planted}
    report = apply_machine_profile(path, environ, **cgroup)
    assert environ["OMP_NUM_THREADS"] == planted
    assert environ["AGENTDOCK_WORKER_THREADS"] == "16"
    assert report["kept"] == ["OMP_NUM_THREADS"]
    assert planted not in json.dumps(report), "the report never repeats environment values"


def test_auto_redetects_on_the_machine_it_starts_on(tmp_path: Path, cgroup: dict[str, Any]) -> None:
    # Built on a CPU-only machine with 32 cores; started with 4 CPUs and a 12 GB card.
    path = write(tmp_path, build_time("auto", cpus=32))
    environ: dict[str, str] = {}
    report = apply_machine_profile(path, environ, nvml=FakeNvml.of("rtx3060"), **cgroup)
    assert report["redetected"] is True
    assert report["profile"] == "cuda"
    assert environ == {
        "CUDA_DEVICE_ORDER": "PCI_BUS_ID",
        "CUDA_VISIBLE_DEVICES": "0",
        "PYTORCH_CUDA_ALLOC_CONF": "max_split_size_mb:32",
        "AGENTDOCK_WORKER_THREADS": "4",
        "OMP_NUM_THREADS": "2",
    }
    assert "problem" not in report


def test_auto_without_gpu_at_start_gets_cpu_defaults(
    tmp_path: Path, cgroup: dict[str, Any]
) -> None:
    path = write(tmp_path, build_time("auto", "h100", cpus=32))
    environ: dict[str, str] = {}
    report = apply_machine_profile(path, environ, nvml=FakeNvml([]), **cgroup)
    assert report["profile"] == "cpu"
    assert environ == {"AGENTDOCK_WORKER_THREADS": "8", "OMP_NUM_THREADS": "4"}


def test_cuda_built_without_gpu_learns_its_gpu_at_start(
    tmp_path: Path, cgroup: dict[str, Any]
) -> None:
    document = build_time("cuda", cpus=2)
    assert document["redetect"] is True
    path = write(tmp_path, document)
    environ: dict[str, str] = {}
    apply_machine_profile(path, environ, nvml=FakeNvml.of("h100", "h100"), **cgroup)
    assert environ["CUDA_VISIBLE_DEVICES"] == "0,1"
    assert environ["PYTORCH_CUDA_ALLOC_CONF"] == "max_split_size_mb:128"


def test_broken_driver_at_start_is_reported_not_raised(
    tmp_path: Path, cgroup: dict[str, Any]
) -> None:
    path = write(tmp_path, build_time("cuda", cpus=2))
    environ: dict[str, str] = {}
    broken = FakeNvml(init_error=pynvml.NVML_ERROR_DRIVER_NOT_LOADED)
    report = apply_machine_profile(path, environ, nvml=broken, **cgroup)
    assert report["problem"] == "nvml: Driver Not Loaded"
    assert environ["OMP_NUM_THREADS"] == "4"
    assert "CUDA_VISIBLE_DEVICES" not in environ


def test_nvml_off_in_the_environment(tmp_path: Path, cgroup: dict[str, Any]) -> None:
    path = write(tmp_path, build_time("cuda", cpus=2))
    environ = {"AGENTDOCK_NVML": "off"}
    report = apply_machine_profile(path, environ, **cgroup)
    assert report["problem"] == "nvml: disabled by AGENTDOCK_NVML=off"
    assert "CUDA_VISIBLE_DEVICES" not in environ


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("{not json", "the machine profile is not JSON"),
        ('{"schema": 99, "env": {}}', "the machine profile is not schema 1"),
        ("[1, 2]", "the machine profile is not schema 1"),
    ],
)
def test_a_bad_file_is_reported_and_changes_nothing(
    tmp_path: Path, text: str, problem: str
) -> None:
    environ: dict[str, str] = {}
    report = apply_machine_profile(write(tmp_path, text), environ)
    assert report["problem"].startswith(problem)
    assert environ == {}


def test_unreadable_file_is_reported(tmp_path: Path) -> None:
    directory = tmp_path / "machine-profile.json"
    directory.mkdir()
    report = apply_machine_profile(directory, {})
    assert report["problem"].startswith("cannot read the machine profile")


def test_nvml_gpus_reads_index_and_memory() -> None:
    nvml = FakeNvml.of("rtx4090", "t4")
    gpus, problem = nvml_gpus(nvml, {})
    assert gpus == [GpuFacts(0, 24564 * 1024**2), GpuFacts(1, 15360 * 1024**2)]
    assert problem is None
    assert nvml.initialised == 0


def test_evaluate_tuning_without_classes_ignores_gpus() -> None:
    tuned = evaluate_tuning({"worker_threads_per_cpu": 3, "omp_cpu_share": 0.25}, 8,
                            [GpuFacts(0, 80 * GIB)])  # fmt: skip
    assert tuned.env == {"AGENTDOCK_WORKER_THREADS": "24", "OMP_NUM_THREADS": "2"}
    assert tuned.gpu_class is None


def test_redetection_reads_the_cgroup_quota(tmp_path: Path) -> None:
    root = tmp_path / "cgroup"
    root.mkdir()
    (root / "cpu.max").write_text("100000 100000\n")
    self_cgroup = tmp_path / "self-cgroup"
    self_cgroup.write_text("0::/\n")
    path = write(tmp_path, build_time("auto", cpus=64))
    environ: dict[str, str] = {}
    apply_machine_profile(
        path, environ, nvml=FakeNvml([]), cgroup_root=root, self_cgroup=self_cgroup
    )
    assert environ == {"AGENTDOCK_WORKER_THREADS": "2", "OMP_NUM_THREADS": "1"}
