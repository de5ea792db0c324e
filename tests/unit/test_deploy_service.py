"""The deploy service against in-process fake plugins: versions, gate, rollback, locks."""

from __future__ import annotations

import os
import re
import shutil
import socket
from pathlib import Path

import pytest
from agentdock.deployment import (
    BuildFailed,
    DeployInProgress,
    HealthGateFailed,
    InvalidDeployInput,
    NotFound,
    VersionConflict,
    cleanup,
    deploy,
    logs,
    rollback,
    status,
    stop,
    versions,
)
from agentdock.deployment.inputs import next_patch
from agentdock.registry import open_store
from hypothesis import given
from hypothesis import strategies as st

pytest_plugins = ("deploy_fixtures",)

SECRET = "s3cr3t-planted-value-7f1c"
_MODEL = "name: echo\n\nio_schema"
_MODEL_FROM_ENV = 'name: "${ECHO_MODEL}"\n\nio_schema'


def _edit(project: Path) -> None:
    graph = project / "echo" / "graph.py"
    graph.write_text(graph.read_text() + "\n# a one-line change\n")


def _deploy(project: Path, manager, **kw):
    kw.setdefault("check_imports", False)
    kw.setdefault("target", "fake")
    return deploy(project / "Dockfile.yaml", plugins=manager, **kw)


def test_first_deploy_records_version_artifact_and_active_deployment(project, fakes) -> None:
    manager, plugin = fakes
    d = _deploy(project, manager)
    assert (d.agent, d.version, d.status, d.new_version) == ("echo", "0.1.0", "active", True)
    assert d.endpoint == f"http://127.0.0.1:{9000 + d.deployment_id}"
    assert d.api_key and d.api_key.startswith("adk_")  # api_key mode: first key, shown once
    with open_store() as store:
        (version,) = store.list_versions("echo")
        assert version.content_hash and "name: echo" in version.snapshot
        assert store.active_deployment("echo").id == d.deployment_id
        (key,) = store.list_api_keys("echo")
        assert key.hashed_key != d.api_key and d.api_key not in key.hashed_key
    assert plugin.log == [("build", "0.1.0"), ("start", "0.1.0")]


def test_same_content_again_is_a_noop(project, fakes) -> None:
    manager, plugin = fakes
    first = _deploy(project, manager)
    again = _deploy(project, manager)
    assert again.noop and again.version == first.version
    assert again.deployment_id == first.deployment_id
    assert again.api_key is None
    assert [e for e in plugin.log if e[0] == "build"] == [("build", "0.1.0")]


def test_changed_code_is_the_next_patch_and_supersedes(project, fakes) -> None:
    manager, plugin = fakes
    v1 = _deploy(project, manager)
    _edit(project)
    v2 = _deploy(project, manager)
    assert v2.version == "0.1.1" and v2.previous_version == "0.1.0"
    assert ("stop", v1.deployment_id) in plugin.log  # the old runtime stopped after the switch
    with open_store() as store:
        states = {d.id: d.status for d in store.list_deployments("echo")}
    assert states == {v1.deployment_id: "superseded", v2.deployment_id: "active"}


def test_same_version_other_content_is_refused_and_records_nothing(project, fakes) -> None:
    manager, plugin = fakes
    _deploy(project, manager, version="1.0.0")
    _edit(project)
    with pytest.raises(VersionConflict) as info:
        _deploy(project, manager, version="1.0.0")
    assert info.value.exit_code == 1 and "immutable" in (info.value.hint or "")
    with open_store() as store:
        assert [v.version for v in store.list_versions("echo")] == ["1.0.0"]
        assert len(store.list_deployments("echo")) == 1
    assert [e for e in plugin.log if e[0] == "build"] == [("build", "1.0.0")]


def test_metadata_version_is_used(project, fakes) -> None:
    manager, _ = fakes
    dockfile = project / "Dockfile.yaml"
    text = dockfile.read_text().replace("metadata:\n", "metadata:\n  version: 2.3.4\n")
    dockfile.write_text(text)
    assert _deploy(project, manager).version == "2.3.4"


@pytest.mark.parametrize("bad", ["", "-x", "a b", "v/1", "x" * 65])
def test_malformed_version_strings_are_refused(project, fakes, bad: str) -> None:
    manager, _ = fakes
    with pytest.raises(InvalidDeployInput) as info:
        _deploy(project, manager, version=bad or "..")
    assert info.value.exit_code == 1


def test_failed_gate_keeps_the_previous_version_serving(project, fakes) -> None:
    manager, plugin = fakes
    v1 = _deploy(project, manager)
    _edit(project)
    plugin.target.fail_gate = "the runtime exited with 78 during start-up"
    with pytest.raises(HealthGateFailed) as info:
        _deploy(project, manager)
    assert info.value.exit_code == 4 and info.value.log_tail == ["[FATAL] boom"]
    with open_store() as store:
        active = store.active_deployment("echo")
        failed = store.list_deployments("echo", statuses=["failed"])
    assert active.id == v1.deployment_id
    assert len(failed) == 1 and "78" in failed[0].detail
    assert set(plugin.target.running) == {v1.deployment_id}  # the new runtime was stopped


def _calls(plugin, since: int = 0) -> list[tuple[str, object]]:
    return [e for e in plugin.log[since:] if e[0] in {"start", "promote", "stop"}]


