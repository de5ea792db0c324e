"""``agentdock deploy`` and ``agentdock rollback``: put a version live behind its health gate;
``agentdock build``: build and record a version without starting it.

Exit codes: 0 ok (also when nothing had to change), 1 invalid Dockfile or option (including
a version string already used for other content), 3 build failed (or dockerd not running),
4 deploy or health gate failed (the previous version keeps serving), 5 not found, 130
interrupted. With ``--server`` each acts through a control plane, with the same codes (and 4
when it cannot be reached).
"""

from __future__ import annotations

import shlex
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import click

from agentdock_cli import exitcodes
from agentdock_cli.auditgate import audit_before_deploy
from agentdock_cli.output import console
from agentdock_cli.progress import reporting
from agentdock_cli.remote import refuse_local_options, server_option

__all__ = ["build_command", "deploy_command", "rollback_command"]

_json_option = click.option(
    "--json", "as_json", is_flag=True, help="One JSON event per line (progress, then result)."
)
_instance_option = click.option(
    "--instance", default=None, metavar="NAME", help="A named instance of the agent (tenant)."
)
_timeout_option = click.option(
    "--timeout",
    type=click.FloatRange(1, 3600),
    default=60.0,
    show_default=True,
    help="Seconds the new runtime gets to answer /ready.",
)
_file_argument = click.argument(
    "file", required=False, default="Dockfile.yaml", type=click.Path(path_type=Path)
)
_version_option = click.option(
    "--version",
    "version",
    default=None,
    help="Version string (default: metadata.version or the next patch version).",
)
_base_image_option = click.option(
    "--base-image", default=None, help="Override build.base_image (docker builder)."
)
_env_file_option = click.option(
    "--env-file",
    "env_files",
    multiple=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="KEY=VALUE file for the runtime's variables (wins over the environment and .env).",
)


def _summary(deployment: Any, verb: str) -> None:
    out = console()
    if deployment.noop:
        out.print(
            f"[green]✓[/green] {deployment.agent} {deployment.version} is already active at "
            f"{deployment.endpoint} (nothing changed)"
        )
    else:
        cached = " (cached build)" if deployment.cached and verb == "Deployed" else ""
        previous = (
            f", replacing {deployment.previous_version}" if deployment.previous_version else ""
        )
        out.print(
            f"[green]✓[/green] {verb} {deployment.agent} {deployment.version}{cached} on "
            f"{deployment.target}{previous}"
        )
        out.print(f"  endpoint: {deployment.endpoint}")
    if deployment.host:
        from agentdock.deployment.inputs import reach_of

        out.print(f"  listening on {deployment.host}: {reach_of(deployment.host)}")
    if deployment.api_key:
        out.print(f"  API key {deployment.key_id} (shown once, store it now):")
        click.echo(deployment.api_key)
        click.echo(
            f"  curl -s {deployment.endpoint}/invoke -H 'x-api-key: {deployment.api_key}' "
            "-H 'content-type: application/json' -d '{...}'"
        )


