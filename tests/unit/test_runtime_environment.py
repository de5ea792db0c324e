"""What a deployed runtime's environment holds: the Dockfile's variables, AgentDock's own
settings and a short list of the machine's, never the rest of the deploying shell."""

from __future__ import annotations

from types import SimpleNamespace

from agentdock.deployment.runenv import (
    HOST_VARIABLES,
    SECRET_SETTINGS,
    TARGET_SETTINGS,
    host_runtime_env,
    runtime_env,
)
from agentdock.masking import SECRET_NAMES_ENV

SHELL = {
    "PATH": "/usr/local/bin:/usr/bin",
    "HOME": "/home/op",
    "LANG": "C.UTF-8",
    "LC_ALL": "C.UTF-8",
    "TZ": "Europe/Paris",
    "TMPDIR": "/tmp/op",
    "UNRELATED_TOKEN": "shell-only-planted-7c1e",
    "AWS_SECRET_ACCESS_KEY": "shell-only-planted-aws",
    "VIRTUAL_ENV": "/src/.venv",
    "PYTHONPATH": "/src",
    "SSH_AUTH_SOCK": "/tmp/ssh-agent",
    "AGENTDOCK_LOAD_PLUGINS": "langgraph",
    "AGENTDOCK_KEY_PEPPER": "pepper-planted-0b9a",
    "AGENTDOCK_HOME": "/home/op/.agentdock",
    "AGENTDOCK_API_KEY": "adk_client_side_key",
    "AGENTDOCK_ENDPOINT": "http://127.0.0.1:8080",
    "AGENTDOCK_KUBE_CONTEXT": "prod",
    "OPENAI_API_KEY": "sk-referenced-planted",
}


def _spec(env: dict[str, str] | None = None, secrets: tuple[str, ...] = ()) -> SimpleNamespace:
    return SimpleNamespace(deploy=SimpleNamespace(env=env or {}, secrets=list(secrets)))


def test_runtime_env_is_the_dockfiles_variables_and_their_names() -> None:
    values = {**SHELL, "DB_PASSWORD": "from-an-env-file-9e"}
    env = runtime_env(
        _spec({"LOG_LEVEL": "debug"}, secrets=("DB_PASSWORD",)), {"OPENAI_API_KEY"}, values
    )
    assert env == {
        "OPENAI_API_KEY": "sk-referenced-planted",
        "DB_PASSWORD": "from-an-env-file-9e",
        "LOG_LEVEL": "debug",
        SECRET_NAMES_ENV: "DB_PASSWORD,OPENAI_API_KEY",
    }


def test_a_runtime_on_this_machine_gets_the_allowlist_settings_and_its_env() -> None:
    request_env = runtime_env(_spec(), {"OPENAI_API_KEY"}, SHELL)
    env = host_runtime_env(request_env, {"AGENTDOCK_HOME": "/deploy/home"}, SHELL)
    assert env == {
        "PATH": "/usr/local/bin:/usr/bin",
        "HOME": "/home/op",
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "TZ": "Europe/Paris",
        "TMPDIR": "/tmp/op",
        "AGENTDOCK_LOAD_PLUGINS": "langgraph",
        "AGENTDOCK_KEY_PEPPER": "pepper-planted-0b9a",
        "AGENTDOCK_HOME": "/deploy/home",  # the target's, not the shell's
        "OPENAI_API_KEY": "sk-referenced-planted",
        SECRET_NAMES_ENV: "AGENTDOCK_KEY_PEPPER,OPENAI_API_KEY",
    }
    for planted in ("shell-only-planted", "adk_client_side_key", "/src", "prod"):
        assert not [k for k, v in env.items() if planted in v], planted


def test_only_listed_names_pass_whatever_the_shell_holds() -> None:
    shell = {f"VAR_{i}": "x" for i in range(50)} | {"LC_TIME": "C", "AGENTDOCK_X_NEW": "1"}
    shell |= {name: "v" for name in HOST_VARIABLES | TARGET_SETTINGS}
    env = host_runtime_env({}, {}, shell)
    allowed = HOST_VARIABLES | {"LC_TIME", "AGENTDOCK_X_NEW"}
    assert set(env) == allowed  # a new AGENTDOCK_* setting goes along; target ones never


def test_the_request_env_wins_and_secret_settings_are_named() -> None:
    shell = {name: f"{name.lower()}-value-long" for name in SECRET_SETTINGS}
    shell["AGENTDOCK_DATABASE_URL"] = "postgresql://shell/db"
    request_env = {"AGENTDOCK_DATABASE_URL": "postgresql://env-file/db", SECRET_NAMES_ENV: "X"}
    env = host_runtime_env(request_env, {}, shell)
    assert env["AGENTDOCK_DATABASE_URL"] == "postgresql://env-file/db"
    assert env[SECRET_NAMES_ENV].split(",") == sorted({"X", *SECRET_SETTINGS})


def test_insecure_mode_left_in_the_shell_never_reaches_a_deployed_runtime() -> None:
    env = host_runtime_env({}, {}, {"AGENTDOCK_INSECURE_NO_AUTH": "1", "PATH": "/usr/bin"})
    assert "AGENTDOCK_INSECURE_NO_AUTH" not in env