def test_promote_comes_after_the_gate_and_before_the_previous_one_stops(project, fakes) -> None:
    manager, plugin = fakes
    v1 = _deploy(project, manager, target="fake-promote")
    _edit(project)
    mark = len(plugin.log)
    v2 = _deploy(project, manager, target="fake-promote")
    assert _calls(plugin, mark) == [
        ("start", "0.1.1"),
        ("promote", v2.deployment_id),
        ("stop", v1.deployment_id),
    ]
    mark = len(plugin.log)
    back = rollback("echo", plugins=manager)
    assert _calls(plugin, mark) == [
        ("start", "0.1.0"),
        ("promote", back.deployment_id),
        ("stop", v2.deployment_id),
    ]
    # A target without promote: started, gated, activated, as before.
    _edit(project)
    mark = len(plugin.log)
    v4 = _deploy(project, manager)
    assert [e[0] for e in _calls(plugin, mark)] == ["start", "stop"]
    assert status("echo", plugins=manager)["deployment_id"] == v4.deployment_id


def test_a_failed_gate_never_promotes_and_a_failed_promote_fails_like_a_gate(
    project, fakes
) -> None:
    manager, plugin = fakes
    v1 = _deploy(project, manager, target="fake-promote")
    _edit(project)
    plugin.promoting.fail_gate = "no /ready"
    mark = len(plugin.log)
    with pytest.raises(HealthGateFailed):
        _deploy(project, manager, target="fake-promote")
    assert "promote" not in [e[0] for e in plugin.log[mark:]]
    plugin.promoting.fail_gate = None
    plugin.promoting.fail_promote = "the runtime did not take the address over"
    with pytest.raises(HealthGateFailed) as info:
        _deploy(project, manager, target="fake-promote")
    assert info.value.exit_code == 4 and info.value.log_tail == ["did not take over"]
    with open_store() as store:
        active = store.active_deployment("echo")
        failed = store.list_deployments("echo", statuses=["failed"])
    assert active.id == v1.deployment_id  # the previous one is untouched, still active
    assert [f.detail for f in failed][-1] == "the runtime did not take the address over"
    assert set(plugin.promoting.running) == {v1.deployment_id}  # the new one was stopped


def test_a_superseded_deployment_is_retired_and_a_failed_one_stopped(project, fakes) -> None:
    manager, plugin = fakes
    v1 = _deploy(project, manager, target="fake-retire")
    _edit(project)
    said: list[tuple[str, str]] = []
    v2 = _deploy(
        project, manager, target="fake-retire", progress=lambda s, m, **_: said.append((s, m))
    )
    assert ("retire", v1.deployment_id) in plugin.log  # it may keep something for a rollback
    # The retire step says what the target did with it, not that it was stopped.
    assert ("retire", "the previous deployment (0.1.0) stands by (fake)") in said, said
    assert v2.runtime_start == "cold" and v2.to_json()["runtime_start"] == "cold"
    assert ("stop", v1.deployment_id) not in plugin.log
    _edit(project)
    plugin.retiring.fail_gate = "no /ready"
    mark = len(plugin.log)
    with pytest.raises(HealthGateFailed):
        _deploy(project, manager, target="fake-retire")
    (failed,) = [e for e in plugin.log[mark:] if e[0] in {"stop", "retire"}]
    assert failed[0] == "stop" and failed[1] != v2.deployment_id  # a failed start is stopped
    plugin.retiring.fail_gate = None
    stop("echo", plugins=manager)
    assert plugin.log[-1] == ("stop", v2.deployment_id)  # ``stop`` never retires


def test_rollback_redeploys_the_previous_artifact_without_building(project, fakes) -> None:
    manager, plugin = fakes
    _deploy(project, manager)
    _edit(project)
    _deploy(project, manager)
    builds = sum(1 for e in plugin.log if e[0] == "build")
    back = rollback("echo", plugins=manager)
    assert (back.version, back.reason, back.previous_version) == ("0.1.0", "rollback", "0.1.1")
    assert sum(1 for e in plugin.log if e[0] == "build") == builds
    assert status("echo", plugins=manager)["version"] == "0.1.0"
    forward = rollback("echo", "0.1.1", plugins=manager)
    assert forward.version == "0.1.1"
    with open_store() as store:
        actions = [e.action for e in store.list_audit(agent="echo")]
    assert "rollback.activate" in actions and actions.count("deploy.activate") == 2


def test_rollback_bad_inputs(project, fakes) -> None:
    manager, _ = fakes
    with pytest.raises(NotFound) as info:
        rollback("nobody", plugins=manager)
    assert info.value.exit_code == 5
    _deploy(project, manager)
    with pytest.raises(NotFound):
        rollback("echo", plugins=manager)  # nothing earlier
    with pytest.raises(NotFound) as info:
        rollback("echo", "9.9.9", plugins=manager)
    assert "9.9.9" in info.value.cause


def test_rollback_to_a_removed_artifact_is_not_found(project, fakes) -> None:
    manager, _ = fakes
    v1 = _deploy(project, manager)
    _edit(project)
    _deploy(project, manager)
    shutil.rmtree(v1.artifact.ref)
    with pytest.raises(NotFound) as info:
        rollback("echo", plugins=manager)
    assert "gone" in info.value.cause