@click.command("deploy")
@_file_argument
@click.option(
    "--target",
    default=None,
    help="Where to run it: local (default), docker, or a plugin's target.",
)
@_version_option
@_env_file_option
@_instance_option
@click.option(
    "--host",
    default=None,
    metavar="ADDRESS",
    help="Address the runtime listens on, or a container's port is published on (default: "
    "expose.host when the Dockfile sets it, else 127.0.0.1: this machine only). 0.0.0.0: "
    "every interface.",
)
@_timeout_option
@_base_image_option
@click.option(
    "--platform",
    "platforms",
    default=None,
    metavar="LIST",
    help="Build the image for these platforms (linux/amd64,linux/arm64: a manifest list, "
    "needs --push); default build.platforms, else the engine's.",
)
@click.option(
    "--push",
    "push",
    default=None,
    metavar="REGISTRY",
    help="Push the image to REGISTRY (host[:port][/path]) and run it by digest (docker "
    "builder); credentials from AGENTDOCK_REGISTRY_USERNAME/_PASSWORD or docker login.",
)
@click.option(
    "--dry-run",
    is_flag=True,
    help="Print what the target would apply (Kubernetes manifests); build and start nothing.",
)
@click.option(
    "-o",
    "--output",
    "fmt",
    type=click.Choice(["yaml", "json"]),
    default="yaml",
    show_default=True,
    help="--dry-run: the manifests' format.",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="--dry-run: write one file per object into this directory instead.",
)
@click.option(
    "--all-instances",
    is_flag=True,
    help="Roll FILE out to every named instance of its agent, one at a time, health-gated; "
    "stop at the first failure.",
)
@click.option(
    "--new-key",
    is_flag=True,
    help="Create (and print once) a new API key even if the agent has one (api_key mode).",
)
@click.option(
    "--print-env",
    is_flag=True,
    help="Print export lines (AGENTDOCK_ENDPOINT, AGENTDOCK_API_KEY) for `eval`; implies "
    "--new-key. Progress goes to stderr.",
)
@click.option("--namespace", default=None, help="--dry-run: the Kubernetes namespace.")
@click.option("--image", default=None, help="--dry-run: the image the manifests run.")
@click.option(
    "--ingress-from",
    "ingress_from",
    multiple=True,
    metavar="TERM",
    help="--dry-run: who the NetworkPolicy lets reach the agent: namespace (default), any, "
    "pods:K=V[,K=V], namespaces:K=V[,K=V] or cidr:NET; repeat to allow several "
    "(a deploy reads AGENTDOCK_KUBE_INGRESS_FROM).",
)
@click.option(
    "--egress-to",
    "egress_to",
    multiple=True,
    metavar="TERM",
    help="--dry-run: where the pods may connect besides DNS: any (default) or the same terms "
    "(a deploy reads AGENTDOCK_KUBE_EGRESS_TO).",
)
@click.option(
    "--strict",
    is_flag=True,
    help="Refuse to deploy while `agentdock audit` finds high-level problems in the agent.",
)
@server_option
@_json_option
def deploy_command(
    file: Path,
    target: str | None,
    version: str | None,
    env_files: tuple[Path, ...],
    instance: str | None,
    host: str | None,
    timeout: float,
    base_image: str | None,
    platforms: str | None,
    push: str | None,
    dry_run: bool,
    fmt: str,
    out_dir: Path | None,
    namespace: str | None,
    image: str | None,
    ingress_from: tuple[str, ...],
    egress_to: tuple[str, ...],
    all_instances: bool,
    new_key: bool,
    print_env: bool,
    strict: bool,
    server: str | None,
    as_json: bool,
) -> None:
    """Build FILE's agent and make it live, health-gated (default FILE: ./Dockfile.yaml).

    The same content deployed again changes nothing; the previous version serves until the
    new one answers /ready. On the first deploy of an api_key agent a key is printed once.
    """
    from agentdock.deployment import deploy

    if server:
        refuse_local_options(
            {
                "target": target,
                "version": version,
                "env_file": env_files,
                "instance": instance,
                "host": host,
                "base_image": base_image,
                "platform": platforms,
                "push": push,
                "dry_run": dry_run,
                "all_instances": all_instances,
                "new_key": new_key,
                "print_env": print_env,
            }
        )
        audit_before_deploy(file, strict=strict, as_json=as_json)
        _remote(server, as_json, "Deployed", lambda cp, report: cp.deploy(file, progress=report))
    if dry_run:
        network = {"ingress_from": ingress_from, "egress_to": egress_to}
        _dry_run(
            file,
            target,
            version,
            env_files,
            instance,
            fmt,
            out_dir,
            namespace,
            image,
            {k: v for k, v in network.items() if v},
        )
    audit_before_deploy(file, strict=strict, as_json=as_json)
    options: dict[str, Any] = {"base_image": base_image} if base_image else {}
    if push:
        options["push"] = push
    if platforms:
        options["platforms"] = platforms
    if all_instances:
        _all_instances(file, target, version, host, timeout, options, as_json)
    from agentdock.deployment.directories import is_agent_directory

    if is_agent_directory(file):
        refuse_local_options(
            {
                "version": version,
                "env_file": env_files,
                "instance": instance,
                "print_env": print_env,
            },
            reason="a directory of agents deploys each agent with its own version, .env and "
            "instance",
        )
        _directory(file, target, host, timeout, options, new_key, as_json)
    with reporting(as_json) as report:
        deployment = deploy(
            file,
            target=target,
            version=version,
            env_files=env_files,
            instance=instance,
            host=host,
            timeout=timeout,
            build_options=options,
            new_key=new_key or print_env,
            progress=report,
        )
        document = deployment.to_json()
        if deployment.api_key:
            document["api_key"] = deployment.api_key
        report.result(document)
    if print_env:
        click.echo(f"export AGENTDOCK_ENDPOINT={shlex.quote(deployment.endpoint or '')}")
        if deployment.api_key:
            click.echo(f"export AGENTDOCK_API_KEY={shlex.quote(deployment.api_key)}")
    elif not as_json:
        _summary(deployment, "Deployed")
    raise SystemExit(exitcodes.OK)


