"""Where the control plane sends deploys and builds: the request's target, else the
Dockfile's ``deploy.target``, else the control plane's own (``--target``), else local; and
its build options (``--base-image``) reach every build. Against the fake plugins."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from controlplane_support import Plane

pytest_plugins = ("deploy_fixtures", "controlplane_fixtures")


def _run(cp: Plane, path: str, body: dict[str, Any]) -> dict[str, Any]:
    answer = cp.client.post(path, json=body, headers=cp.auth("developer"))
    assert answer.status_code == 202, answer.text
    done = cp.wait(answer.json()["operation_id"])
    assert done["status"] == "succeeded", done
    result: dict[str, Any] = done["result"]
    return result


def test_the_control_planes_target_is_used_when_the_dockfile_names_none(
    cp: Plane, project: Path, fakes: tuple[Any, Any]
) -> None:
    _, plugin = fakes
    options: list[dict[str, Any]] = []
    original = plugin.builder.build

    def recording(request: Any, progress: Any) -> Any:
        options.append(dict(request.options))
        return original(request, progress)

    plugin.builder.build = recording
    cp.plane.target = "fake-promote"
    cp.plane.build_options = {"base_image": "example.invalid/base:1"}
    dockfile = project / "Dockfile.yaml"

    assert _run(cp, "/controller/deploy", {"dockfile": str(dockfile)})["target"] == "fake-promote"
    assert options == [{"base_image": "example.invalid/base:1"}]
    assert ("promote", 1) in plugin.log  # the promoting target did the start

    # The Dockfile's own deploy.target wins over the control plane's.
    dockfile.write_text(dockfile.read_text() + "\ndeploy:\n  target: fake\n")
    assert _run(cp, "/controller/deploy", {"dockfile": str(dockfile)})["target"] == "fake"
    # A build names its target in the request, which wins over both.
    built = _run(cp, "/build/start", {"dockfile": str(dockfile), "target": "fake-promote"})
    assert built["target"] == "fake-promote"
    assert options and all(o == {"base_image": "example.invalid/base:1"} for o in options)
    deployments = cp.client.get("/controller/deployments/echo", headers=cp.auth("viewer")).json()
    assert [d["target"] for d in deployments] == ["fake", "fake-promote"]


def test_the_command_refuses_an_unknown_target(home: Path) -> None:
    from agentdock_plugins.controlplane.commands import controlplane_command
    from click.testing import CliRunner

    refused = CliRunner().invoke(
        controlplane_command, ["--insecure-no-auth", "--port", "0", "--target", "nowhere"]
    )
    assert refused.exit_code == 1
    assert "no target named 'nowhere'" in refused.output
    assert "docker" in refused.output and "local" in refused.output