def test_invalid_dockfile_builds_and_records_nothing(project, fakes) -> None:
    manager, plugin = fakes
    (project / "Dockfile.yaml").write_text("version: '1.1'\nagent: {name: X}\n")
    with pytest.raises(InvalidDeployInput) as info:
        _deploy(project, manager)
    assert info.value.exit_code == 1
    assert plugin.log == []
    with open_store() as store:
        assert store.list_agents() == []


def test_a_plugin_of_the_deploys_own_manager_satisfies_the_plugins_block(
    project, fakes, monkeypatch
) -> None:
    """A policy registered only in the manager given to deploy() is accepted (and rolled
    back to); a name neither it nor the installed plugins register is still 4011."""
    from agentdock import make_plugin_manager
    from policy_plugin import PLUGINS_BLOCK, PolicyPlugin

    _, plugin = fakes
    manager = make_plugin_manager(plugins=[("fake", plugin), ("shout-plugin", PolicyPlugin())])
    monkeypatch.setenv("SECRET_WORD", SECRET)
    dockfile = project / "Dockfile.yaml"
    dockfile.write_text(dockfile.read_text() + PLUGINS_BLOCK)
    first = _deploy(project, manager, check_imports=True)
    assert first.status == "active"
    _edit(project)
    assert _deploy(project, manager).version == "0.1.1"
    assert rollback("echo", plugins=manager).version == "0.1.0"
    dockfile.write_text(dockfile.read_text() + "  not-registered: {}\n")
    with pytest.raises(InvalidDeployInput) as info:
        _deploy(project, manager)
    assert "4011" in info.value.cause and "not-registered" in info.value.cause
    assert SECRET not in str(info.value)


def test_a_broken_entrypoint_is_refused_before_building(project, fakes) -> None:
    manager, plugin = fakes
    (project / "echo" / "graph.py").write_text("raise RuntimeError('broken at import')\n")
    with pytest.raises(InvalidDeployInput) as info:
        _deploy(project, manager, check_imports=True)
    assert info.value.exit_code == 1 and "entrypoint" in info.value.cause.lower()
    assert plugin.log == []


def test_missing_dockfile_is_not_found(tmp_path, fakes) -> None:
    manager, _ = fakes
    with pytest.raises(NotFound):
        deploy(tmp_path / "nope.yaml", target="fake", plugins=manager)


def test_unknown_target_lists_the_known_ones(project, fakes) -> None:
    manager, _ = fakes
    with pytest.raises(InvalidDeployInput) as info:
        deploy(project / "Dockfile.yaml", target="moon", plugins=manager)
    assert "fake" in info.value.cause


def test_build_failure_records_nothing(project, fakes) -> None:
    manager, plugin = fakes
    plugin.builder.fail_with = "cannot resolve no-such-package"
    with pytest.raises(BuildFailed) as info:
        _deploy(project, manager)
    assert info.value.exit_code == 3
    with open_store() as store:
        assert store.list_versions("echo") == []
        assert store.list_deployments("echo") == []


def test_a_held_lock_fails_clearly_and_a_dead_holder_is_taken_over(project, fakes) -> None:
    manager, _ = fakes
    with open_store() as store:
        store.acquire_lock("echo", "", holder="ci", pid=os.getppid(), host=socket.gethostname())
    with pytest.raises(DeployInProgress) as info:
        _deploy(project, manager)
    assert info.value.exit_code == 4 and "in progress" in info.value.cause
    # When, as this machine's local time and an age; never a raw epoch.
    assert re.search(r" since \d{4}-\d\d-\d\d \d\d:\d\d:\d\d \(\d+ s ago\)", info.value.cause)
    assert not re.search(r"since \d{9,}", info.value.cause), info.value.cause
    with open_store() as store:
        store.release_lock("echo", "", pid=os.getppid(), host=socket.gethostname())
        store.acquire_lock("echo", "", holder="ci", pid=2**22 + 12345, host=socket.gethostname())
    assert _deploy(project, manager).status == "active"


def test_an_interrupted_deploy_is_closed_by_the_next(project, fakes) -> None:
    manager, plugin = fakes
    _deploy(project, manager)
    with open_store() as store:
        version = store.list_versions("echo")[0]
        pending = store.create_deployment(version_id=version.id, artifact_id=None, target="fake")
        store.set_deployment_handle(pending.id, {"id": pending.id}, None)
    _edit(project)
    _deploy(project, manager)
    with open_store() as store:
        record = store.get_deployment(pending.id)
        assert record.status == "failed" and "interrupted" in record.detail
        assert len(store.list_deployments("echo", statuses=["active"])) == 1
    assert ("stop", pending.id) in plugin.log


def test_secrets_reach_the_target_but_never_the_registry(project, fakes, monkeypatch) -> None:
    manager, plugin = fakes
    dockfile = project / "Dockfile.yaml"
    dockfile.write_text(dockfile.read_text().replace(_MODEL, _MODEL_FROM_ENV))
    (project / ".env").write_text(f"ECHO_MODEL={SECRET}\n")
    d = _deploy(project, manager)
    assert plugin.target.envs[d.deployment_id]["ECHO_MODEL"] == SECRET
    with open_store() as store:
        assert "${ECHO_MODEL}" in store.list_versions("echo")[0].snapshot
    for path in Path(os.environ["AGENTDOCK_HOME"]).rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path
    assert SECRET not in repr(d) and SECRET not in str(d.to_json())


