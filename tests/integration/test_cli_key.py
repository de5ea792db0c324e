"""`agentdock key` and `agentdock token issue`: exit codes, JSON, the audit log, and no
key or token ever at rest in the registry."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path
from typing import Any

import jwt
import pytest
from _cli import run_cli
from agentdock.registry import open_store
from agentdock_plugins.auth import api_key_provider, jwt_provider
from agentdock_runtime.errors import KeyRevoked

ECHO = Path(__file__).resolve().parents[2] / "examples" / "echo"
SECRET = "planted-cli-secret-0123456789abcdef-0123"

JWT_DOCKFILE = """\
version: "1.1"
agent:
  name: echo
  entrypoint: echo.graph:build_graph
  framework: langgraph
model: {provider: custom, name: echo}
io_schema:
  input: {type: object, properties: {text: {type: string}}, required: [text]}
  output: {type: object, properties: {text: {type: string}}, required: [text]}
auth:
  mode: jwt
  jwt:
    secret_key: "${JWT_SECRET}"
    expiry_minutes: 15
    issuer: "https://issuer.test"
    audience: "echo"
  roles:
    - {name: caller, permissions: [invoke]}
expose: {rest: true, streaming: sse, port: 8080}
"""


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("AGENTDOCK_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("AGENTDOCK_KEY_PEPPER", raising=False)
    monkeypatch.delenv("AGENTDOCK_JWT_SECRET", raising=False)
    return tmp_path / "home"


def record_deployed(agent: str = "echo", dockfile: Path = ECHO / "Dockfile.yaml") -> None:
    """The registry as a deploy leaves it: the agent and a version with its snapshot."""
    text = dockfile.read_text("utf-8").replace("name: echo\n", f"name: {agent}\n", 1)
    with open_store() as store:
        store.record_version(agent=agent, version="0.1.0", snapshot=text, content_hash="0" * 64)


@pytest.fixture
def deployed(home: Path) -> Path:
    """``echo`` deployed (api_key mode, no auth.roles: the default roles)."""
    record_deployed()
    return home


def cli_json(args: list[str], cwd: Path | None = None) -> tuple[int, dict[str, Any]]:
    code, out, _ = run_cli([*args, "--json"], cwd=cwd)
    return code, json.loads(out)


def registry_bytes(home: Path) -> bytes:
    return b"".join(p.read_bytes() for p in home.iterdir() if p.is_file())


def authenticate(spec_provider: Any, headers: dict[str, str]) -> Any:
    result = spec_provider.authenticate(headers)
    return asyncio.run(result) if asyncio.iscoroutine(result) else result


def test_key_lifecycle(deployed: Path, tmp_path: Path) -> None:
    home = deployed
    code, created = cli_json(
        ["key", "create", "--agent", "echo", "--role", "developer", "--expires", "30d"]
    )
    assert code == 0 and created["ok"]
    key, key_id = created["key"], created["key_id"]
    assert key.startswith(f"adk_{key_id}_")
    assert created["state"] == "active" and created["expires_at"] is not None
    assert "hashed_key" not in created

    code, listed = cli_json(["key", "list", "--agent", "echo"])
    assert code == 0
    assert [k["key_id"] for k in listed["keys"]] == [key_id]
    assert key not in json.dumps(listed)

    # The runtime accepts the key the CLI minted.
    import agentdock

    spec = agentdock.load(ECHO / "Dockfile.yaml")
    provider = api_key_provider(spec)
    assert authenticate(provider, {"x-api-key": key})["role"] == "developer"

    code, rotated = cli_json(["key", "rotate", "echo", key_id, "--grace", "2h"])
    assert code == 0
    new_key, new_id = rotated["key"], rotated["key_id"]
    assert new_id != key_id and rotated["old"]["state"] == "rotating"
    assert rotated["old"]["grace_until"] - rotated["old"]["rotated_at"] == pytest.approx(7200)
    provider.verifier.invalidate()
    assert authenticate(provider, {"x-api-key": key})  # still inside its grace period
    assert authenticate(provider, {"x-api-key": new_key})["key_id"] == new_id

    code, revoked = cli_json(["key", "revoke", "echo", new_id])
    assert code == 0 and revoked["state"] == "revoked"
    provider.verifier.invalidate()
    with pytest.raises(KeyRevoked):
        authenticate(provider, {"x-api-key": new_key})
    provider.close()

    with open_store() as store:
        actions = [(e.action, e.target) for e in store.list_audit(agent="echo")]
        details = json.dumps([e.details for e in store.list_audit()])
    assert actions == [
        ("version.record", "0.1.0"),
        ("key.create", key_id),
        ("key.rotate", key_id),
        ("key.revoke", new_id),
    ]
    raw = registry_bytes(home) + details.encode()
    for secret in (key, new_key, key.split("_", 2)[2], new_key.split("_", 2)[2]):
        assert secret.encode() not in raw


def test_key_create_prints_the_key_once_in_text_mode(deployed: Path) -> None:
    code, out, _ = run_cli(["key", "create", "--agent", "echo", "--role", "viewer"])
    assert code == 0
    lines = [line for line in out.splitlines() if line.startswith("adk_")]
    assert len(lines) == 1
    code, out, _ = run_cli(["key", "list"])
    assert code == 0 and "viewer" in out and lines[0] not in out


def test_key_exit_codes(deployed: Path, tmp_path: Path) -> None:
    assert cli_json(["key", "rotate", "echo", "000000000000"]) == (
        5,
        {
            "ok": False,
            "error": "KeyNotFound",
            "message": "agent 'echo' has no active key '000000000000'",
        },
    )
    assert cli_json(["key", "revoke", "echo", "000000000000"])[0] == 5
    code, body = cli_json(["key", "create", "--agent", "Bad Name", "--role", "developer"])
    assert code == 1 and body["error"] == "InvalidAgentName"
    code, body = cli_json(["key", "create", "--agent", "echo", "--role", "x"])
    assert code == 1 and body["error"] == "InvalidRole"
    code, body = cli_json(
        ["key", "create", "--agent", "echo", "--role", "developer", "--expires", "soon"]
    )
    assert code == 1 and body["error"] == "InvalidDuration"
    code, body = cli_json(
        [
            "key",
            "create",
            "--agent",
            "echo",
            "--role",
            "auditor",
            "--file",
            str(ECHO / "Dockfile.yaml"),
        ]
    )
    assert code == 1 and body["error"] == "UnknownRole" and "developer" in body["message"]
    assert run_cli(["key", "create", "--agent", "echo"])[0] == 2
    assert run_cli(["key", "frobnicate"])[0] == 2
    # A revoked key cannot be rotated.
    _, created = cli_json(["key", "create", "--agent", "echo", "--role", "developer"])
    assert cli_json(["key", "revoke", "echo", created["key_id"]])[0] == 0
    assert cli_json(["key", "rotate", "echo", created["key_id"]])[0] == 5
    assert cli_json(["key", "revoke", "other_agent", created["key_id"]])[0] == 5


def test_explicit_registry_path(tmp_path: Path, home: Path) -> None:
    db = tmp_path / "custom" / "reg.db"
    base = ["key", "create", "--agent", "echo", "--role", "developer", "--registry", str(db)]
    code, refused = cli_json(base)
    assert code == 1 and str(db) in refused["message"] and not db.exists()
    code, created = cli_json([*base, "--not-deployed"])
    assert code == 0 and db.is_file()
    assert (
        cli_json(["key", "list", "--registry", str(db)])[1]["keys"][0]["key_id"]
        == created["key_id"]
    )
    assert cli_json(["key", "list"])[1]["keys"] == []


def project(tmp_path: Path) -> Path:
    target = tmp_path / "proj"
    shutil.copytree(ECHO / "echo", target / "echo")
    (target / "Dockfile.yaml").write_text(JWT_DOCKFILE)
    return target


def test_token_issue_from_the_dockfile(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    proj = project(tmp_path)
    monkeypatch.setenv("JWT_SECRET", SECRET)
    code, issued = cli_json(
        ["token", "issue", "--agent", "echo", "--role", "caller", "--sub", "ann", "--ttl", "10m"],
        cwd=proj,
    )
    assert code == 0, issued
    token = issued["token"]
    claims = jwt.decode(
        token, SECRET, algorithms=["HS256"], audience="echo", issuer="https://issuer.test"
    )
    assert (claims["sub"], claims["role"], claims["agent"]) == ("ann", "caller", "echo")
    assert claims["exp"] - claims["iat"] == 600

    import agentdock

    provider = jwt_provider(agentdock.load(proj / "Dockfile.yaml"))
    assert authenticate(provider, {"authorization": f"Bearer {token}"})["role"] == "caller"

    with open_store() as store:
        (entry,) = store.list_audit()
    assert (entry.action, entry.agent, entry.target) == ("token.issue", "echo", "ann")
    raw = registry_bytes(home)
    assert token.encode() not in raw and SECRET.encode() not in raw

    # Default lifetime: the Dockfile's expiry_minutes.
    _, issued = cli_json(
        ["token", "issue", "--agent", "echo", "--role", "caller", "--sub", "b"], cwd=proj
    )
    decoded = jwt.decode(issued["token"], options={"verify_signature": False})
    assert decoded["exp"] - decoded["iat"] == 15 * 60


def test_token_issue_errors(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    proj = project(tmp_path)
    monkeypatch.setenv("JWT_SECRET", SECRET)
    base = ["token", "issue", "--sub", "ann"]
    code, body = cli_json([*base, "--agent", "other", "--role", "caller"], cwd=proj)
    assert code == 1 and body["error"] == "AgentMismatch"
    code, body = cli_json([*base, "--agent", "echo", "--role", "developer"], cwd=proj)
    assert code == 1 and body["error"] == "UnknownRole"
    code, body = cli_json([*base, "--agent", "echo", "--role", "caller", "--ttl", "0s"], cwd=proj)
    assert code == 1 and body["error"] == "InvalidDuration"
    code, body = cli_json(
        [*base, "--agent", "echo", "--role", "developer", "--file", str(ECHO / "Dockfile.yaml")]
    )
    assert code == 1 and body["error"] == "NotJwtMode"
    monkeypatch.delenv("JWT_SECRET")
    code, body = cli_json([*base, "--agent", "echo", "--role", "caller"], cwd=proj)
    assert code == 1 and body["error"] == "InvalidDockfile"
    assert SECRET not in json.dumps(body)
    # No Dockfile: the secret comes from AGENTDOCK_JWT_SECRET.
    empty = tmp_path / "empty"
    empty.mkdir()
    code, body = cli_json([*base, "--agent", "echo", "--role", "caller"], cwd=empty)
    assert code == 1 and body["error"] == "NoSigningKey"
    monkeypatch.setenv("AGENTDOCK_JWT_SECRET", "short")
    code, body = cli_json([*base, "--agent", "echo", "--role", "caller"], cwd=empty)
    assert code == 1 and body["error"] == "TokenError" and "short" not in body["message"]
    monkeypatch.setenv("AGENTDOCK_JWT_SECRET", SECRET)
    code, body = cli_json([*base, "--agent", "echo", "--role", "caller"], cwd=empty)
    assert code == 0
    jwt.decode(body["token"], SECRET, algorithms=["HS256"])
    assert run_cli(["token", "issue", "--agent", "echo"])[0] == 2


def test_rotate_grace_from_the_dockfile(deployed: Path, tmp_path: Path) -> None:
    proj = tmp_path / "graceful"
    shutil.copytree(ECHO / "echo", proj / "echo")
    text = (
        (ECHO / "Dockfile.yaml")
        .read_text()
        .replace("api_keys: { enabled: true }", "api_keys: { enabled: true, grace_hours: 3 }")
    )
    assert "grace_hours: 3" in text
    (proj / "Dockfile.yaml").write_text(text)
    _, created = cli_json(["key", "create", "--agent", "echo", "--role", "developer"])
    code, rotated = cli_json(
        ["key", "rotate", "echo", created["key_id"], "--file", str(proj / "Dockfile.yaml")]
    )
    assert code == 0
    assert rotated["old"]["grace_until"] - rotated["old"]["rotated_at"] == pytest.approx(3 * 3600)
    _, again = cli_json(["key", "rotate", "echo", rotated["key_id"]])
    assert again["old"]["grace_until"] - again["old"]["rotated_at"] == pytest.approx(24 * 3600)


def test_key_create_resolves_the_dockfile_with_env(home: Path, tmp_path: Path) -> None:
    dockfile = tmp_path / "Dockfile.yaml"
    dockfile.write_text(JWT_DOCKFILE)
    base = ["key", "create", "--agent", "echo", "--role", "caller", "--file", str(dockfile)]
    base.append("--not-deployed")
    code, body = cli_json(base, cwd=tmp_path)
    assert code == 1 and "JWT_SECRET" in body["message"]
    code, body = cli_json([*base, "--env", f"JWT_SECRET={SECRET}"], cwd=tmp_path)
    assert code == 0 and body["role"] == "caller"
    assert SECRET not in json.dumps(body)
    other_role = [*base[:-3], "--role", "nobody", "--file", str(dockfile)]
    code, body = cli_json(
        [*other_role, "--env", f"JWT_SECRET={SECRET}", "--not-deployed"], cwd=tmp_path
    )
    assert code == 1 and body["error"] == "UnknownRole"


# -- the agent and the role must exist ------------------------------------------------------

SCAFFOLDED = """\
version: "1.1"
agent:
  name: my-agent
  entrypoint: echo.graph:build_graph
  framework: langgraph
