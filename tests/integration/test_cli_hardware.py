"""``agentdock hardware`` as a subprocess: a fake ``nvidia-smi`` on PATH, NVML switched off.

``AGENTDOCK_NVML=off`` keeps a real GPU (or its absence) on the test machine from changing
the result; the fake ``nvidia-smi`` describes the machine instead.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from fake_smi import SMI_TWO_GPUS, fake_smi

BROKEN = "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver."


def _command() -> list[str]:
    return [sys.executable, "-m", "agentdock_cli", "hardware"]


def fake_bin(directory: Path, *, exit_code: int = 0) -> Path:
    return fake_smi(directory, SMI_TWO_GPUS, exit_code=exit_code, message=BROKEN)


def run(bin_dir: Path | None, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AGENTDOCK_NVIDIA_SMI", "OMP_", "CUDA_", "PYTORCH_"))
    }
    path = os.environ.get("PATH", os.defpath)
    environ["PATH"] = f"{bin_dir}{os.pathsep}{path}" if bin_dir else path
    environ["AGENTDOCK_NVML"] = "off"
    environ["AGENTDOCK_LOAD_PLUGINS"] = "hardware"
    environ.update(env)
    return subprocess.run(
        [*_command(), *args], capture_output=True, text=True, env=environ, timeout=120
    )


def test_json_with_two_gpus_from_nvidia_smi(tmp_path: Path) -> None:
    fake_bin(tmp_path / "bin")
    done = run(tmp_path / "bin", "--json")
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    detected = document["detected"]
    assert detected["source"] == "nvidia-smi"
    assert [g["name"] for g in detected["gpus"]] == [
        "NVIDIA GeForce RTX 4090",
        "NVIDIA GeForce RTX 3060",
    ]
    assert detected["driver_version"] == "550.54.14"
    assert detected["cuda_version"] == "12.4"
    assert detected["problems"] == ["nvml: disabled by AGENTDOCK_NVML=off"]
    assert document["profile"] == "cuda"
    assert document["base_image"] == "nvidia/cuda:12.4.1-runtime-ubuntu22.04"
    assert document["base_image_has_python"] is False
    assert document["gpu_class"] == "10+ GiB"
    defaults = document["defaults"]
    assert defaults["CUDA_VISIBLE_DEVICES"] == "0,1"
    assert defaults["PYTORCH_CUDA_ALLOC_CONF"] == "max_split_size_mb:32"
    assert int(defaults["OMP_NUM_THREADS"]) >= 1
    assert document["gpu_request"]["kubernetes"]["resources"]["limits"] == {"nvidia.com/gpu": "1"}
    assert document["problems"] == []


def test_human_output_names_gpus_and_defaults(tmp_path: Path) -> None:
    fake_bin(tmp_path / "bin")
    done = run(tmp_path / "bin")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "NVIDIA GeForce RTX 4090" in out
    assert "24.0 GiB" in out
    assert "driver 550.54.14, CUDA 12.4, via nvidia-smi" in out
    assert "Profile  cuda (build.hardware: auto), GPU class 10+ GiB" in out
    assert "PYTORCH_CUDA_ALLOC_CONF=max_split_size_mb:32" in out
    assert "(no Python in it)" in out


def test_no_gpu_anywhere_is_the_cpu_profile(tmp_path: Path) -> None:
    done = run(None, "--json", AGENTDOCK_NVIDIA_SMI="off")
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert document["profile"] == "cpu"
    assert document["base_image"] == "python:3.11-slim-bookworm"
    assert document["detected"]["gpus"] == []
    assert document["detected"]["problems"] == [
        "nvml: disabled by AGENTDOCK_NVML=off",
        "nvidia-smi: disabled by AGENTDOCK_NVIDIA_SMI=off",
    ]
    assert set(document["defaults"]) == {"AGENTDOCK_WORKER_THREADS", "OMP_NUM_THREADS"}
    assert document["gpu_request"] == {}


def test_broken_driver_says_why_and_warns_for_cuda(tmp_path: Path) -> None:
    fake_bin(tmp_path / "bin", exit_code=9)
    done = run(tmp_path / "bin", "--hardware", "cuda")
    assert done.returncode == 0, done.stderr
    assert "GPUs     none" in done.stdout
    assert f"nvidia-smi: exit 9: {BROKEN}" in done.stdout
    assert "warning: build.hardware is cuda but this machine has no GPU" in done.stdout


def test_environment_values_are_never_echoed(tmp_path: Path) -> None:
    planted = "planted-omp-value-5d1c"
    done = run(None, "--json", AGENTDOCK_NVIDIA_SMI="off", OMP_NUM_THREADS=planted)
    assert done.returncode == 0, done.stderr
    assert planted not in done.stdout + done.stderr
    assert json.loads(done.stdout)["overridden_by_environment"] == ["OMP_NUM_THREADS"]
    human = run(None, AGENTDOCK_NVIDIA_SMI="off", OMP_NUM_THREADS=planted)
    assert planted not in human.stdout + human.stderr
    assert "(set in the environment: kept)" in human.stdout


@pytest.mark.parametrize("value", ["gpu", ""])
def test_unknown_hardware_is_a_usage_error(value: str) -> None:
    done = run(None, "--hardware", value, AGENTDOCK_NVIDIA_SMI="off")
    assert done.returncode == 2
