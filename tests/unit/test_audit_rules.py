"""Every built-in audit rule fires on a planted problem and stays quiet on the fixed code."""

# The tables below hold whole small source files, one string each: long lines read best.
# ruff: noqa: E501

from __future__ import annotations

import re
from pathlib import Path

import agentdock_plugins.audit as builtin_rules
import pytest
from agentdock import make_plugin_manager
from agentdock.readiness import CATEGORIES, Level, audit

# (rule id, {file: text}) where the rule must fire, and where it must not.
POSITIVE: dict[str, dict[str, str]] = {
    "loopback-bind": {
        "svc/__init__.py": "",
        "svc/app.py": "import uvicorn\nuvicorn.run(app, host='127.0.0.1', port=8000)\n",
    },
    "loopback-connect": {
        "svc/__init__.py": "",
        "svc/c.py": "import redis\nr = redis.Redis(host='localhost', port=6379)\n",
    },
    "env-loopback-fallback": {
        "svc/__init__.py": "",
        "svc/c.py": "import os\nURL = os.getenv('REDIS_URL', 'redis://localhost:6379/0')\n",
    },
    "hardcoded-url": {
        "svc/__init__.py": "",
        "svc/c.py": "DB = connect('postgresql://db.internal:5432/app')\n",
    },
    "hardcoded-port": {"svc/__init__.py": "", "svc/c.py": "r = Redis(host=HOST, port=6379)\n"},
    "config-without-env": {"svc/__init__.py": "", "svc/c.py": "REDIS_HOST = 'redis'\n"},
    "host-path": {"svc/__init__.py": "", "svc/c.py": "MODELS = '/home/alice/models'\n"},
    "write-outside-data-dir": {
        "svc/__init__.py": "",
        "svc/c.py": "open('/srv/state.json', 'w').write('{}')\n",
        "svc/Dockerfile": "FROM python:3.11-slim\nVOLUME /app/data\n",
    },
    "health-missing": {
        "svc/__init__.py": "",
        "svc/app.py": "app = FastAPI()\n@app.post('/invoke')\nasync def invoke():\n    return {}\n",
    },
    "health-inconsistent": {
        "a/__init__.py": "",
        "a/app.py": "@app.get('/health')\ndef h():\n    return 'ok'\n",
        "b/__init__.py": "",
        "b/app.py": "@app.get('/health')\ndef h():\n    return 'ok'\n",
        "c/__init__.py": "",
        "c/app.py": "@app.get('/ping')\ndef h():\n    return 'ok'\n",
    },
    "no-sigterm": {
        "svc/__init__.py": "",
        "svc/loop.py": "try:\n    while True:\n        work()\nexcept KeyboardInterrupt:\n    pass\n",
    },
    "secret-literal": {
        "svc/__init__.py": "",
        "svc/c.py": "AWS = 'AKIAIOSFODNN7EXAMPLE'\nSERVICE_TOKEN = 'q8Zr2mW7xK4p'\nSIGNING = 'x9K2mQ7vR4tY8nB3pL6wZ1cF5hJ0dGs'\n",
    },
    "url-credentials": {
        "svc/__init__.py": "",
        "svc/c.py": "DSN = 'postgres://app:hunter2@db/app'\n",
    },
    "hardcoded-api-key": {
        "svc/__init__.py": "",
        "svc/c.py": "llm = ChatOpenAI(api_key='sk-live-123456789abc')\n",
    },
    "committed-env-file": {
        "svc/__init__.py": "",
        "svc/.env": "OPENAI_API_KEY=sk-live-123456789abc\n",
    },
    "debug-enabled": {
        "svc/__init__.py": "",
        "svc/c.py": "app.run(host=HOST, debug=True)\nDEBUG = True\n",
    },
    "ungated-admin-route": {
        "svc/__init__.py": "",
        "svc/app.py": "@app.get('/admin/users')\ndef users():\n    return []\n",
    },
    "docker-root": {
        "svc/__init__.py": "",
        "svc/Dockerfile": "FROM python:3.11-slim\nCMD python app.py\n",
    },
    "docker-unpinned-base": {
        "svc/__init__.py": "",
        "svc/Dockerfile": "FROM python:latest\nUSER app\n",
    },
    "docker-single-stage": {
        "svc/__init__.py": "",
        "svc/Dockerfile": "FROM python:3.11-slim\nUSER app\n",
    },
    "docker-no-healthcheck": {
        "svc/__init__.py": "",
        "svc/Dockerfile": "FROM python:3.11-slim\nUSER app\n",
    },
    "docker-add-url": {
        "svc/__init__.py": "",
        "svc/Dockerfile": "FROM python:3.11-slim\nADD https://example.com/x.tgz /x.tgz\n",
    },
    "unpinned-requirements": {
        "svc/__init__.py": "",
        "svc/requirements.txt": "langgraph>=1.0\nrequests\nhttpx==0.28.1\n",
    },
    "hardcoded-model": {"svc/__init__.py": "", "svc/c.py": "llm = ChatOpenAI(model='gpt-4o')\n"},
    "blocking-io-in-async": {
        "svc/__init__.py": "",
        "svc/c.py": "import time\nasync def node(state):\n    time.sleep(1)\n    return state\n",
    },
    "tool-shell-eval": {
        "svc/__init__.py": "",
        "svc/c.py": "@tool\ndef calc(expr: str) -> str:\n    return str(eval(expr))\n",
    },
    "http-no-timeout": {"svc/__init__.py": "", "svc/c.py": "import requests\nrequests.get(URL)\n"},
    "unbounded-recursion-limit": {
        "svc/__init__.py": "",
        "svc/c.py": "graph.invoke(x, config={'recursion_limit': 100000})\n",
    },
}