def test_the_target_gets_only_what_the_dockfile_references(project, fakes, monkeypatch) -> None:
    """Nothing of the deploying shell but the Dockfile's variables (and the names of those
    whose values logs must mask) reaches a target's StartRequest."""
    manager, plugin = fakes
    dockfile = project / "Dockfile.yaml"
    dockfile.write_text(dockfile.read_text().replace(_MODEL, _MODEL_FROM_ENV))
    monkeypatch.setenv("UNRELATED_TOKEN", "shell-only-value-31d9")
    monkeypatch.setenv("ECHO_MODEL", SECRET)
    d = _deploy(project, manager)
    env = plugin.target.envs[d.deployment_id]
    assert env == {
        "ECHO_MODEL": SECRET,
        "AGENTDOCK_SECRET_NAMES": "ECHO_MODEL",
        "AGENTDOCK_VERSION": d.version,
    }


def test_the_bind_address_is_asked_for_only_by_host_or_the_dockfile(
    project, fakes, tmp_path
) -> None:
    manager, plugin = fakes
    first = _deploy(project, manager)
    assert plugin.target.hosts[first.deployment_id] is None  # the target's default
    same = _deploy(project, manager, host="0.0.0.0")  # same content, asked for more
    assert not same.noop and plugin.target.hosts[same.deployment_id] == "0.0.0.0"
    assert _deploy(project, manager, host="0.0.0.0").noop
    _edit(project)
    wide = _deploy(project, manager, host="0.0.0.0")
    assert plugin.target.hosts[wide.deployment_id] == "0.0.0.0"
    back = rollback("echo", "0.1.0", plugins=manager)  # keeps the --host it was given
    assert plugin.target.hosts[back.deployment_id] == "0.0.0.0"
    dockfile = project / "Dockfile.yaml"
    dockfile.write_text(
        dockfile.read_text().replace("  port: 8080", "  port: 8080\n  host: 10.1.2.3")
    )
    written = _deploy(project, manager)
    assert plugin.target.hosts[written.deployment_id] == "10.1.2.3"
    with pytest.raises(InvalidDeployInput) as info:
        _deploy(project, manager, host="  ")
    assert info.value.path == "--host"


def test_env_file_wins_over_dotenv_and_environment(project, fakes, monkeypatch, tmp_path) -> None:
    manager, plugin = fakes
    dockfile = project / "Dockfile.yaml"
    dockfile.write_text(dockfile.read_text().replace(_MODEL, _MODEL_FROM_ENV))
    (project / ".env").write_text("ECHO_MODEL=from-dotenv\n")
    monkeypatch.setenv("ECHO_MODEL", "from-environ")
    tenant = tmp_path / "tenant.env"
    tenant.write_text("ECHO_MODEL=from-env-file\n")
    d = _deploy(project, manager, env_files=[tenant])
    assert plugin.target.envs[d.deployment_id]["ECHO_MODEL"] == "from-env-file"
    with pytest.raises(InvalidDeployInput):
        _deploy(project, manager, env_files=[tmp_path / "missing.env"])


def test_status_versions_logs_stop_and_cleanup(project, fakes) -> None:
    manager, plugin = fakes
    for _ in range(4):
        _deploy(project, manager)
        _edit(project)
    info = status("echo", plugins=manager)
    assert (info["version"], info["health"], info["healthy"]) == ("0.1.3", "running", True)
    rows = versions("echo", plugins=manager)
    assert [r["version"] for r in rows] == ["0.1.0", "0.1.1", "0.1.2", "0.1.3"]
    assert [r["active"] for r in rows] == [False, False, False, True]
    assert list(logs("echo", tail=2, plugins=manager)) == ["line 3", "line 4"]
    removed = cleanup("echo", keep=0, plugins=manager)["removed"]
    # the active (0.1.3) and the previous (0.1.2) versions are always kept
    assert sorted(r["ref"] for r in removed) == sorted(r["artifacts"][0]["ref"] for r in rows[:2])
    assert not any(Path(r["ref"]).exists() for r in removed)
    stopped = stop("echo", plugins=manager)
    assert stopped["status"] == "stopped" and plugin.target.running == {}
    assert stopped["already_stopped"] is False
    again = stop("echo", plugins=manager)  # nothing runs: said, not an error
    assert again["already_stopped"] is True and again["version"] == "0.1.3"
    with pytest.raises(NotFound):
        stop("ghost", plugins=manager)
    assert status("echo", plugins=manager)["status"] == "stopped"
    with pytest.raises(NotFound):
        status("ghost", plugins=manager)


def test_bad_instance_names_are_refused(project, fakes) -> None:
    manager, _ = fakes
    for bad in ("UPPER", "-x", "a_b", "x" * 40):
        with pytest.raises(InvalidDeployInput):
            _deploy(project, manager, instance=bad)


def test_instances_have_their_own_active_deployment(project, fakes) -> None:
    manager, _ = fakes
    a = _deploy(project, manager, instance="acme")
    b = _deploy(project, manager, instance="globex")
    assert a.deployment_id != b.deployment_id and not b.noop
    assert status("echo", instance="acme", plugins=manager)["instance"] == "acme"