@click.command("build")
@_file_argument
@click.option(
    "--target",
    default=None,
    help="The target whose builder builds it: local (a bundle, default), docker (an image).",
)
@_version_option
@_env_file_option
@_base_image_option
@server_option
@_json_option
def build_command(
    file: Path,
    target: str | None,
    version: str | None,
    env_files: tuple[Path, ...],
    base_image: str | None,
    server: str | None,
    as_json: bool,
) -> None:
    """Build FILE's agent and record the version, starting nothing (default FILE:
    ./Dockfile.yaml).

    A later deploy of the same content, or a rollback to the version, starts what this built
    without building again. With --server the project is uploaded and built there.
    """
    from agentdock.deployment import build

    options: dict[str, Any] = {"base_image": base_image} if base_image else {}
    with reporting(as_json) as report, ExitStack() as opened:
        if server:
            refuse_local_options(
                {"version": version, "env_file": env_files, "base_image": base_image},
                reason="with --server (the control plane builds as it is configured)",
            )
            from agentdock.remote import control_plane

            plane = opened.enter_context(control_plane(server))
            document: dict[str, Any] = dict(plane.build(file, target=target, progress=report))
        else:
            document = build(
                file,
                target=target,
                version=version,
                env_files=env_files,
                build_options=options,
                progress=report,
            ).to_json()
        report.result(document)
    if not as_json:
        state = "cache hit" if document["cached"] else "built"
        recorded = "recorded" if document["new_version"] else "already recorded"
        console().print(
            f"[green]✓[/green] {document['agent']} {document['version']} {state} with the "
            f"{document['builder']} builder ({recorded}): {document['artifact'].get('ref')}"
            + (f" (through {server})" if server else "")
        )
        where = f" --target {document['target']}" if target else ""
        where += f" --server {server}" if server else ""
        console().print(f"  start it: agentdock deploy {shlex.quote(str(file))}{where}")
    raise SystemExit(exitcodes.OK)


def _remote(server: str, as_json: bool, verb: str, act: Any) -> None:
    """Run ``act(control_plane, reporter)`` against the control plane at ``server``, report
    its result as a local deploy does, and exit."""
    from agentdock.remote import control_plane

    with reporting(as_json) as report, control_plane(server) as plane:
        document = act(plane, report)
        report.result(document)
    if not as_json:
        done = (
            f"{document.get('agent')} {document.get('version')} is already active (nothing changed)"
            if document.get("noop")
            else f"{verb} {document.get('agent')} {document.get('version')} on "
            f"{document.get('target')}"
        )
        console().print(f"[green]✓[/green] {done} (through {server})")
        console().print(f"  endpoint: {document.get('endpoint')}")
        if document.get("api_key"):
            console().print(f"  API key {document.get('key_id')} (shown once, store it now):")
            click.echo(document["api_key"])
    raise SystemExit(exitcodes.OK)