NEGATIVE: dict[str, dict[str, str]] = {
    "loopback-bind": {
        "svc/__init__.py": "",
        "svc/app.py": "import os, uvicorn\nuvicorn.run(app, host=os.getenv('HOST', '0.0.0.0'), port=PORT)\n",
    },
    "loopback-connect": {
        "svc/__init__.py": "",
        "svc/c.py": "import os, redis\nr = redis.Redis(host=os.environ['REDIS_HOST'])\n",
    },
    "env-loopback-fallback": {
        "svc/__init__.py": "",
        "svc/c.py": "import os\nURL = os.getenv('REDIS_URL', 'redis://redis:6379/0')\n",
    },
    "hardcoded-url": {
        "svc/__init__.py": "",
        "svc/c.py": "import os\nDB = connect(os.getenv('DB_URL', 'postgresql://db:5432/app'))\nDOC = 'https://docs.python.org/3/'\n",
    },
    "hardcoded-port": {"svc/__init__.py": "", "svc/c.py": "r = Redis(host=HOST, port=PORT)\n"},
    "config-without-env": {
        "svc/__init__.py": "",
        "svc/c.py": "import os\nREDIS_HOST = os.getenv('REDIS_HOST', 'redis')\n",
    },
    "host-path": {
        "svc/__init__.py": "",
        "svc/c.py": "import os\nMODELS = os.getenv('MODEL_DIR', '/app/models')\n",
    },
    "write-outside-data-dir": {
        "svc/__init__.py": "",
        "svc/c.py": "open('/app/data/state.json', 'w').write('{}')\nopen('/etc/hosts').read()\n",
        "svc/Dockerfile": "FROM python:3.11-slim\nVOLUME /app/data\n",
    },
    "health-missing": {
        "svc/__init__.py": "",
        "svc/app.py": "@app.post('/invoke')\nasync def invoke():\n    return {}\n@app.get('/healthz')\ndef health():\n    return 'ok'\n",
    },
    "health-inconsistent": {
        "a/__init__.py": "",
        "a/app.py": "@app.get('/health')\ndef h():\n    return 'ok'\n",
        "b/__init__.py": "",
        "b/app.py": "@app.get('/health/')\ndef h():\n    return 'ok'\n",
    },
    "no-sigterm": {
        "svc/__init__.py": "",
        "svc/loop.py": "import signal\nsignal.signal(signal.SIGTERM, stop)\nwhile True:\n    work()\n",
    },
    "secret-literal": {
        "svc/__init__.py": "",
        "svc/c.py": "import os\nSERVICE_TOKEN = os.environ['SERVICE_TOKEN']\nTOKEN_ENV = 'SERVICE_TOKEN'\nAPI_KEY = 'changeme'\nLABEL = 'deployment_readiness_audit_v1'\n",
    },
    "url-credentials": {
        "svc/__init__.py": "",
        "svc/c.py": "DSN = f'postgres://{user}:{password}@db/app'\n",
    },
    "hardcoded-api-key": {
        "svc/__init__.py": "",
        "svc/c.py": "import os\nllm = ChatOpenAI(api_key=os.environ['OPENAI_API_KEY'])\n",
    },
    "committed-env-file": {
        "svc/__init__.py": "",
        "svc/.env.example": "OPENAI_API_KEY=sk-live-123456789abc\n",
        "svc/.env": "OPENAI_API_KEY=\nLOG_LEVEL=INFO\n",
    },
    "debug-enabled": {
        "svc/__init__.py": "",
        "svc/c.py": "import os\napp.run(host=HOST, debug=os.getenv('DEBUG') == '1')\n",
    },
    "ungated-admin-route": {
        "svc/__init__.py": "",
        "svc/app.py": "@app.get('/admin/users', dependencies=[Depends(admin)])\ndef users():\n    return []\n"
        "if os.getenv('ENABLE_METRICS'):\n    @app.get('/metrics')\n    def metrics():\n        return ''\n",
    },
    "docker-root": {
        "svc/__init__.py": "",
        "svc/Dockerfile": "FROM python:3.11-slim AS build\nUSER root\nFROM python:3.11-slim\nUSER 10001\n",
    },
    "docker-unpinned-base": {
        "svc/__init__.py": "",
        "svc/Dockerfile": "FROM python:3.11-slim@sha256:"
        + "a" * 64
        + " AS build\nFROM build\nUSER app\n",
    },
    "docker-single-stage": {
        "svc/__init__.py": "",
        "svc/Dockerfile": "FROM python:3.11 AS build\nFROM python:3.11-slim\nUSER app\n",
    },
    "docker-no-healthcheck": {
        "svc/__init__.py": "",
        "svc/Dockerfile": "FROM python:3.11-slim\nHEALTHCHECK CMD curl -f http://localhost:8080/health\n",
    },
    "docker-add-url": {
        "svc/__init__.py": "",
        "svc/Dockerfile": "FROM python:3.11-slim\nADD --checksum=sha256:abc https://example.com/x.tgz /x\nCOPY app /app\n",
    },
    "unpinned-requirements": {
        "svc/__init__.py": "",
        "svc/requirements.txt": "# pinned by uv pip compile\n-r base.txt\nlanggraph==1.0.2\nrequests==2.32.3 --hash=sha256:abc\nmylib @ file:///wheels/mylib.whl\n",
    },
    "hardcoded-model": {
        "svc/__init__.py": "",
        "svc/c.py": "import os\nllm = ChatOpenAI(model=os.getenv('MODEL', 'gpt-4o'))\nfake = FakeListChatModel(responses=['hi'])\n",
    },
    "blocking-io-in-async": {
        "svc/__init__.py": "",
        "svc/c.py": "import asyncio, time\nasync def node(state):\n    await asyncio.sleep(1)\n    return state\ndef sync_node(state):\n    time.sleep(1)\n",
    },
    "tool-shell-eval": {
        "svc/__init__.py": "",
        "svc/c.py": "import ast, subprocess\n@tool\ndef calc(expr: str) -> str:\n    return str(ast.literal_eval(expr))\nsubprocess.run(['ls', '-l'], check=True)\n",
    },
    "http-no-timeout": {
        "svc/__init__.py": "",
        "svc/c.py": "import requests\nrequests.get(URL, timeout=10)\n",
    },
    "unbounded-recursion-limit": {
        "svc/__init__.py": "",
        "svc/c.py": "graph.invoke(x, config={'recursion_limit': 50})\n",
    },
}