@given(st.lists(st.tuples(st.integers(0, 99), st.integers(0, 99), st.integers(0, 99)), max_size=8))
def test_next_patch_is_above_every_semver(triples) -> None:
    texts = [f"{a}.{b}.{c}" for a, b, c in triples] + ["latest", "v-x"]
    nxt = tuple(int(p) for p in next_patch(texts).split("."))
    assert all(nxt > t for t in triples)
    assert next_patch(["latest"]) == "0.1.0"


def test_new_key_issues_a_fresh_key_even_on_a_noop(project, fakes) -> None:
    manager, _ = fakes
    first = _deploy(project, manager)
    again = _deploy(project, manager, new_key=True)
    assert again.noop and again.api_key and again.api_key != first.api_key
    with open_store() as store:
        keys = store.list_api_keys("echo")
        reasons = [e.details.get("reason") for e in store.list_audit(agent="echo")]
    assert len(keys) == 2 and "requested at deploy" in reasons
    assert all(again.api_key not in k.hashed_key for k in keys)


# -- per-tenant instances -------------------------------------------------------------------


def _tenant_project(project: Path, tmp_path: Path, tenants: dict[str, str]) -> dict[str, Path]:
    dockfile = project / "Dockfile.yaml"
    text = dockfile.read_text().replace(_MODEL, _MODEL_FROM_ENV)
    dockfile.write_text(text.replace("port: 8080", "port: ${ECHO_PORT:-8080}"))
    files = {}
    for name, body in tenants.items():
        files[name] = tmp_path / f"{name}.env"
        files[name].write_text(body)
    return files


def test_an_instance_missing_a_required_variable_starts_nothing(project, fakes, tmp_path) -> None:
    manager, plugin = fakes
    files = _tenant_project(project, tmp_path, {"acme": "OTHER=1\n"})
    with pytest.raises(InvalidDeployInput) as info:
        _deploy(project, manager, instance="acme", env_files=[files["acme"]])
    assert "missing required environment variables: ECHO_MODEL" in info.value.cause
    assert "instance acme" in info.value.findings[0].hint
    assert info.value.exit_code == 1 and plugin.log == []


def test_two_instances_asking_for_the_same_port_are_refused(project, fakes, tmp_path) -> None:
    manager, _ = fakes
    files = _tenant_project(
        project,
        tmp_path,
        {"acme": "ECHO_MODEL=a\nECHO_PORT=9100\n", "globex": "ECHO_MODEL=g\nECHO_PORT=9100\n"},
    )
    _deploy(project, manager, instance="acme", env_files=[files["acme"]])
    with pytest.raises(InvalidDeployInput) as info:
        _deploy(project, manager, instance="globex", env_files=[files["globex"]])
    assert "acme" in info.value.cause and "9100" in info.value.cause


def test_instances_get_their_own_env_and_roll_out_one_at_a_time(
    project, fakes, tmp_path, monkeypatch
) -> None:
    from agentdock.deployment import deploy_instances, instances

    manager, plugin = fakes
    monkeypatch.delenv("ECHO_MODEL", raising=False)
    files = _tenant_project(
        project,
        tmp_path,
        {"acme": "ECHO_MODEL=acme-model\n", "globex": "ECHO_MODEL=globex-model\n"},
    )
    first = {
        name: _deploy(project, manager, instance=name, env_files=[path])
        for name, path in files.items()
    }
    assert plugin.target.envs[first["acme"].deployment_id]["ECHO_MODEL"] == "acme-model"
    assert plugin.target.envs[first["globex"].deployment_id]["AGENTDOCK_INSTANCE"] == "globex"
    # Each instance got its own first key, scoped to it.
    with open_store() as store:
        scopes = sorted(k.instance for k in store.list_api_keys("echo"))
    assert scopes == ["acme", "globex"] and first["acme"].api_key != first["globex"].api_key
    rows = instances("echo", plugins=manager)
    assert [(r["instance"], r["version"]) for r in rows] == [("acme", "0.1.0"), ("globex", "0.1.0")]

    _edit(project)
    done = deploy_instances(project / "Dockfile.yaml", plugins=manager, check_imports=False)
    assert [(d.instance, d.version) for d in done] == [("acme", "0.1.1"), ("globex", "0.1.1")]
    starts = [e for e in plugin.log if e[0] == "start"]
    assert starts[-2:] == [("start", "0.1.1"), ("start", "0.1.1")]
    assert plugin.target.envs[done[1].deployment_id]["ECHO_MODEL"] == "globex-model"

    # A rollback of one instance keeps its own env file.
    back = rollback("echo", instance="globex", plugins=manager)
    assert plugin.target.envs[back.deployment_id]["ECHO_MODEL"] == "globex-model"
    assert status("echo", instance="acme", plugins=manager)["version"] == "0.1.1"


