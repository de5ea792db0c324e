"""The cpu and cuda hardware profiles: resolution, base images, tuned defaults, GPU requests."""

from __future__ import annotations

import json

import pytest
from agentdock.deployment.errors import InvalidDeployInput
from agentdock.plugins import make_plugin_manager
from agentdock.protocols import HardwareProfile
from agentdock.spec.models import BuildCfg, ResourcesCfg
from agentdock_plugins import hardware as hardware_plugin
from agentdock_plugins.hardware.defaults import (
    base_image_for,
    hardware_problem,
    hardware_problems,
    load_profiles,
    machine_profile,
    requested_gpus,
    resolve,
)
from agentdock_plugins.hardware.fakenvml import FakeNvml
from agentdock_plugins.hardware.probe import Probe, probe
from agentdock_plugins.hardware.profiles import (
    CpuProfile,
    CudaProfile,
    cuda_image_version,
    docker_device_requests,
)
from hypothesis import given
from hypothesis import strategies as st

GIB = 1024**3
CPU = CpuProfile()
CUDA = CudaProfile()


def machine(*models: str, cpus: int = 16, **nvml: object) -> Probe:
    """A probed machine with the named GPU models (see ``fakenvml.models``)."""
    return probe(
        nvml=FakeNvml.of(*models, **nvml),  # type: ignore[arg-type]
        environ={"PATH": "/nonexistent", "AGENTDOCK_NVIDIA_SMI": "off"},
        cpus=cpus,
        memory_bytes=64 * GIB,
    )


# -- registration -------------------------------------------------------------------------------


def test_plugin_registers_cpu_and_cuda_profiles() -> None:
    manager = make_plugin_manager()
    manager.register(hardware_plugin, name="hardware")
    try:
        registered = manager.registrations("hardware_profiles")
        assert set(registered) == {"cpu", "cuda"}
        profiles = load_profiles(manager)
        for name, profile in profiles.items():
            assert isinstance(profile, HardwareProfile)
            assert profile.name == name
    finally:
        manager.unregister("hardware")


# -- tuned defaults by GPU memory class ---------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "alloc", "workers", "omp", "gpu_class"),
    [
        ("h100", "max_split_size_mb:128", 32, 16, "40+ GiB"),
        ("a100-40", "max_split_size_mb:128", 32, 16, "40+ GiB"),
        # Seed 001 §D: the 4090 machine (16 cores) gets :64, cores x2 workers, 16 OpenMP.
        ("rtx4090", "max_split_size_mb:64", 32, 16, "20+ GiB"),
        ("a10g", "max_split_size_mb:64", 32, 16, "20+ GiB"),
        ("t4", "max_split_size_mb:32", 16, 8, "10+ GiB"),
        ("rtx3060", "max_split_size_mb:32", 16, 8, "10+ GiB"),
        ("rtx3080", "max_split_size_mb:32", 16, 8, "10+ GiB"),
        ("gtx1080", "max_split_size_mb:16", 16, 8, "under 10 GiB"),
    ],
)
def test_cuda_defaults_by_memory_class(
    model: str, alloc: str, workers: int, omp: int, gpu_class: str
) -> None:
    document = CUDA.tuned(machine(model, cpus=16))
    env = document["env"]
    assert env["PYTORCH_CUDA_ALLOC_CONF"] == alloc
    assert env["AGENTDOCK_WORKER_THREADS"] == str(workers)
    assert env["OMP_NUM_THREADS"] == str(omp)
    assert env["CUDA_VISIBLE_DEVICES"] == "0"
    assert env["CUDA_DEVICE_ORDER"] == "PCI_BUS_ID"
    assert document["gpu_class"] == gpu_class
    assert document["redetect"] is False


def test_seed_pc2_row_3060_with_8_cores() -> None:
    env = CUDA.tuned(machine("rtx3060", cpus=8))["env"]
    # Seed 001 §D, PC2: workers = cores (8), OMP_NUM_THREADS 4, max_split_size_mb:32.
    assert env["AGENTDOCK_WORKER_THREADS"] == "8"
    assert env["OMP_NUM_THREADS"] == "4"
    assert env["PYTORCH_CUDA_ALLOC_CONF"] == "max_split_size_mb:32"


def test_mixed_cards_take_the_smallest_class_and_list_every_gpu() -> None:
    env = CUDA.tuned(machine("rtx4090", "rtx3060", cpus=8))["env"]
    assert env["CUDA_VISIBLE_DEVICES"] == "0,1"
    assert env["PYTORCH_CUDA_ALLOC_CONF"] == "max_split_size_mb:32"


def test_cuda_built_without_a_gpu_asks_for_redetection() -> None:
    document = CUDA.tuned(machine(cpus=4))
    assert document["redetect"] is True
    assert document["gpu_class"] is None
    assert "CUDA_VISIBLE_DEVICES" not in document["env"]
    assert "PYTORCH_CUDA_ALLOC_CONF" not in document["env"]
    assert document["env"]["OMP_NUM_THREADS"] == "4"