def _manager() -> object:
    return make_plugin_manager(plugins=[("audit", builtin_rules)])


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def test_every_rule_has_a_true_positive_and_a_true_negative() -> None:
    ids = {rule.id for rule in builtin_rules.RULES}
    assert set(POSITIVE) == ids
    assert set(NEGATIVE) == ids


@pytest.mark.parametrize("rule", sorted(POSITIVE))
def test_rule_fires_on_the_planted_problem(tmp_path: Path, rule: str) -> None:
    _write(tmp_path, POSITIVE[rule])
    report = audit(tmp_path, plugins=_manager(), rules=[rule])
    assert [f.rule for f in report.findings] and {f.rule for f in report.findings} == {rule}
    assert report.problems == ()


@pytest.mark.parametrize("rule", sorted(NEGATIVE))
def test_rule_is_quiet_on_the_fixed_code(tmp_path: Path, rule: str) -> None:
    _write(tmp_path, NEGATIVE[rule])
    report = audit(tmp_path, plugins=_manager(), rules=[rule])
    assert [(f.file, f.line, f.message) for f in report.findings] == []


@pytest.mark.parametrize("rule", builtin_rules.RULES, ids=lambda r: r.id)
def test_rule_is_described(rule: type) -> None:
    assert re.fullmatch(r"[a-z][a-z0-9-]+", rule.id)
    assert isinstance(rule.level, Level)
    assert rule.category in CATEGORIES
    assert (rule.__doc__ or "").strip() and rule.fix


