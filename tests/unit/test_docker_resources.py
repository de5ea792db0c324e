"""``deploy.resources`` quantities as Docker limits, and the target's pure helpers."""

from __future__ import annotations

import pytest
from agentdock.deployment.errors import InvalidDeployInput
from agentdock_plugins.docker.containerstate import container_state, docker_time
from agentdock_plugins.docker.hardening import image_owner, security_options
from agentdock_plugins.docker.publishing import bind_address
from agentdock_plugins.docker.resources import container_limits, cpu_to_nano, memory_to_bytes
from agentdock_plugins.docker.target import container_name
from hypothesis import given
from hypothesis import strategies as st


@pytest.mark.parametrize(
    ("cpu", "nano"),
    [
        ("500m", 500_000_000),
        ("1.5", 1_500_000_000),
        ("2", 2_000_000_000),
        ("1m", 1_000_000),
        (3, 3_000_000_000),
        ("0.25", 250_000_000),
    ],
)
def test_cpu(cpu: str | int, nano: int) -> None:
    assert cpu_to_nano(cpu) == nano


@pytest.mark.parametrize(
    ("memory", "size"),
    [
        ("512Mi", 512 * 2**20),
        ("1Gi", 2**30),
        ("64Ki", 64 * 1024),
        ("1G", 10**9),
        ("500M", 500 * 10**6),
        ("2K", 2000),
        ("1Ti", 2**40),
        ("1048576", 1048576),
    ],
)
def test_memory(memory: str, size: int) -> None:
    assert memory_to_bytes(memory) == size


@pytest.mark.parametrize("bad", ["", "1.5.2", "-1", "abc", "500u", "0", "0m", "1 cpu"])
def test_bad_cpu_is_invalid_input_with_its_path(bad: str) -> None:
    with pytest.raises(InvalidDeployInput) as failed:
        cpu_to_nano(bad)
    assert failed.value.path == "deploy.resources.cpu"
    assert failed.value.exit_code == 1


@pytest.mark.parametrize("bad", ["512MB", "1.5Gi", "Mi", "-5", "0", "0Gi", "12 Mi"])
def test_bad_memory_is_invalid_input_with_its_path(bad: str) -> None:
    with pytest.raises(InvalidDeployInput) as failed:
        memory_to_bytes(bad)
    assert failed.value.path == "deploy.resources.memory"


@given(st.integers(min_value=1, max_value=10**6))
def test_millicores_are_thousandths(milli: int) -> None:
    assert cpu_to_nano(f"{milli}m") * 1000 == cpu_to_nano(str(milli))


@given(st.integers(min_value=1, max_value=10**6), st.sampled_from(["Ki", "Mi", "Gi"]))
def test_binary_units_are_powers_of_two(n: int, unit: str) -> None:
    assert memory_to_bytes(f"{n}{unit}") == n * 2 ** (10 * ("KMG".index(unit[0]) + 1))


def test_container_limits() -> None:
    # Without deploy.resources a container still has a memory (no swap beyond it) and a
    # process limit.
    defaults = {"mem_limit": 2 * 2**30, "memswap_limit": 2 * 2**30, "pids_limit": 1024}
    assert container_limits(None) == defaults
    assert container_limits({}) == defaults
    assert container_limits({"gpu": 0}) == defaults
    assert container_limits({"cpu": "250m", "memory": "1Gi"}) == {
        "nano_cpus": 250_000_000,
        "mem_limit": 2**30,
        "memswap_limit": 2**30,
        "pids_limit": 1024,
    }
    limits = container_limits({"gpu": 2})
    assert limits["device_requests"][0]["Count"] == 2
    assert limits["device_requests"][0]["Capabilities"] == [["gpu"]]


def test_container_name() -> None:
    assert container_name("echo_agent", 7) == "agentdock-echo-agent-7"
    assert container_name("echo_agent", 7, "Acme Corp") == "agentdock-echo-agent-acme-corp-7"


@pytest.mark.parametrize(
    ("host", "bind"),
    [
        # Nobody asked: this machine only, as the local target listens and the deploy says.
        (None, "127.0.0.1"),
        ("", "127.0.0.1"),
        ("0.0.0.0", "0.0.0.0"),
        ("::", "0.0.0.0"),
        ("localhost", "127.0.0.1"),
        ("127.0.0.1", "127.0.0.1"),
        ("10.1.2.3", "10.1.2.3"),
    ],
)
def test_bind_address(host: str | None, bind: str) -> None:
    assert bind_address(host) == bind


def test_started_at_parses_nanoseconds_and_never_started() -> None:
    assert docker_time("2026-11-25T18:40:01.123456789Z") == pytest.approx(1795632001.123456)
    assert docker_time("2026-11-25T18:40:01Z") == pytest.approx(1795632001.0)
    assert docker_time("0001-01-01T00:00:00Z") is None
    assert docker_time(None) is None
    assert docker_time("garbage") is None


@pytest.mark.parametrize(
    ("state", "health", "expected"),
    [
        ({"Status": "running"}, None, "running"),
        ({"Status": "running"}, "healthy", "running"),
        ({"Status": "running"}, "unhealthy", "degraded"),
        ({"Status": "restarting"}, None, "degraded"),
        ({"Status": "exited", "ExitCode": 0}, None, "stopped"),
        # Docker gave up restarting it, or it died: nothing serves.
        ({"Status": "exited", "ExitCode": 1}, None, "down"),
        ({"Status": "dead"}, None, "down"),
        ({"Status": "created"}, None, "stopped"),
    ],
)
def test_state(state: dict[str, object], health: str | None, expected: str) -> None:
    assert container_state(state, health) == expected


def test_limits_win_over_requests_for_docker() -> None:
    out = container_limits({"cpu": "500m", "memory": "256Mi", "limits": {"cpu": "2"}})
    assert out["nano_cpus"] == 2 * 10**9 and out["mem_limit"] == 256 * 2**20


@pytest.mark.parametrize(
    ("user", "owner"),
    [("10001:10001", (10001, 10001)), ("10001", (10001, 10001)), ("", None), ("agentdock", None)],
)
def test_image_owner(user: str, owner: tuple[int, int] | None) -> None:
    assert image_owner({"User": user}) == owner


def test_security_options_leave_a_mounted_directory_to_its_volume() -> None:
    out = security_options((10001, 10001), ["/home/agentdock/"], {"io.agentdock.agent": "a"})
    assert out["cap_drop"] == ["ALL"] and out["security_opt"] == ["no-new-privileges"]
    assert out["read_only"] is True
    assert out["tmpfs"] == {"/tmp": "rw,nosuid,nodev,mode=1777"}
    (state,) = out["mounts"]
    assert (state["Target"], state["Type"], state["Source"]) == (
        "/var/lib/agentdock",
        "volume",
        None,
    )
    assert state["VolumeOptions"]["Labels"] == {"io.agentdock.agent": "a"}
    # The state directory mounted from elsewhere (the home); an image whose user is unknown
    # gets scratch directories anyone in it may write.
    other = security_options(None, ["/var/lib/agentdock"], {})
    assert other["mounts"] == []
    assert other["tmpfs"] == {
        "/tmp": "rw,nosuid,nodev,mode=1777",
        "/home/agentdock": "rw,nosuid,nodev,mode=1777",
    }
    owned = security_options((10001, 10001), [], {})["tmpfs"]["/home/agentdock"]
    assert owned == "rw,nosuid,nodev,uid=10001,gid=10001,mode=0700"