def test_cpu_profile_sets_no_gpu_variables_even_on_a_gpu_machine() -> None:
    document = CPU.tuned(machine("rtx4090", cpus=6))
    assert document["env"] == {"AGENTDOCK_WORKER_THREADS": "12", "OMP_NUM_THREADS": "6"}
    assert document["redetect"] is False
    assert document["profile"] == "cpu"


def test_machine_profile_auto_carries_every_family_and_redetects() -> None:
    document = machine_profile({"hardware": "auto"}, machine("t4", cpus=4))
    assert document["hardware"] == "auto"
    assert document["profile"] == "cuda"
    assert document["redetect"] is True
    assert set(document["tuning"]) == {"cpu", "cuda"}
    assert json.loads(json.dumps(document)) == document


def test_machine_profile_explicit_cpu_is_fixed() -> None:
    document = machine_profile(BuildCfg(hardware="cpu"), machine("t4", cpus=4))
    assert (document["hardware"], document["profile"], document["redetect"]) == (
        "cpu",
        "cpu",
        False,
    )
    assert set(document["tuning"]) == {"cpu"}


memory_mib = st.integers(min_value=1024, max_value=200_000)


@given(cpus=st.integers(min_value=1, max_value=512), sizes=st.lists(memory_mib, max_size=8))
def test_defaults_stay_within_the_machine(cpus: int, sizes: list[int]) -> None:
    found = probe(
        nvml=FakeNvml(gpus=[(f"GPU {i}", size) for i, size in enumerate(sizes)]),
        environ={"PATH": "/nonexistent", "AGENTDOCK_NVIDIA_SMI": "off"},
        cpus=cpus,
        memory_bytes=GIB,
    )
    env = CUDA.tuned(found)["env"]
    assert 1 <= int(env["OMP_NUM_THREADS"]) <= cpus
    assert 1 <= int(env["AGENTDOCK_WORKER_THREADS"]) <= 2 * cpus
    if sizes:
        assert env["CUDA_VISIBLE_DEVICES"].split(",") == [str(i) for i in range(len(sizes))]
        assert env["PYTORCH_CUDA_ALLOC_CONF"].startswith("max_split_size_mb:")
    else:
        assert "CUDA_VISIBLE_DEVICES" not in env


@given(small=memory_mib, large=memory_mib)
def test_a_smaller_card_never_gets_a_larger_split_size(small: int, large: int) -> None:
    small, large = sorted((small, large))

    def split(size: int) -> int:
        found = probe(
            nvml=FakeNvml(gpus=[("x", size)]),
            environ={"PATH": "/nonexistent", "AGENTDOCK_NVIDIA_SMI": "off"},
            cpus=2,
            memory_bytes=GIB,
        )
        env = CUDA.tuned(found)["env"]
        return int(env["PYTORCH_CUDA_ALLOC_CONF"].rsplit(":", 1)[1])

    assert split(small) <= split(large)


# -- resolve ------------------------------------------------------------------------------------


def test_resolve_auto_follows_the_machine() -> None:
    assert resolve({"hardware": "auto"}, machine("rtx3060")).name == "cuda"
    assert resolve({"hardware": "auto"}, machine()).name == "cpu"
    assert resolve(None, None).name == "cpu"


def test_resolve_auto_with_a_gpu_request_is_cuda_anywhere() -> None:
    assert resolve(BuildCfg(), machine(), gpus=1).name == "cuda"
    assert resolve(BuildCfg(), None, gpus=2).name == "cuda"


def test_resolve_explicit_profile_wins_over_the_machine() -> None:
    assert resolve(BuildCfg(hardware="cpu"), machine("h100")).name == "cpu"
    assert resolve(BuildCfg(hardware="cuda"), machine()).name == "cuda"


def test_resolve_unknown_profile_is_invalid_input() -> None:
    with pytest.raises(InvalidDeployInput) as caught:
        resolve({"hardware": "cuda"}, None, profiles={"cpu": CPU})
    assert caught.value.path == "build.hardware"
    assert caught.value.exit_code == 1


def test_resolve_with_a_broken_third_party_detect_falls_back_to_cpu() -> None:
    class Broken(CudaProfile):
        name = "rocm"

        def detect(self, probe: object) -> bool:
            raise RuntimeError("boom")

    assert resolve({}, machine("t4"), profiles={"rocm": Broken(), "cpu": CPU}).name == "cpu"


def test_requested_gpus() -> None:
    assert requested_gpus(None, CPU) == 0
    assert requested_gpus(None, CUDA) == 1
    assert requested_gpus(ResourcesCfg(gpu=3), CUDA) == 3
    assert requested_gpus({"gpu": 0}, CUDA) == 0


# -- base images --------------------------------------------------------------------------------


def test_base_image_families() -> None:
    assert CPU.base_image("3.12") == "python:3.12-slim-bookworm"
    assert CUDA.base_image("3.11", "12.4") == "nvidia/cuda:12.4.1-runtime-ubuntu22.04"
    assert CUDA.base_image("3.11", "12.1") == "nvidia/cuda:12.1.1-runtime-ubuntu22.04"
    assert CUDA.base_image("3.11", "13.7") == "nvidia/cuda:13.7.0-runtime-ubuntu22.04"
    assert cuda_image_version("11.8.0") == "11.8.0"
    assert cuda_image_version(None) == "12.4.1"