def _directory(
    folder: Path,
    target: str | None,
    host: str | None,
    timeout: float,
    options: dict[str, Any],
    new_key: bool,
    as_json: bool,
) -> None:
    from agentdock.deployment import deploy_directory

    with reporting(as_json) as report:
        done = deploy_directory(
            folder,
            target=target,
            host=host,
            timeout=timeout,
            build_options=options,
            new_key=new_key,
            progress=report,
        )
        agents = []
        for deployment in done:
            document = deployment.to_json()
            if deployment.api_key:
                document["api_key"] = deployment.api_key
            agents.append(document)
        report.result({"agents": agents})
    if not as_json:
        for deployment in done:
            _summary(deployment, "Deployed")
    raise SystemExit(exitcodes.OK)


def _all_instances(
    file: Path,
    target: str | None,
    version: str | None,
    host: str | None,
    timeout: float,
    options: dict[str, Any],
    as_json: bool,
) -> None:
    from agentdock.deployment import deploy_instances

    with reporting(as_json) as report:
        done = deploy_instances(
            file,
            target=target,
            host=host,
            version=version,
            timeout=timeout,
            build_options=options,
            progress=report,
        )
        report.result({"instances": [d.to_json() for d in done]})
    if not as_json:
        for d in done:
            console().print(
                f"[green]✓[/green] {d.instance}: {d.agent} {d.version} at {d.endpoint}"
                + (" (unchanged)" if d.noop else "")
            )
    raise SystemExit(exitcodes.OK)


def _dry_run(
    file: Path,
    target: str | None,
    version: str | None,
    env_files: tuple[Path, ...],
    instance: str | None,
    fmt: str,
    out_dir: Path | None,
    namespace: str | None,
    image: str | None,
    network: dict[str, Any],
) -> None:
    from agentdock.deployment import dry_run

    with reporting(False):
        result = dry_run(
            file,
            target=target or "kubernetes",
            fmt=fmt,
            out_dir=out_dir,
            image=image,
            version=version,
            namespace=namespace,
            instance=instance,
            env_files=env_files,
            **network,
        )
    if result.get("text") is not None:
        click.echo(result["text"], nl=not str(result["text"]).endswith("\n"))
    for path in result.get("files") or []:
        click.echo(f"wrote {path}", err=True)
    if result.get("version"):
        version = result["version"]
        click.echo(f"# version {version}, as a deploy of this content records it", err=True)
    if result.get("hint"):
        click.echo(f"# {result['hint']}", err=True)
    for note in result.get("notes") or []:
        click.echo(f"# note: {note}", err=True)
    raise SystemExit(exitcodes.OK)


@click.command("rollback")
@click.argument("agent")
@click.argument("version", required=False)
@_env_file_option
@_instance_option
@_timeout_option
@server_option
@_json_option
def rollback_command(
    agent: str,
    version: str | None,
    env_files: tuple[Path, ...],
    instance: str | None,
    timeout: float,
    server: str | None,
    as_json: bool,
) -> None:
    """Make an earlier VERSION of AGENT live again (default: the one before the version
    serving now, or, after a stop, before the one that served last). Never builds; the
    version already serving, healthy, is left as it is (exit 0)."""
    from agentdock.deployment import rollback

    if server:
        refuse_local_options({"env_file": env_files, "instance": instance})
        _remote(
            server,
            as_json,
            "Rolled back to",
            lambda cp, report: cp.rollback(agent, version, progress=report),
        )

    with reporting(as_json) as report:
        deployment = rollback(
            agent,
            version,
            instance=instance,
            env_files=env_files,
            timeout=timeout,
            progress=report,
        )
        report.result(deployment.to_json())
    if not as_json:
        _summary(deployment, "Rolled back to")
    raise SystemExit(exitcodes.OK)