def test_rules_of_a_family_keep_their_category_and_file_kinds() -> None:
    families = {
        (rule.id, rule.category, tuple(sorted(rule.kinds)))
        for rule in builtin_rules.RULES
        if rule.category in ("llm", "dockerfile")
    }
    assert families == {
        ("hardcoded-model", "llm", ("python",)),
        ("blocking-io-in-async", "llm", ("python",)),
        ("tool-shell-eval", "llm", ("python",)),
        ("http-no-timeout", "llm", ("python",)),
        ("unbounded-recursion-limit", "llm", ("python",)),
        ("docker-root", "dockerfile", ("dockerfile",)),
        ("docker-unpinned-base", "dockerfile", ("dockerfile",)),
        ("docker-single-stage", "dockerfile", ("dockerfile",)),
        ("docker-no-healthcheck", "dockerfile", ("dockerfile",)),
        ("docker-add-url", "dockerfile", ("dockerfile",)),
        ("unpinned-requirements", "dockerfile", ("requirements",)),
    }


def test_secret_literal_names_each_kind_without_the_value(tmp_path: Path) -> None:
    _write(tmp_path, POSITIVE["secret-literal"])
    report = audit(tmp_path, plugins=_manager(), rules=["secret-literal"])
    assert [(f.line, f.message) for f in sorted(report.findings, key=lambda f: f.line)] == [
        (1, "AWS Access Key in a string literal"),
        (2, "literal value assigned to 'SERVICE_TOKEN'"),
        (3, "high-entropy string assigned to 'SIGNING'"),
    ]


def test_names_from_code_stay_on_one_line(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "svc/__init__.py": "",
            "svc/c.py": "import os\nX = os.getenv('A\\nB', 'localhost')\n"
            "cfg = {'API\\nTOKEN': 'q8Zr2mW7xK4p'}\n",
        },
    )
    report = audit(tmp_path, plugins=_manager(), rules=["env-loopback-fallback", "secret-literal"])
    messages = sorted(f.message for f in report.findings)
    assert messages == [
        "'A\\nB' falls back to 'localhost'",
        "literal value assigned to 'API\\nTOKEN'",
    ]
    assert [v.name for v in report.env] == []


def test_levels_per_hit(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "svc/__init__.py": "",
            "svc/Dockerfile": "FROM python:3.11-slim AS b\nFROM python\nUSER app\n",
            "svc/t.py": "@tool\ndef run(cmd):\n    return os.system(cmd)\nos.system('ls')\n",
        },
    )
    report = audit(tmp_path, plugins=_manager(), rules=["docker-unpinned-base", "tool-shell-eval"])
    got = sorted((f.rule, f.line, f.level.value) for f in report.findings)
    assert got == [
        ("docker-unpinned-base", 1, "low"),
        ("docker-unpinned-base", 2, "medium"),
        ("tool-shell-eval", 3, "high"),
        ("tool-shell-eval", 4, "medium"),
    ]


def test_flask_and_uvicorn_defaults_bind_loopback(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "svc/__init__.py": "",
            "svc/a.py": "uvicorn.run(app)\napp.run(port=5000)\n",
            "svc/b.py": "import socket\ns.bind(('127.0.0.1', 9000))\nserver = HTTPServer(('localhost', 8000), H)\n",
        },
    )
    report = audit(tmp_path, plugins=_manager(), rules=["loopback-bind"])
    assert sorted((f.file, f.line) for f in report.findings) == [
        ("svc/a.py", 1),
        ("svc/a.py", 2),
        ("svc/b.py", 2),
        ("svc/b.py", 3),
    ]


#: Keys of current formats, built so that no scanner of this repository flags the test.
OPENAI_PROJ = "sk-" + "proj-" + "Ab3dEf6hIj9lMn2pQr5tUv8xYz1bCd4fGh7jKl0nOp3rSt6v"
HF = "hf_" + "AbCdEfGhIjKlMnOpQrStUvWxYz0123456"
JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"
    + ".eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4ifQ"
    + ".SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
)