def test_a_rollout_checks_every_instance_first_and_stops_at_the_first_failure(
    project, fakes, tmp_path, monkeypatch
) -> None:
    from agentdock.deployment import deploy_instances

    manager, plugin = fakes
    monkeypatch.delenv("ECHO_MODEL", raising=False)
    files = _tenant_project(
        project,
        tmp_path,
        {"a": "ECHO_MODEL=1\n", "b": "ECHO_MODEL=2\n", "c": "ECHO_MODEL=3\n"},
    )
    for name, path in files.items():
        _deploy(project, manager, instance=name, env_files=[path])
    _edit(project)
    files["c"].write_text("NOTHING=1\n")  # c lost its variable: nothing may start
    starts = len([e for e in plugin.log if e[0] == "start"])
    with pytest.raises(InvalidDeployInput) as info:
        deploy_instances(project / "Dockfile.yaml", plugins=manager, check_imports=False)
    assert "instance c" in info.value.cause and "ECHO_MODEL" in info.value.cause
    assert len([e for e in plugin.log if e[0] == "start"]) == starts
    files["c"].write_text("ECHO_MODEL=3\n")

    calls = {"n": 0}
    original = plugin.target.wait_ready

    def second_fails(handle, timeout, progress):
        calls["n"] += 1
        if calls["n"] == 2:
            raise HealthGateFailed("b never became ready")
        original(handle, timeout, progress)

    plugin.target.wait_ready = second_fails
    with pytest.raises(HealthGateFailed) as info:
        deploy_instances(project / "Dockfile.yaml", plugins=manager, check_imports=False)
    assert "instance b" in info.value.cause and "rolled out before it: a" in info.value.cause
    versions_now = {n: status("echo", instance=n, plugins=manager)["version"] for n in "abc"}
    assert versions_now == {"a": "0.1.1", "b": "0.1.0", "c": "0.1.0"}


def test_rollback_reads_the_projects_env_from_anywhere(project, fakes, tmp_path, monkeypatch):
    manager, plugin = fakes
    monkeypatch.delenv("ECHO_MODEL", raising=False)
    dockfile = project / "Dockfile.yaml"
    dockfile.write_text(dockfile.read_text().replace(_MODEL, _MODEL_FROM_ENV))
    (project / ".env").write_text("ECHO_MODEL=from-the-project\n")
    _deploy(project, manager)
    _edit(project)
    _deploy(project, manager)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    back = rollback("echo", plugins=manager)
    assert plugin.target.envs[back.deployment_id]["ECHO_MODEL"] == "from-the-project"


def test_a_rebuilt_artifact_of_the_same_version_replaces_the_old_one(project, fakes) -> None:
    manager, plugin = fakes
    first = _deploy(project, manager)
    stop("echo", plugins=manager)
    # A new builder input (say, a new AgentDock) gives the same version a new artifact.
    original = plugin.builder.build

    def salted(request, progress):
        artifact = original(request, progress)
        moved = Path(artifact.ref + "-rebuilt")
        Path(artifact.ref).rename(moved)
        return type(artifact)("fake", str(moved), artifact.digest + "1", details={})

    plugin.builder.build = salted
    second = _deploy(project, manager)
    assert second.version == first.version and second.artifact.ref != first.artifact.ref
    with open_store() as store:
        (artifact,) = store.list_artifacts("echo")
    assert artifact.ref == second.artifact.ref
    assert not Path(first.artifact.ref).exists() and Path(second.artifact.ref).exists()


# -- required variables: checked before anything is built or recorded ---------------------

_TWO_FROM_ENV = 'name: "${ECHO_MODEL}"\n  endpoint: "${ECHO_ENDPOINT}"\n\nio_schema'


def _nothing_built_or_recorded(home: Path, plugin, opened: bool = True) -> None:
    assert (home / "registry.db").exists() is opened
    assert [e for e in plugin.log if e[0] in {"build", "start"}] == []
    assert not (home / "fake-bundles").exists()
    assert not (home / "bundles").exists()
    with open_store() as store:
        assert store.list_versions("echo") == []
        assert store.list_deployments("echo") == []


def _missing(info) -> tuple[set[int], set[str]]:
    findings = info.value.findings
    return {f.code for f in findings}, {f.message.rsplit(" ", 1)[-1] for f in findings}


@pytest.mark.parametrize("instance", [None, "acme"])
def test_a_missing_variable_is_refused_before_building(
    project, fakes, home, monkeypatch, instance
) -> None:
    manager, plugin = fakes
    monkeypatch.delenv("ECHO_MODEL", raising=False)
    monkeypatch.delenv("ECHO_ENDPOINT", raising=False)
    dockfile = project / "Dockfile.yaml"
    dockfile.write_text(dockfile.read_text().replace(_MODEL, _TWO_FROM_ENV))
    with pytest.raises(InvalidDeployInput) as info:
        _deploy(project, manager, instance=instance, check_imports=True)
    assert info.value.exit_code == 1
    assert "4001" in info.value.cause and "ECHO_ENDPOINT, ECHO_MODEL" in info.value.cause
    assert _missing(info) == ({4001}, {"ECHO_MODEL", "ECHO_ENDPOINT"})
    assert all(f.line for f in info.value.findings)  # where the Dockfile uses them
    document = info.value.to_json()
    assert [f["code"] for f in document["findings"]] == [4001, 4001]
    assert "--env-file" in info.value.findings[0].hint
    _nothing_built_or_recorded(home, plugin, opened=False)  # not even a registry is made


