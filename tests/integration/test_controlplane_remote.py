"""One control plane shared by a team: ``agentdock … --server URL`` and
``agentdock.control_plane()`` deploy an uploaded project, roll back, stop and read through
it; the uploaded archive is refused whole when it is hostile."""

from __future__ import annotations

import io
import json
import os
import tarfile
import time
from pathlib import Path
from typing import Any

import pytest
from _cli import run_cli
from agentdock.remote import pack_project
from agentdock_plugins.controlplane import uploads
from agentdock_plugins.controlplane.app import controlplane_app
from agentdock_plugins.controlplane.state import ControlPlane
from controlplane_support import Plane, Remote
from litestar.testing import TestClient

pytest_plugins = ("deploy_fixtures", "controlplane_fixtures")

PLANTED = "planted-dotenv-secret-5c1e"


def _json_lines(out: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def test_a_project_deploys_rolls_back_and_stops_through_the_control_plane(
    remote: Remote, echo: Path
) -> None:
    (echo.parent / ".env").write_text(f"OPENAI_API_KEY={PLANTED}\n")
    code, out, err = run_cli(["deploy", str(echo), "--json"])
    assert code == 0, out + err
    events = _json_lines(out)
    result = events[-1]
    assert (result["event"], result["agent"], result["version"]) == ("result", "echo", "0.1.0")
    assert result["api_key"].startswith("adk_")
    assert {"upload", "validate", "build"} <= {e.get("step") for e in events}
    unpacked = list((remote.projects / ".uploads").iterdir())
    assert len(unpacked) == 1 and (unpacked[0] / "Dockfile.yaml").is_file()
    assert not (unpacked[0] / ".env").exists()
    assert not any(PLANTED in p.read_text(errors="ignore") for p in unpacked[0].rglob("*.*"))

    code, out, _ = run_cli(["status", "echo", "--json"])
    assert code == 0 and json.loads(out)["version"] == "0.1.0"
    code, out, _ = run_cli(["logs", "echo", "--tail", "2"])
    assert code == 0 and out.splitlines() == ["line 3", "line 4"]

    (echo.parent / "echo" / "extra.py").write_text("X = 2\n")
    code, out, err = run_cli(["deploy", str(echo)])
    assert code == 0, out + err
    assert "Deployed echo 0.1.1" in out and "API key" not in out
    code, out, err = run_cli(["rollback", "echo", "--json"])
    assert code == 0, out + err
    assert _json_lines(out)[-1]["version"] == "0.1.0"
    code, out, err = run_cli(["stop", "echo"])
    assert code == 0 and "Stopped echo 0.1.0" in out, out + err


def test_the_python_api_reaches_the_same_control_plane(remote: Remote, echo: Path) -> None:
    import agentdock

    steps: list[str] = []
    with agentdock.control_plane() as plane:
        done = plane.deploy(echo, progress=lambda step, message, **_: steps.append(step))
        assert done["agent"] == "echo" and "upload" in steps
        assert plane.status("echo")["status"] == "active"
        assert [v["version"] for v in plane.versions("echo")] == ["0.1.0"]
        made = plane.create_key("echo", "developer")
        assert made["key"].startswith("adk_")
        assert made["key_id"] in {k["key_id"] for k in plane.list_keys("echo")}
        assert plane.revoke_key("echo", made["key_id"])["state"] == "revoked"


@pytest.mark.parametrize(
    ("args", "env", "code", "said"),
    [
        (["status", "echo"], {"AGENTDOCK_SERVER_KEY": ""}, 1, "AGENTDOCK_SERVER_KEY"),
        (["status", "echo"], {"AGENTDOCK_SERVER_KEY": "adk_wrong"}, 1, "Unauthorized"),
        (["status", "nobody"], {}, 5, "nobody"),
        (["status", "echo", "--instance", "acme"], {}, 2, "--instance"),
        (["status", "echo"], {"AGENTDOCK_SERVER": "ftp://x"}, 1, "http(s) URL"),
        (["status", "echo"], {"AGENTDOCK_SERVER": "http://127.0.0.1:9"}, 4, "cannot be reached"),
    ],
)
def test_refusals_have_their_exit_codes(
    remote: Remote,
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    env: dict[str, str],
    code: int,
    said: str,
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    got, out, err = run_cli(args)
    assert got == code, out + err
    assert said in out + err
    assert remote.keys["developer"] not in out + err


def test_a_viewer_key_may_not_deploy(
    remote: Remote, echo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AGENTDOCK_SERVER_KEY", remote.keys["viewer"])
    code, out, err = run_cli(["deploy", str(echo), "--json"])
    assert code == 1, out + err
    assert _json_lines(out)[-1]["error"] == "Forbidden"
    assert not (remote.projects / ".uploads").exists()


def test_a_failed_remote_deploy_exits_with_the_deploys_code(remote: Remote, echo: Path) -> None:
    remote.plugin.target.fail_gate = "the runtime never answered"
    code, out, err = run_cli(["deploy", str(echo)])
    assert code == 4, out + err
    assert "the runtime never answered" in out + err


def test_a_packed_project_leaves_out_secrets_caches_and_links(tmp_path: Path) -> None:
    project = tmp_path / "p"
    (project / "pkg" / "__pycache__").mkdir(parents=True)
    (project / ".venv" / "lib").mkdir(parents=True)
    (project / "Dockfile.yaml").write_text("version: '1.1'\n")
    (project / "pkg" / "graph.py").write_text("G = 1\n")
    (project / "pkg" / "__pycache__" / "graph.cpython-311.pyc").write_bytes(b"x")
    (project / ".venv" / "lib" / "x.py").write_text("")
    (project / ".env").write_text(f"K={PLANTED}\n")
    (project / ".env.prod").write_text(f"K={PLANTED}\n")
    (project / ".env.example").write_text("K=\n")
    (project / "link").symlink_to("/etc/passwd")
    archive, name = pack_project(project / "Dockfile.yaml")
    assert name == "Dockfile.yaml"
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        names = sorted(tar.getnames())
    assert names == [".env.example", "Dockfile.yaml", "pkg/graph.py"]
    assert pack_project(project / "Dockfile.yaml")[0] == archive  # the same bytes again


def _tar(*members: tuple[tarfile.TarInfo, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for info, data in members:
            info.size = len(data) if info.isfile() else 0
            tar.addfile(info, io.BytesIO(data) if info.isfile() else None)
    return buffer.getvalue()


def _file(name: str, data: bytes = b"x") -> tuple[tarfile.TarInfo, bytes]:
    return tarfile.TarInfo(name), data


def _link(name: str, target: str, kind: bytes = tarfile.SYMTYPE) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, target
    return info, b""


@pytest.mark.parametrize(
    "archive",
    [
        _tar(_file("Dockfile.yaml"), _file("../escape.py")),
        _tar(_file("/etc/cron.d/x")),
        _tar(_file("Dockfile.yaml"), _link("graph.py", "/etc/passwd")),
        _tar(_file("Dockfile.yaml"), _link("hard.py", "/etc/passwd", tarfile.LNKTYPE)),
        _tar(_file("a\x1bb.py")),
        _tar(*[_file(f"f{n}.py") for n in range(6)]),
        _tar(_file("big.bin", b"0" * 4096)),
        _tar(_file("/".join(["d"] * 40) + "/x.py")),
        b"not a tar at all",
        b"",
    ],
    ids=[
        "climbs",
        "absolute",
        "symlink",
        "hardlink",
        "control",
        "members",
        "size",
        "depth",
        "garbage",
        "empty",
    ],
)
def test_hostile_archives_are_refused_whole(
    cp: Plane, archive: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(uploads, "MAX_MEMBERS", 5)
    monkeypatch.setattr(uploads, "MAX_UNPACKED_BYTES", 1024)
    answer = cp.client.post(
        "/controller/deploy/archive",
        content=archive,
        headers={**cp.auth("developer"), "content-type": "application/gzip"},
    )
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"] == "InvalidArchive"
    left = cp.plane.projects / ".uploads"
    assert not left.exists() or list(left.iterdir()) == []
    assert cp.plane.operations.recent() == []


@pytest.mark.parametrize("dockfile", ["../Dockfile.yaml", "/etc/passwd", "a b.yaml"])
def test_the_dockfile_inside_an_archive_may_not_climb_out(cp: Plane, dockfile: str) -> None:
    answer = cp.client.post(
        "/controller/deploy/archive",
        params={"dockfile": dockfile},
        content=_tar(_file("Dockfile.yaml")),
        headers={**cp.auth("developer"), "content-type": "application/gzip"},
    )
    assert answer.status_code == 400, answer.text
    assert cp.plane.operations.recent() == []


def _upload(cp: Plane, archive: bytes) -> dict[str, Any]:
    answer = cp.client.post(
        "/controller/deploy/archive",
        content=archive,
        headers={**cp.auth("developer"), "content-type": "application/gzip"},
    )
    assert answer.status_code == 202, answer.text
    return cp.wait(answer.json()["operation_id"])


def test_old_uploads_no_deployment_was_made_from_are_pruned(cp: Plane, echo: Path) -> None:
    unpacked = cp.plane.projects / ".uploads"
    assert _upload(cp, pack_project(echo)[0])["status"] == "succeeded"
    (deployed,) = list(unpacked.iterdir())
    stale, fresh, leftover = (
        unpacked / "00000000deadbeef",
        unpacked / "00000000f00dcafe",
        unpacked / ".00-x",
    )
    for folder in (stale, fresh, leftover):
        folder.mkdir()
        (folder / "Dockfile.yaml").write_text("version: '1.1'\n")
    long_ago = time.time() - cp.plane.uploads_keep_s - 60
    for folder in (deployed, stale, leftover):
        os.utime(folder, (long_ago, long_ago))

    (echo.parent / "echo" / "extra.py").write_text("X = 2\n")  # another archive: pruning runs
    assert _upload(cp, pack_project(echo)[0])["status"] == "succeeded"
    left = set(unpacked.iterdir())
    assert deployed in left  # old, but its version was deployed from there
    assert fresh in left  # unreferenced, but uploaded within the bound
    assert stale not in left and leftover not in left
    assert len(left) == 3  # and the new upload

    # At start-up too: a control plane over the same projects prunes before serving.
    os.utime(fresh, (long_ago, long_ago))
    again = ControlPlane(store=cp.plane.store, projects=cp.plane.projects, health_interval=0)
    with TestClient(controlplane_app(again)):
        assert fresh not in set(unpacked.iterdir())
        assert deployed in set(unpacked.iterdir())


def test_an_upload_counts_as_referenced_by_any_deployment_made_from_inside_it(
    tmp_path: Path,
) -> None:
    from types import SimpleNamespace

    root = (tmp_path / ".uploads").resolve()
    made = [
        SimpleNamespace(status="pending", settings={"project_dir": str(root / "aa" / "sub")}),
        SimpleNamespace(status="failed", settings={"project_dir": str(root / "bb")}),
        SimpleNamespace(status="active", settings={"project_dir": str(tmp_path / "elsewhere")}),
        SimpleNamespace(status="active", settings={}),
    ]
    assert uploads.referenced_uploads(tmp_path, made) == {root / "aa", root / "bb"}