def test_documented_secret_detections_fire_without_printing_values(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "svc/__init__.py": "",
            "svc/c.py": f'import os\nOPENAI_API_KEY = os.getenv("OPENAI_API_KEY", "{OPENAI_PROJ}")\n'
            f'HEADERS = {{"Authorization": "Bearer {JWT}"}}\n',
            "svc/Dockerfile": f"FROM python:3.11-slim\nENV OPENAI_API_KEY={OPENAI_PROJ}\nARG HF_TOKEN={HF}\n",
            "svc/compose.yaml": "services:\n  db:\n    environment:\n      POSTGRES_PASSWORD: ComposeMapPw99x\n"
            f"      OPENAI_API_KEY: {OPENAI_PROJ}\n  app:\n    environment:\n      - DB_PASSWORD=ComposeListPw77y\n"
            "      - LOG_LEVEL=info\n",
        },
    )
    report = audit(tmp_path, plugins=_manager(), rules=["secret-literal"])
    got = sorted((f.file, f.line) for f in report.findings)
    assert got == [
        ("svc/Dockerfile", 2),
        ("svc/Dockerfile", 3),
        ("svc/c.py", 2),
        ("svc/c.py", 3),
        ("svc/compose.yaml", 4),
        ("svc/compose.yaml", 5),
        ("svc/compose.yaml", 8),
    ]
    text = "\n".join(f.message + f.fix for f in report.findings)
    for value in (OPENAI_PROJ, HF, JWT, "ComposeMapPw99x", "ComposeListPw77y"):
        assert value not in text


def test_flask_run_binds_loopback_and_needs_sigterm(tmp_path: Path) -> None:
    flask_app = "from flask import Flask\napp = Flask(__name__)\n"
    _write(
        tmp_path,
        {
            "a/__init__.py": "",
            "a/app.py": flask_app + "app.run()\n",
            "b/__init__.py": "",
            "b/app.py": flask_app + "app.run(debug=True)\n",
            "c/__init__.py": "",
            "c/app.py": flask_app + "app.run(host='0.0.0.0')\n",
            "d/__init__.py": "",
            "d/app.py": "import asyncio\nasyncio.run(main())\nrunner.run()\n",
        },
    )
    report = audit(tmp_path, plugins=_manager(), rules=["loopback-bind", "no-sigterm"])
    assert sorted((f.rule, f.file, f.line) for f in report.findings) == [
        ("loopback-bind", "a/app.py", 3),
        ("loopback-bind", "b/app.py", 3),
        ("no-sigterm", "a/app.py", 3),
        ("no-sigterm", "b/app.py", 3),
        ("no-sigterm", "c/app.py", 3),
    ]


def test_a_git_ignored_env_file_is_not_committed(tmp_path: Path) -> None:
    env = "OPENAI_API_KEY=sk-live-123456789abc\n"
    _write(
        tmp_path,
        {
            # agentdock init's .gitignore: .env at any depth, the example kept.
            ".gitignore": "# Local secrets\n.env\n.env.*\n!.env.example\n",
            "svc/__init__.py": "",
            "svc/.env": env,
            "svc/.env.local": env,
            "svc/.env.example": env,
            "other/__init__.py": "",
            "other/.gitignore": "!.env\n",
            "other/.env": env,
        },
    )
    report = audit(tmp_path, plugins=_manager(), rules=["committed-env-file"])
    assert sorted(f.file for f in report.findings) == ["other/.env"]


def test_a_gitignore_above_the_audited_directory_counts_up_to_the_repository(
    tmp_path: Path,
) -> None:
    _write(
        tmp_path,
        {
            ".git/HEAD": "ref: refs/heads/main\n",
            ".gitignore": "*.env\n.env\n",
            "agents/svc/__init__.py": "",
            "agents/svc/.env": "API_TOKEN=q8Zr2mW7xK4p\n",
        },
    )
    report = audit(tmp_path / "agents", plugins=_manager(), rules=["committed-env-file"])
    assert report.findings == ()
    (tmp_path / ".git" / "HEAD").unlink()
    (tmp_path / ".git").rmdir()
    report = audit(tmp_path / "agents", plugins=_manager(), rules=["committed-env-file"])
    assert [f.file for f in report.findings] == ["svc/.env"]