def test_base_image_for_a_dockfile() -> None:
    cpu = base_image_for(BuildCfg(python_version="3.12"), CPU)
    assert (cpu.ref, cpu.overridden, cpu.bundles_python) == (
        "python:3.12-slim-bookworm",
        False,
        True,
    )
    cuda = base_image_for(BuildCfg(hardware="cuda", cuda_version="12.6"), CUDA)
    assert cuda.ref == "nvidia/cuda:12.6.3-runtime-ubuntu22.04"
    assert cuda.bundles_python is False, "the CUDA runtime images carry no Python"
    assert (cuda.python_version, cuda.cuda_version) == ("3.11", "12.6")
    mine = base_image_for(BuildCfg(hardware="cuda", base_image="corp/cuda-py:12.4"), CUDA)
    assert (mine.ref, mine.overridden, mine.bundles_python) == ("corp/cuda-py:12.4", True, None)


def test_platforms() -> None:
    assert CPU.platforms()[0] == "linux/amd64"
    assert "linux/arm64" in CUDA.platforms()


# -- problems -----------------------------------------------------------------------------------


def test_gpu_on_the_cpu_profile_is_a_problem() -> None:
    problem = hardware_problem(BuildCfg(hardware="cpu"), ResourcesCfg(gpu=1))
    assert problem is not None
    assert "deploy.resources.gpu asks for 1 GPU but build.hardware is cpu" in problem
    assert "\n" not in problem


def test_no_problem_when_asks_can_be_met() -> None:
    assert hardware_problem(BuildCfg(), None) is None
    assert hardware_problem(BuildCfg(hardware="cuda"), None) is None, "no probe: build anywhere"
    assert hardware_problem(BuildCfg(hardware="cuda"), ResourcesCfg(gpu=1), machine("t4")) is None
    assert hardware_problem(BuildCfg(), ResourcesCfg(gpu=0), machine()) is None


def test_cuda_on_a_machine_without_gpu_says_why() -> None:
    broken = probe(
        nvml=FakeNvml(init_error=2),  # NVML_ERROR_INVALID_ARGUMENT stands for any failure
        environ={"PATH": "/nonexistent"},
        cpus=2,
        memory_bytes=GIB,
    )
    problem = hardware_problem(BuildCfg(hardware="cuda"), None, broken)
    assert problem is not None
    assert problem.startswith("build.hardware is cuda but this machine has no GPU (nvml: ")
    assert "nvidia-smi: not found on PATH" in problem


def test_more_gpus_than_the_machine_has() -> None:
    problem = hardware_problem(BuildCfg(), ResourcesCfg(gpu=2), machine("rtx4090"))
    assert problem == "deploy.resources.gpu asks for 2 GPUs but this machine has 1"


def test_cuda_version_newer_than_the_driver() -> None:
    old_driver = machine("t4", cuda=12020, driver="535.104.05")
    problem = hardware_problem(BuildCfg(hardware="cuda", cuda_version="12.6"), None, old_driver)
    assert problem == (
        "build.cuda_version 12.6 needs a newer driver: this machine's driver 535.104.05 "
        "supports CUDA 12.2 at most"
    )
    assert (
        hardware_problem(BuildCfg(hardware="cuda", cuda_version="12.1"), None, old_driver) is None
    )


def test_unsupported_platform_is_a_problem() -> None:
    problems = hardware_problems(BuildCfg(hardware="cuda", platforms=["linux/s390x"]))
    assert problems == [
        "build.platforms linux/s390x not available for the cuda profile "
        "(it has linux/amd64, linux/arm64)"
    ]


# -- GPU requests -------------------------------------------------------------------------------


def test_cuda_gpu_request_for_docker_and_kubernetes() -> None:
    request = CUDA.gpu_request(2)
    assert request["count"] == 2
    assert request["docker"]["device_requests"] == [
        {"Driver": "", "Count": 2, "Capabilities": [["gpu"]]}
    ]
    kube = request["kubernetes"]
    assert kube["resources"] == {"limits": {"nvidia.com/gpu": "2"}}
    assert kube["nodeSelector"] == {"nvidia.com/gpu.present": "true"}
    assert kube["tolerations"] == [
        {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
    ]
    (device,) = docker_device_requests(request)
    assert device["Count"] == 2
    assert device["Capabilities"] == [["gpu"]]


def test_no_gpu_request_means_nothing_for_targets() -> None:
    assert CUDA.gpu_request(0) == {}
    assert CPU.gpu_request(0) == {}
    assert docker_device_requests({}) == []


def test_cpu_profile_refuses_gpu_requests() -> None:
    with pytest.raises(ValueError, match="serves no GPUs"):
        CPU.gpu_request(1)
    with pytest.raises(ValueError, match="negative"):
        CUDA.gpu_request(-1)