model: {provider: custom, name: echo}
io_schema:
  input: {type: object, properties: {text: {type: string}}, required: [text]}
  output: {type: object, properties: {text: {type: string}}, required: [text]}
auth:
  mode: api_key
  api_keys: {enabled: true}
  roles:
    - {name: developer, permissions: [invoke, view_metrics]}
expose: {rest: true, streaming: sse, port: 8080}
"""


def key_rows(home: Path) -> list[Any]:
    with open_store() as store:
        return store.list_api_keys()


def test_a_typo_in_the_agent_is_refused_with_a_suggestion(deployed: Path) -> None:
    registry = str(deployed / "registry.db")
    code, body = cli_json(["key", "create", "--agent", "ehco", "--role", "developer"])
    assert code == 1 and body["error"] == "UnknownAgent"
    assert body["message"] == (
        f"no agent named 'ehco' in the registry {registry} (did you mean 'echo'?)"
    )
    assert "--not-deployed" in body["hint"]
    code, _, err = run_cli(["key", "create", "--agent", "ehco", "--role", "developer"])
    assert code == 1 and "did you mean 'echo'?" in err and "--not-deployed" in err
    with open_store() as store:
        assert store.list_agents() == ["echo"] and store.list_api_keys() == []


def test_a_role_the_agent_does_not_define_is_refused(home: Path, tmp_path: Path) -> None:
    dockfile = tmp_path / "Dockfile.yaml"
    dockfile.write_text(SCAFFOLDED)
    record_deployed("my-agent", dockfile)
    code, body = cli_json(["key", "create", "--agent", "my-agent", "--role", "admin"])
    assert code == 1 and body["error"] == "UnknownRole"
    assert "role 'admin' is not defined for my-agent 0.1.0" in body["message"]
    assert "auth.roles: developer" in body["message"]
    assert key_rows(home) == []
    assert cli_json(["key", "create", "--agent", "my-agent", "--role", "developer"])[0] == 0
    # No auth.roles: the runtime's default roles (admin, developer, viewer) are the ones.
    record_deployed()
    code, body = cli_json(["key", "create", "--agent", "echo", "--role", "auditor"])
    assert code == 1 and "the default roles" in body["message"]
    assert "admin, developer, viewer" in body["message"]
    assert cli_json(["key", "create", "--agent", "echo", "--role", "admin"])[0] == 0


def test_the_role_comes_from_the_version_the_instance_runs(home: Path, tmp_path: Path) -> None:
    dockfile = tmp_path / "Dockfile.yaml"
    dockfile.write_text(SCAFFOLDED)
    record_deployed("my-agent", dockfile)
    with open_store() as store:
        text = SCAFFOLDED.replace("name: developer", "name: tenant_user")
        v2, _ = store.record_version(
            agent="my-agent", version="0.2.0", snapshot=text, content_hash="1" * 64
        )
        v1 = store.get_version("my-agent", "0.1.0")
        assert v1 is not None
        store.create_deployment(version_id=v1.id, artifact_id=None, target="t")
        store.create_deployment(version_id=v2.id, artifact_id=None, target="t", instance="acme")
    base = ["key", "create", "--agent", "my-agent", "--role", "tenant_user"]
    assert cli_json(base)[0] == 1  # the default instance runs 0.1.0 (developer only)
    code, body = cli_json([*base, "--instance", "acme"])
    assert code == 0 and body["instance"] == "acme"


def test_not_deployed_skips_the_registry_checks_only(home: Path, tmp_path: Path) -> None:
    code, body = cli_json(
        ["key", "create", "--agent", "not-yet", "--role", "developer", "--not-deployed"]
    )
    assert code == 0 and body["agent"] == "not-yet"
    code, body = cli_json(
        ["key", "create", "--agent", "Not Yet", "--role", "developer", "--not-deployed"]
    )
    assert code == 1 and body["error"] == "InvalidAgentName"
    dockfile = tmp_path / "Dockfile.yaml"
    dockfile.write_text(SCAFFOLDED)
    base = ["key", "create", "--agent", "not-yet", "--not-deployed", "--file", str(dockfile)]
    code, body = cli_json([*base, "--role", "admin"])
    assert code == 1 and body["error"] == "UnknownRole"
    assert cli_json([*base, "--role", "developer"])[0] == 0
    with open_store() as store:
        (entry, *_) = store.list_audit(agent="not-yet")
    assert entry.details.get("not_deployed") is True
    # An agent known only through such keys has nothing deployed to read roles from.
    code, body = cli_json(["key", "create", "--agent", "not-yet", "--role", "developer"])
    assert code == 1 and body["error"] == "NotDeployed"


def test_rotate_and_revoke_of_an_unknown_agent_exit_5(deployed: Path) -> None:
    _, created = cli_json(["key", "create", "--agent", "echo", "--role", "developer"])
    for action in ("rotate", "revoke"):
        code, body = cli_json(["key", action, "ehco", created["key_id"]])
        assert code == 5 and body["error"] == "UnknownAgent"
        assert "did you mean 'echo'?" in body["message"] and str(deployed) in body["message"]
        assert body["hint"] == "agentdock key list shows every agent's keys"
    code, body = cli_json(["key", "list", "--agent", "ehco"])
    assert code == 5 and "did you mean 'echo'?" in body["message"]


def test_key_list_piped_prints_every_value_whole(home: Path) -> None:
    agent = "a-rather-long-agent-name-for-a-narrow-table"
    created = []
    for role in ("developer", "viewer"):
        code, body = cli_json(
            [
                "key",
                "create",
                "--agent",
                agent,
                "--role",
                role,
                "--not-deployed",
                "--expires",
                "30d",
            ]
        )
        assert code == 0
        created.append(body)
    code, out, _ = run_cli(["key", "list"])  # CliRunner's stdout is no terminal
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split("\t") == [
        "key id",
        "agent",
        "instance",
        "role",
        "state",
        "created",
        "expires",
        "last used",
    ]
    rows = [line.split("\t") for line in lines[1:]]
    assert [r[0] for r in rows] == [c["key_id"] for c in created]
    assert {r[1] for r in rows} == {agent}
    assert [r[3] for r in rows] == ["developer", "viewer"]
    assert all(len(r) == 8 and r[6].endswith("Z") and "…" not in "".join(r) for r in rows)


def test_key_list_warns_of_keys_made_with_another_pepper(
    deployed: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    planted = "planted-pepper-for-key-list-0001"
    monkeypatch.setenv("AGENTDOCK_KEY_PEPPER", planted)
    code, made = cli_json(["key", "create", "--agent", "echo", "--role", "developer"])
    assert code == 0 and made["hash_algorithm"] == "hmac-sha256" and made["pepper_id"]
    code, listed = cli_json(["key", "list"])
    assert code == 0 and listed["warnings"] == []  # the same pepper: nothing to say
    monkeypatch.setenv("AGENTDOCK_KEY_PEPPER", "another-pepper-entirely-0002")
    code, out, err = run_cli(["key", "list"])
    assert code == 0 and made["pepper_id"] in err and "runtimes with this environment" in err
    monkeypatch.delenv("AGENTDOCK_KEY_PEPPER")
    code, listed = cli_json(["key", "list"])
    assert len(listed["warnings"]) == 1 and "no pepper" in listed["warnings"][0]
    assert planted not in json.dumps(listed) + out + err


def test_key_list_shows_the_last_use_a_runtime_recorded(deployed: Path) -> None:
    from agentdock.registry.keyview import write_key_use

    _, made = cli_json(["key", "create", "--agent", "echo", "--role", "developer"])
    write_key_use(deployed / "state" / "echo" / "key-use.json", {made["key_id"]: 1234.5})
    code, listed = cli_json(["key", "list"])
    assert code == 0 and [k["last_used_at"] for k in listed["keys"]] == [1234.5]