def test_a_rollback_to_a_version_needing_an_unset_variable_starts_nothing(
    project, fakes, monkeypatch
) -> None:
    """The old version's snapshot names a variable nobody sets any more."""
    manager, plugin = fakes
    monkeypatch.delenv("ECHO_MODEL", raising=False)
    dockfile = project / "Dockfile.yaml"
    original = dockfile.read_text()
    dockfile.write_text(original.replace(_MODEL, _MODEL_FROM_ENV))
    (project / ".env").write_text("ECHO_MODEL=from-the-project\n")
    _deploy(project, manager)
    dockfile.write_text(original)
    (project / ".env").unlink()
    current = _deploy(project, manager)
    starts = len([e for e in plugin.log if e[0] == "start"])
    with pytest.raises(InvalidDeployInput) as info:
        rollback("echo", "0.1.0", plugins=manager)
    assert info.value.exit_code == 1 and "ECHO_MODEL" in info.value.cause
    assert _missing(info) == ({4001}, {"ECHO_MODEL"})
    assert len([e for e in plugin.log if e[0] == "start"]) == starts
    with open_store() as store:
        assert [d.id for d in store.list_deployments("echo")][-1] == current.deployment_id
        assert store.active_deployment("echo").id == current.deployment_id


def test_every_instance_missing_a_variable_is_named_with_its_findings(
    project, fakes, tmp_path, monkeypatch
) -> None:
    from agentdock.deployment import deploy_instances

    manager, plugin = fakes
    monkeypatch.delenv("ECHO_MODEL", raising=False)
    files = _tenant_project(project, tmp_path, {"a": "ECHO_MODEL=1\n", "b": "ECHO_MODEL=2\n"})
    for name, path in files.items():
        _deploy(project, manager, instance=name, env_files=[path])
    _edit(project)
    for path in files.values():
        path.write_text("NOTHING=1\n")
    builds = len([e for e in plugin.log if e[0] == "build"])
    with pytest.raises(InvalidDeployInput) as info:
        deploy_instances(project / "Dockfile.yaml", plugins=manager, check_imports=False)
    assert "instance a" in info.value.cause and "instance b" in info.value.cause
    assert _missing(info) == ({4001}, {"ECHO_MODEL"}) and len(info.value.findings) == 2
    assert len([e for e in plugin.log if e[0] == "build"]) == builds


@pytest.mark.parametrize("target", ["docker", "kubernetes"])
def test_container_targets_check_variables_before_building(
    project, home, monkeypatch, target
) -> None:
    """Nothing reaches the Docker engine or a cluster: no builder or target is even made."""
    from agentdock import make_plugin_manager
    from agentdock_plugins import docker as docker_plugin
    from agentdock_plugins import kubernetes as k8s_plugin

    monkeypatch.delenv("ECHO_MODEL", raising=False)
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    monkeypatch.setenv("KUBECONFIG", str(home / "absent"))
    dockfile = project / "Dockfile.yaml"
    dockfile.write_text(dockfile.read_text().replace(_MODEL, _MODEL_FROM_ENV))
    manager = make_plugin_manager(plugins=[("docker", docker_plugin), ("k8s", k8s_plugin)])
    with pytest.raises(InvalidDeployInput) as info:
        deploy(dockfile, target=target, plugins=manager)
    assert info.value.exit_code == 1 and _missing(info) == ({4001}, {"ECHO_MODEL"})
    with open_store() as store:
        assert store.list_versions("echo") == [] and store.list_deployments("echo") == []


def test_a_dry_run_checks_variables_too(project, home, monkeypatch) -> None:
    from agentdock import make_plugin_manager
    from agentdock.deployment import dry_run
    from agentdock_plugins import kubernetes as k8s_plugin

    monkeypatch.delenv("ECHO_MODEL", raising=False)
    dockfile = project / "Dockfile.yaml"
    dockfile.write_text(dockfile.read_text().replace(_MODEL, _MODEL_FROM_ENV))
    manager = make_plugin_manager(plugins=[("k8s", k8s_plugin)])
    with pytest.raises(InvalidDeployInput) as info:
        dry_run(dockfile, target="kubernetes", plugins=manager)
    assert info.value.exit_code == 1 and _missing(info) == ({4001}, {"ECHO_MODEL"})


def test_the_wait_for_health_is_reported_once_by_the_target(project, fakes) -> None:
    """The target says what it waits for (its own words); the service adds no second line."""
    manager, plugin = fakes
    original = plugin.target.wait_ready

    def reporting(handle, timeout, progress):
        progress("health", f"waiting for {handle['endpoint']}/ready")
        original(handle, timeout, progress)

    plugin.target.wait_ready = reporting
    seen: list[tuple[str, str]] = []
    _deploy(project, manager, progress=lambda step, message, **_: seen.append((step, message)))
    assert [m for step, m in seen if step == "health"] == [
        "waiting for http://127.0.0.1:9001/ready"
    ]


def test_a_runtime_handed_the_registry_owner_s_url_is_warned_of(project, fakes, tmp_path) -> None:
    manager, plugin = fakes
    owner = "postgresql://owner:planted-owner-password@db.invalid/agentdock"
    env_file = tmp_path / "owner.env"
    env_file.write_text(f"AGENTDOCK_DATABASE_URL={owner}\n")
    said: list[tuple[str, str]] = []
    d = _deploy(
        project, manager, env_files=[env_file], progress=lambda s, m, **_: said.append((s, m))
    )
    warnings = [m for s, m in said if s == "warning"]
    assert len(warnings) == 1 and "agentdock postgres runtime-role echo" in warnings[0]
    assert "planted-owner-password" not in repr(said)
    assert plugin.target.envs[d.deployment_id]["AGENTDOCK_DATABASE_URL"] == owner
    # With the least-privilege role's URL the owner's stays out of the runtime.
    role = "postgresql://agentdock_rt_echo:pw-of-the-role@db.invalid/agentdock"
    env_file.write_text(f"AGENTDOCK_DATABASE_URL={owner}\nAGENTDOCK_RUNTIME_DATABASE_URL={role}\n")
    _edit(project)
    said.clear()
    d = _deploy(
        project, manager, env_files=[env_file], progress=lambda s, m, **_: said.append((s, m))
    )
    assert [m for s, m in said if s == "warning"] == []
    env = plugin.target.envs[d.deployment_id]
    assert "AGENTDOCK_DATABASE_URL" not in env and env["AGENTDOCK_RUNTIME_DATABASE_URL"] == role


def test_a_deploy_writes_the_key_view_and_warns_of_a_missing_pepper(
    project, fakes, home, monkeypatch
) -> None:
    manager, _ = fakes
    monkeypatch.setenv("AGENTDOCK_KEY_PEPPER", "planted-deploy-pepper-0003")
    _deploy(project, manager)  # the first key, made with the pepper
    assert (home / "keys" / "echo" / "keys.json").is_file()
    monkeypatch.delenv("AGENTDOCK_KEY_PEPPER")
    _edit(project)
    said: list[tuple[str, str]] = []
    _deploy(project, manager, progress=lambda s, m, **_: said.append((s, m)))
    warnings = [m for s, m in said if s == "warning"]
    assert len(warnings) == 1 and "no pepper" in warnings[0]
    assert "planted-deploy-pepper" not in repr(said)


def test_rollback_after_stop_goes_back_before_the_stopped_version(project, fakes) -> None:
    """``stop`` then ``rollback``: the version before the one that served last, not the
    stopped one again (as a rollback of a serving deployment goes back before it)."""
    manager, _ = fakes
    _deploy(project, manager)
    _edit(project)
    assert _deploy(project, manager).version == "0.1.1"
    stop("echo", plugins=manager)
    back = rollback("echo", plugins=manager)
    assert (back.version, back.status) == ("0.1.0", "active")
    stop("echo", plugins=manager)  # 0.1.0 served last: before it came 0.1.1
    assert rollback("echo", plugins=manager).version == "0.1.1"
    assert rollback("echo", "0.1.1", plugins=manager).version == "0.1.1"  # named: as asked


def test_rollback_after_stop_names_the_version_it_went_back_from(project, fakes) -> None:
    """Nothing serves after a ``stop``, yet the rollback went back from the stopped version:
    ``previous_version`` names it, as it names the superseded one otherwise."""
    manager, _ = fakes
    _deploy(project, manager)
    _edit(project)
    _deploy(project, manager)
    stop("echo", plugins=manager)
    back = rollback("echo", plugins=manager)
    assert (back.version, back.previous_version) == ("0.1.0", "0.1.1")
    assert back.to_json()["previous_version"] == "0.1.1"
    stop("echo", plugins=manager)
    assert rollback("echo", "0.1.1", plugins=manager).previous_version == "0.1.0"


def test_rollback_to_the_version_serving_changes_nothing(project, fakes) -> None:
    """Naming the version that serves, healthy: nothing is started, stopped or recorded
    (``noop``, as a deploy of the same content); a runtime that is down starts again."""
    manager, plugin = fakes
    _deploy(project, manager)
    _edit(project)
    serving = _deploy(project, manager)
    said: list[tuple[str, str]] = []
    before = list(plugin.log)
    same = rollback(
        "echo", "0.1.1", plugins=manager, progress=lambda s, m, **_: said.append((s, m))
    )
    assert plugin.log == before  # no start, stop or retire
    assert (same.version, same.noop, same.reason) == ("0.1.1", True, "rollback")
    assert (same.deployment_id, same.endpoint) == (serving.deployment_id, serving.endpoint)
    assert same.to_json()["noop"] is True and same.previous_version is None
    assert said == [("noop", "echo 0.1.1 is already serving: nothing to do")]
    assert status("echo", plugins=manager)["deployment_id"] == serving.deployment_id
    with open_store() as store:
        assert "rollback.activate" not in [e.action for e in store.list_audit(agent="echo")]
    plugin.target.running.clear()  # its runtime died: the rollback starts it again
    again = rollback("echo", "0.1.1", plugins=manager)
    assert not again.noop and again.deployment_id != serving.deployment_id
    assert plugin.log[len(before)] == ("start", "0.1.1")


def test_rollback_after_stop_of_the_only_version_is_not_found(project, fakes) -> None:
    manager, _ = fakes
    _deploy(project, manager)
    stop("echo", plugins=manager)
    with pytest.raises(NotFound) as info:
        rollback("echo", plugins=manager)
    assert "no earlier version" in info.value.cause
    assert "agentdock rollback echo 0.1.0" in (info.value.hint or "")  # it names the way back
    assert rollback("echo", "0.1.0", plugins=manager).status == "active"  # as the hint says
