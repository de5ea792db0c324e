"""Kubernetes manifests: every object validated offline against the OpenAPI schemas.

kubernetes-validate checks each manifest in strict mode (unknown fields are errors) for
several Kubernetes versions, for every example Dockfile and for generated ``deploy:``
blocks. The tests also hold the rules the schemas cannot: the security context, probes,
labels, which objects exist, and that no variable's value ever reaches a manifest.
"""

from __future__ import annotations

import glob
import json
import os
from pathlib import Path
from typing import Any

import pytest
import yaml
from agentdock import make_plugin_manager
from agentdock.deployment import InvalidDeployInput
from agentdock.spec.loader import load_document
from agentdock.validation import validate_document
from agentdock_plugins import kubernetes as k8s_plugin
from agentdock_plugins.kubernetes.manifests import (
    checks_api_keys,
    dump,
    names,
    render,
    render_file,
    required_variables,
    write,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kubernetes_validate import utils as kv

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted(glob.glob(str(ROOT / "examples" / "*" / "Dockfile.yaml")))
#: The oldest and newest releases the installed schemas cover, and one between.
VERSIONS = ("1.30", "1.33", "1.37")
PLANTED = "planted-secret-value-9d2c41f7e8a0b3c5d6e7"
SELECTOR_KEYS = {"app.kubernetes.io/name", "app.kubernetes.io/instance"}
REGISTRY = "AGENTDOCK_DATABASE_URL"
LABEL_KEYS = SELECTOR_KEYS | {
    "app.kubernetes.io/version",
    "app.kubernetes.io/component",
    "app.kubernetes.io/managed-by",
    "io.agentdock/agent",
    "io.agentdock/version",
}


def _validate(manifests: list[dict[str, Any]], versions: tuple[str, ...] = VERSIONS) -> None:
    for manifest in manifests:
        for version in versions:
            try:
                kv.validate(manifest, version, strict=True)
            except kv.ValidationError as exc:  # pragma: no cover - the message is the point
                where = ".".join(str(p) for p in exc.path)
                pytest.fail(f"{manifest['kind']} fails {version} at {where}: {exc.message}")


def _registry_of(raw: dict[str, Any] | None) -> set[str]:
    """The registry's URL, a Secret key of every agent that checks API keys."""
    return {REGISTRY} if checks_api_keys(raw or {}) else set()


def _by_kind(manifests: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {m["kind"]: m for m in manifests}


def _check_common(manifests: list[dict[str, Any]], agent: str, version: str) -> None:
    """The rules every rendering follows, whatever the Dockfile says."""
    kinds = [m["kind"] for m in manifests]
    # The NetworkPolicy is applied before the pods exist.
    assert kinds[:4] == ["ConfigMap", "Service", "NetworkPolicy", "Deployment"]
    base = names(agent).base
    for manifest in manifests:
        labels = manifest["metadata"]["labels"]
        assert set(labels) >= LABEL_KEYS, manifest["kind"]
        assert labels["app.kubernetes.io/managed-by"] == "agentdock"
        assert labels["io.agentdock/agent"] == agent
        assert labels["io.agentdock/version"] == version.replace("+", "_")
    objs = _by_kind(manifests)
    deployment = objs["Deployment"]
    spec = deployment["spec"]
    assert set(spec["selector"]["matchLabels"]) == SELECTOR_KEYS  # stable across versions
    assert objs["Service"]["spec"]["selector"] == spec["selector"]["matchLabels"]
    assert spec["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1},
    }
    template = spec["template"]
    assert set(template["metadata"]["labels"]) >= LABEL_KEYS
    annotations = template["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] in {"true", "false"}
    assert annotations["prometheus.io/path"] == "/metrics"
    pod = template["spec"]
    assert pod["automountServiceAccountToken"] is False
    assert pod["securityContext"] == {
        "runAsNonRoot": True,
        "runAsUser": 10001,
        "runAsGroup": 10001,
        "fsGroup": 10001,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    (container,) = pod["containers"]
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert security["runAsNonRoot"] is True
    assert container["livenessProbe"]["httpGet"]["path"] == "/health"
    assert container["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert container["startupProbe"]["httpGet"]["path"] == "/health"
    port = container["ports"][0]["containerPort"]
    assert annotations["prometheus.io/port"] == str(port)
    assert objs["Service"]["spec"]["ports"][0]["port"] == port
    # By default only the pods of the agent's namespace reach its port; egress is open.
    policy = objs["NetworkPolicy"]["spec"]
    assert policy == {
        "podSelector": {"matchLabels": spec["selector"]["matchLabels"]},
        "policyTypes": ["Ingress"],
        "ingress": [{"ports": [{"port": port, "protocol": "TCP"}], "from": [{"podSelector": {}}]}],
    }
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes[mounts["/tmp"]["name"]] == {"name": "tmp", "emptyDir": {}}
    assert mounts["/etc/agentdock/spec.yaml"]["readOnly"] is True
    assert volumes["spec"]["configMap"]["name"] == f"{base}-spec"
    env = {e["name"]: e for e in container["env"]}
    assert env["AGENTDOCK_SPEC"]["value"] == "/etc/agentdock/spec.yaml"
    snapshot = objs["ConfigMap"]["data"]["spec.yaml"]
    for name, entry in env.items():
        ref = entry.get("valueFrom", {}).get("secretKeyRef")
        if ref is not None:
            assert ref == {
                "name": f"{base}-env",
                "key": name,
                **({"optional": True} if ref.get("optional") else {}),
            }
            # Only variables the snapshot names, and the registry of an agent checking keys.
            keys = checks_api_keys(yaml.safe_load(snapshot))
            assert name in snapshot or (name == REGISTRY and keys)
    assert "Secret" not in kinds  # values never leave the user's environment


@pytest.fixture
def planted(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every variable an example references, set to the planted value."""
    for example in EXAMPLES:
        for name in load_document(example, environ={}, allow_unresolved=True).variables:
            monkeypatch.setenv(name, PLANTED)


@pytest.mark.parametrize("dockfile", EXAMPLES, ids=lambda p: Path(p).parent.name)
def test_every_example_renders_valid_manifests(dockfile: str, planted: None) -> None:
    manifests = render_file(dockfile, version="1.2.3")
    _validate(manifests)
    agent = yaml.safe_load(Path(dockfile).read_text())["agent"]["name"]
    _check_common(manifests, agent, "1.2.3")
    kinds = [m["kind"] for m in manifests]
    assert "HorizontalPodAutoscaler" not in kinds and "PodDisruptionBudget" not in kinds
    for text in (dump(manifests, "yaml"), dump(manifests, "json")):
        assert PLANTED not in text
    document = load_document(dockfile, environ={}, allow_unresolved=True)
    env = _by_kind(manifests)["Deployment"]["spec"]["template"]["spec"]["containers"][0]["env"]
    refs = {e["name"] for e in env if "valueFrom" in e}
    assert refs == set(document.variables) | _registry_of(document.raw)


@pytest.mark.parametrize("dockfile", EXAMPLES, ids=lambda p: Path(p).parent.name)
def test_a_pod_gets_the_dockfiles_variables_and_nothing_of_the_deploying_shell(
    dockfile: str, planted: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("UNRELATED_TOKEN", "shell-only-" + PLANTED)
    monkeypatch.setenv("AGENTDOCK_KEY_PEPPER", "shell-only-pepper-" + PLANTED)
    manifests = render_file(dockfile, version="1.2.3")
    pod = _by_kind(manifests)["Deployment"]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert "envFrom" not in container
    document = load_document(dockfile, environ={}, allow_unresolved=True)
    literal = set(((document.raw or {}).get("deploy") or {}).get("env") or {})
    variables = (set(document.variables) | _registry_of(document.raw)) - literal
    env = {e["name"]: e for e in container["env"]}
    own = {"AGENTDOCK_SPEC", "AGENTDOCK_HOST", "AGENTDOCK_PORT"}
    if variables:
        own.add("AGENTDOCK_SECRET_NAMES")  # names only: the runtime masks their values
        assert env["AGENTDOCK_SECRET_NAMES"]["value"] == ",".join(sorted(variables))
    assert set(env) == own | variables | literal
    for text in (dump(manifests, "yaml"), dump(manifests, "json")):
        assert "UNRELATED_TOKEN" not in text and "shell-only-" not in text


def test_the_invoice_example_reads_its_three_secrets_from_one_secret(planted: None) -> None:
    manifests = render_file(ROOT / "examples" / "invoice-copilot", version="2.0.0")
    container = _by_kind(manifests)["Deployment"]["spec"]["template"]["spec"]["containers"][0]
    refs = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in container["env"] if "valueFrom" in e}
    assert refs == {  # jwt with API keys too: the registry they are checked in
        name: {"name": "invoice-copilot-env", "key": name}
        for name in ("AGENTDOCK_DATABASE_URL", "JWT_SECRET", "LANGFUSE_PUBLIC", "LANGFUSE_SECRET")
    }
    assert _by_kind(manifests)["Deployment"]["metadata"]["name"] == "invoice-copilot"
    assert "${JWT_SECRET}" in _by_kind(manifests)["ConfigMap"]["data"]["spec.yaml"]


def test_a_variable_with_a_default_is_an_optional_reference(planted: None) -> None:
    manifests = render_file(ROOT / "examples" / "chat")
    container = _by_kind(manifests)["Deployment"]["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e for e in container["env"]}
    assert env["AGENT_MODEL_NAME"]["valueFrom"]["secretKeyRef"]["optional"] is True


# -- generated deploy blocks ---------------------------------------------------------------

_ECHO = yaml.safe_load((ROOT / "examples" / "echo" / "Dockfile.yaml").read_text())
_env_names = st.from_regex(r"[A-Z][A-Z0-9_]{0,11}", fullmatch=True).filter(
    lambda n: not n.startswith("AGENTDOCK_")
)
_cpu = st.one_of(
    st.integers(1, 4000).map(lambda m: f"{m}m"), st.sampled_from(["1", "2", "0.5", "1.5"])
)
_memory = st.one_of(
    st.integers(16, 4096).map(lambda n: f"{n}Mi"), st.sampled_from(["1Gi", "2G", "512M"])
)
_label_key = st.sampled_from(
    ["disktype", "topology.kubernetes.io/zone", "nvidia.com/gpu.present", "pool"]
)
_label_value = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True)


@st.composite
def deploy_blocks(draw: st.DrawFn) -> dict[str, Any]:
    block: dict[str, Any] = {}
    if draw(st.booleans()):
        block["replicas"] = draw(st.integers(1, 12))
    resources: dict[str, Any] = {}
    if draw(st.booleans()):
        resources["cpu"] = draw(_cpu)
    if draw(st.booleans()):
        resources["memory"] = draw(_memory)
    if draw(st.booleans()):
        resources["gpu"] = draw(st.integers(0, 4))
    if resources and draw(st.booleans()):
        # Limits at or above the requests: twice the request, or absent.
        limits = {}
        if "memory" in resources and resources["memory"].endswith("Mi"):
            limits["memory"] = f"{int(resources['memory'][:-2]) * 2}Mi"
        if "cpu" in resources and resources["cpu"].endswith("m"):
            limits["cpu"] = f"{int(resources['cpu'][:-1]) * 2}m"
        if limits:
            resources["limits"] = limits
    if resources:
        block["resources"] = resources
    if draw(st.booleans()):
        low = draw(st.integers(1, 5))
        block["autoscale"] = {
            "min_replicas": low,
            "max_replicas": draw(st.integers(low, 20)),
            "cpu_percent": draw(st.integers(1, 100)),
        }
        block.setdefault("resources", {}).setdefault("cpu", "250m")
    if draw(st.booleans()):
        block["node_selector"] = draw(st.dictionaries(_label_key, _label_value, max_size=3))
    secrets = draw(st.lists(_env_names, max_size=3, unique=True))
    if secrets:
        block["secrets"] = secrets
    env = draw(st.dictionaries(_env_names, st.sampled_from(["1", "on", "plain text"]), max_size=3))
    if env:
        block["env"] = env
    return block


def _render_mapping(data: dict[str, Any], environ: dict[str, str], **kw: Any) -> list[Any]:
    document = load_document(data, environ=environ, allow_unresolved=True)
    report = validate_document(document, skip_imports=True)
    assert report.ok, [f.message for f in report.errors]
    snapshot = yaml.safe_dump(document.raw, sort_keys=False)
    kw.setdefault("version", "0.4.2")
    return render(report.spec, snapshot=snapshot, image="registry.example/echo:abc", **kw)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(deploy_blocks(), st.sampled_from([None, "tenant-a", "t1"]))
def test_generated_deploy_blocks_render_valid_manifests(
    block: dict[str, Any], instance: str | None
) -> None:
    data = json.loads(json.dumps(_ECHO))
    data["deploy"] = block
    # A variable used by the Dockfile and one used by deploy.env, both planted.
    data["model"]["name"] = "${ECHO_MODEL}"
    if block.get("env"):
        first = sorted(block["env"])[0]
        block["env"][first] = "x-${ECHO_TOKEN}"
    environ = {"ECHO_MODEL": PLANTED, "ECHO_TOKEN": PLANTED}
    environ.update({name: PLANTED for name in block.get("secrets", [])})
    manifests = _render_mapping(data, environ, instance=instance)
    _validate(manifests, ("1.30", "1.37"))
    base = names("echo", instance).base
    objs = _by_kind(manifests)
    assert objs["Deployment"]["metadata"]["name"] == base
    assert PLANTED not in dump(manifests)

    autoscale = block.get("autoscale")
    replicas = autoscale["min_replicas"] if autoscale else block.get("replicas", 1)
    assert objs["Deployment"]["spec"]["replicas"] == replicas
    assert ("HorizontalPodAutoscaler" in objs) == (autoscale is not None)
    if autoscale:
        hpa = objs["HorizontalPodAutoscaler"]["spec"]
        assert hpa["scaleTargetRef"] == {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "name": base,
        }
        assert (hpa["minReplicas"], hpa["maxReplicas"]) == (
            autoscale["min_replicas"],
            autoscale["max_replicas"],
        )
        target = hpa["metrics"][0]["resource"]["target"]
        assert target["averageUtilization"] == autoscale["cpu_percent"]
    assert ("PodDisruptionBudget" in objs) == (replicas > 1)

    pod = objs["Deployment"]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    resources = block.get("resources", {})
    requests = container.get("resources", {}).get("requests", {})
    limits = container.get("resources", {}).get("limits", {})
    for name in ("cpu", "memory"):
        assert requests.get(name) == resources.get(name)
        assert limits.get(name) == (resources.get("limits", {}).get(name) or resources.get(name))
    gpus = resources.get("gpu") or 0
    assert limits.get("nvidia.com/gpu") == (gpus or None)
    selector = pod.get("nodeSelector", {})
    for key, value in block.get("node_selector", {}).items():
        assert selector[key] == value  # the Dockfile's wins over the GPU default
    if gpus:
        assert "nvidia.com/gpu.present" in selector
        assert pod["tolerations"] == [
            {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
        ]
    else:
        assert "tolerations" not in pod
    env = {e["name"]: e for e in container["env"]}
    for name in {*block.get("secrets", []), "ECHO_MODEL"} - set(block.get("env", {})):
        assert env[name]["valueFrom"]["secretKeyRef"] == {"name": f"{base}-env", "key": name}
    for name, value in block.get("env", {}).items():
        assert env[name]["value"] == value.replace("${ECHO_TOKEN}", "$(ECHO_TOKEN)")
    if any("${ECHO_TOKEN}" in v for v in block.get("env", {}).values()):
        # A referenced variable is defined before the literal that refers to it.
        names_in_order = [e["name"] for e in container["env"]]
        user = next(n for n, v in block["env"].items() if "${ECHO_TOKEN}" in v)
        assert names_in_order.index("ECHO_TOKEN") < names_in_order.index(user)


# -- bad input ----------------------------------------------------------------------------


def _dockfile(tmp_path: Path, **changes: Any) -> Path:
    data = json.loads(json.dumps(_ECHO))
    for key, value in changes.items():
        data[key] = value
    path = tmp_path / "Dockfile.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@pytest.mark.parametrize(
    "deploy",
    [
        {"resources": {"cpu": "2", "limits": {"cpu": "1"}}},
        {"resources": {"memory": "1Gi", "limits": {"memory": "512Mi"}}},
        {"replicas": -1},
        {"replicas": 0},
        {"autoscale": {"min_replicas": 5, "max_replicas": 2}, "resources": {"cpu": "1"}},
    ],
    ids=["cpu-above-limit", "memory-above-limit", "negative-replicas", "zero", "min-above-max"],
)
def test_impossible_deploy_blocks_are_invalid_input(tmp_path: Path, deploy: Any) -> None:
    path = _dockfile(tmp_path, deploy=deploy)
    with pytest.raises(InvalidDeployInput) as info:
        render_file(path)
    assert info.value.exit_code == 1
    assert (info.value.path or "").startswith("deploy")


def test_a_gpu_on_the_cpu_profile_is_refused(tmp_path: Path) -> None:
    path = _dockfile(tmp_path, build={"hardware": "cpu"}, deploy={"resources": {"gpu": 1}})
    with pytest.raises(InvalidDeployInput) as info:
        render_file(path)
    assert info.value.path == "deploy.resources.gpu"


def test_autoscale_without_a_cpu_request_is_refused(tmp_path: Path) -> None:
    path = _dockfile(tmp_path, deploy={"autoscale": {"max_replicas": 3}})
    with pytest.raises(InvalidDeployInput) as info:
        render_file(path)
    assert info.value.path == "deploy.autoscale"


@pytest.mark.parametrize(
    ("agent", "instance", "path"),
    [
        ("echo_", None, "agent.name"),  # "echo-" ends with a hyphen
        ("a" * 60, None, "agent.name"),  # "<name>-spec" is longer than 63
        ("e" * 40, "tenant-with-a-long-name", "--instance"),
    ],
    ids=["trailing-underscore", "too-long", "too-long-with-instance"],
)
def test_names_that_are_not_dns_labels_are_refused(
    tmp_path: Path, agent: str, instance: str | None, path: str
) -> None:
    dockfile = _dockfile(tmp_path, agent={**_ECHO["agent"], "name": agent})
    with pytest.raises(InvalidDeployInput) as info:
        render_file(dockfile, instance=instance)
    assert info.value.path == path
    assert "DNS-1123" in info.value.cause or "63" in info.value.cause


def test_a_version_that_cannot_be_a_label_is_refused_and_plus_is_mapped(tmp_path: Path) -> None:
    path = _dockfile(tmp_path)
    with pytest.raises(InvalidDeployInput) as info:
        render_file(path, version="1.0-")
    assert info.value.path == "metadata.version"
    manifests = render_file(path, version="1.0.0+build.7")
    assert manifests[0]["metadata"]["labels"]["app.kubernetes.io/version"] == "1.0.0_build.7"
    _validate(manifests, ("1.37",))


def test_a_placeholder_in_a_node_selector_is_refused(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("ZONE", PLANTED)
    path = _dockfile(tmp_path, deploy={"node_selector": {"zone": "${ZONE}"}})
    with pytest.raises(InvalidDeployInput) as info:
        render_file(path)
    assert info.value.path == "deploy.node_selector.zone"
    assert PLANTED not in json.dumps(info.value.to_json())


# -- output -------------------------------------------------------------------------------


def test_dump_and_write_round_trip(tmp_path: Path) -> None:
    path = _dockfile(
        tmp_path,
        deploy={"replicas": 3, "autoscale": {"max_replicas": 6}, "resources": {"cpu": "1"}},
    )
    manifests = render_file(path, namespace="agents", instance="acme")
    assert [m["kind"] for m in manifests] == [
        "ConfigMap",
        "Service",
        "NetworkPolicy",
        "Deployment",
        "HorizontalPodAutoscaler",
    ]  # autoscale min 1 → one replica at start: no PodDisruptionBudget
    assert all(m["metadata"]["namespace"] == "agents" for m in manifests)
    assert list(yaml.safe_load_all(dump(manifests))) == manifests
    listed = json.loads(dump(manifests, "json"))
    assert listed["kind"] == "List" and listed["items"] == manifests
    files = write(manifests, tmp_path / "out")
    assert [f.name for f in files] == [
        "00-configmap-echo-acme-spec.yaml",
        "01-service-echo-acme.yaml",
        "02-networkpolicy-echo-acme.yaml",
        "03-deployment-echo-acme.yaml",
        "04-horizontalpodautoscaler-echo-acme.yaml",
    ]
    assert [yaml.safe_load(f.read_text()) for f in files] == manifests
    as_json = write(manifests, tmp_path / "json", fmt="json")
    assert [json.loads(f.read_text()) for f in as_json] == manifests
    with pytest.raises(ValueError):
        dump(manifests, "toml")


def test_required_and_optional_variables(planted: None) -> None:
    path = ROOT / "examples" / "chat" / "Dockfile.yaml"
    document = load_document(path, environ={}, allow_unresolved=True)
    snapshot = yaml.safe_dump(document.raw, sort_keys=False)
    assert required_variables(snapshot) == ([REGISTRY], ["AGENT_MODEL_NAME"])
    data = {**document.raw, "deploy": {"secrets": ["API_TOKEN"], "env": {"AGENT_MODEL_NAME": "x"}}}
    assert required_variables(yaml.safe_dump(data)) == ([REGISTRY, "API_TOKEN"], [])
    data["auth"] = {"mode": "jwt", "jwt": {"algorithm": "HS256", "secret": "${JWT_SECRET}"}}
    assert required_variables(yaml.safe_dump(data)) == (["API_TOKEN", "JWT_SECRET"], [])


def test_the_plugin_registers_the_kubernetes_target_with_its_dry_run(
    tmp_path: Path, planted: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What ``agentdock deploy --target kubernetes --dry-run`` calls, through the plugin
    manager (the CLI imports no plugin): no kubeconfig is needed."""
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "absent"))
    manager = make_plugin_manager(plugins=[("kubernetes", k8s_plugin)])
    registration = manager.get("targets", "kubernetes")
    assert registration is not None
    target = registration.factory()
    assert target.builder == "docker"
    dockfile = ROOT / "examples" / "invoice-copilot" / "Dockfile.yaml"
    out = target.dry_run(dockfile, fmt="json", namespace="agents", instance="acme")
    listed = json.loads(out["text"])
    assert listed["items"] == out["manifests"] and out["files"] == []
    assert out["secret"] == "invoice-copilot-acme-env"
    assert out["required"] == [REGISTRY, "JWT_SECRET", "LANGFUSE_PUBLIC", "LANGFUSE_SECRET"]
    assert out["hint"] == (
        "kubectl create secret generic invoice-copilot-acme-env --from-env-file=.env "
        "--namespace agents"
    )
    written = target.dry_run(dockfile, out_dir=tmp_path / "gitops", image="reg.example/inv:1")
    assert written["text"] is None and len(written["files"]) == 4
    assert "image: reg.example/inv:1" in Path(written["files"][3]).read_text()
    assert PLANTED not in json.dumps(out) + json.dumps(written)


def test_cli_dry_run_prints_and_writes_valid_manifests(tmp_path: Path) -> None:
    import subprocess
    import sys

    dockfile = Path(__file__).resolve().parents[2] / "examples" / "chat" / "Dockfile.yaml"
    cli = [sys.executable, "-m", "agentdock_cli", "deploy", str(dockfile), "--dry-run"]
    env = {k: v for k, v in os.environ.items() if k != "AGENTDOCK_DATABASE_URL"}
    env["AGENTDOCK_HOME"] = str(tmp_path / "home")
    network = ["--ingress-from", "pods:app=gw", "--ingress-from", "cidr:10.0.0.0/8"]
    printed = subprocess.run(
        [*cli, "-o", "json", *network, "--egress-to", "cidr:10.1.0.0/16"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=env,
    )
    assert printed.returncode == 0, printed.stderr
    items = json.loads(printed.stdout)["items"]
    policy = items[2]["spec"]
    assert policy["ingress"][0]["from"] == [
        {"podSelector": {"matchLabels": {"app": "gw"}}},
        {"ipBlock": {"cidr": "10.0.0.0/8"}},
    ]
    assert policy["egress"][1] == {"to": [{"ipBlock": {"cidr": "10.1.0.0/16"}}]}
    assert [item["kind"] for item in items] == [
        "ConfigMap",
        "Service",
        "NetworkPolicy",
        "Deployment",
    ]
    assert items[3]["spec"]["template"]["spec"]["containers"][0]["image"] == (
        "agentdock/chat:0.1.0"
    )
    # What a person needs to know goes to stderr: the version, the image, the registry.
    assert "# version 0.1.0" in printed.stderr
    assert "# note: chat 0.1.0 has no docker image yet" in printed.stderr
    assert "# note: deploy --target kubernetes refuses this" in printed.stderr
    assert not (tmp_path / "home").exists()  # a dry run creates no registry
    written = subprocess.run(
        [*cli, "--out", str(tmp_path / "out")], capture_output=True, text=True, timeout=120
    )
    assert written.returncode == 0, written.stderr
    assert sorted(p.suffix for p in (tmp_path / "out").iterdir()) == [".yaml"] * 4
    refused = subprocess.run(
        [*cli, "--target", "local"], capture_output=True, text=True, timeout=120
    )
    assert refused.returncode == 1 and "no dry run" in refused.stderr
    malformed = subprocess.run(
        [*cli, "--ingress-from", "pods"], capture_output=True, text=True, timeout=120, env=env
    )
    assert malformed.returncode == 1 and "--ingress-from 'pods'" in malformed.stderr


# -- one version and one image reference for every target ----------------------------------


def test_a_dry_run_renders_the_version_and_image_a_deploy_would_use(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The version comes from the registry like a deploy's; the image is the one the docker
    builder recorded for it, else its name without the digest only a build gives."""
    import shutil

    from agentdock.deployment import deploy, dry_run
    from agentdock.registry import open_store
    from deploy_fakes import FakePlugin

    home = tmp_path / "home"
    monkeypatch.setenv("AGENTDOCK_HOME", str(home))
    monkeypatch.delenv("AGENTDOCK_DATABASE_URL", raising=False)
    project = tmp_path / "echo"
    shutil.copytree(ROOT / "examples" / "echo", project, ignore=shutil.ignore_patterns("__py*"))
    graph = project / "echo" / "graph.py"
    manager = make_plugin_manager(plugins=[("fake", FakePlugin()), ("k8s", k8s_plugin)])

    def render() -> dict[str, Any]:
        out = dry_run(project, target="kubernetes", plugins=manager)
        deployment = _by_kind(out["manifests"])["Deployment"]
        labels = deployment["metadata"]["labels"]
        assert labels["app.kubernetes.io/version"] == out["version"]
        out["image"] = deployment["spec"]["template"]["spec"]["containers"][0]["image"]
        return out

    first = render()  # no registry yet: none is created by a dry run
    assert (first["version"], first["image"]) == ("0.1.0", "agentdock/echo:0.1.0")
    assert not first["image_built"] and "has no docker image yet" in first["notes"][0]
    assert not (home / "registry.db").exists()

    deploy(project, target="fake", plugins=manager, check_imports=False)
    graph.write_text(graph.read_text() + "\n# v2\n")
    v2 = deploy(project, target="fake", plugins=manager, check_imports=False)
    assert v2.version == "0.1.1"
    same = render()  # the working tree holds 0.1.1's content
    assert (same["version"], same["image"]) == ("0.1.1", "agentdock/echo:0.1.1")
    with open_store() as store:
        row = store.get_version("echo", "0.1.1")
        built = f"agentdock/echo:0.1.1-{'ab' * 6}"
        store.record_artifact(version_id=row.id, builder="docker", ref=built, digest="ab" * 32)
    found = render()
    assert (found["version"], found["image"], found["image_built"]) == ("0.1.1", built, True)
    assert not any("no docker image" in note for note in found["notes"])
    graph.write_text(graph.read_text() + "\n# v3\n")
    assert render()["version"] == "0.1.2"  # new content: the next patch, as a deploy says
    given = dry_run(project, target="kubernetes", plugins=manager, image="reg.example/e:1")
    assert "image: reg.example/e:1" in given["text"]


def test_a_dry_run_of_an_api_key_agent_says_what_a_deploy_needs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from agentdock.deployment import dry_run

    monkeypatch.setenv("AGENTDOCK_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("AGENTDOCK_DATABASE_URL", raising=False)
    manager = make_plugin_manager(plugins=[("k8s", k8s_plugin)])
    out = dry_run(ROOT / "examples" / "echo", target="kubernetes", plugins=manager)
    assert "AGENTDOCK_DATABASE_URL" in out["required"]
    pod = _by_kind(out["manifests"])["Deployment"]["spec"]["template"]["spec"]
    env = {e["name"]: e for e in pod["containers"][0]["env"]}
    assert env["AGENTDOCK_DATABASE_URL"]["valueFrom"]["secretKeyRef"]["name"] == "echo-env"
    (note,) = [n for n in out["notes"] if "refuses" in n]
    assert "AGENTDOCK_DATABASE_URL=postgresql://" in note
    shared_env = tmp_path / "shared.env"
    shared_env.write_text(f"AGENTDOCK_DATABASE_URL=postgresql://u:{PLANTED}@db/agentdock\n")
    shared = dry_run(
        ROOT / "examples" / "echo", target="kubernetes", plugins=manager, env_files=[shared_env]
    )
    assert not any("refuses" in n for n in shared["notes"])
    assert PLANTED not in json.dumps(shared["manifests"])


# -- the NetworkPolicy and the image reference -------------------------------------------------


def test_the_network_policy_admits_the_peers_asked_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _dockfile(tmp_path)
    ingress = (
        "pods:app.kubernetes.io/name=gateway,tier=edge",
        "namespaces:kubernetes.io/metadata.name=monitoring",
        "cidr:10.0.0.0/8",
    )
    manifests = render_file(path, ingress_from=ingress, egress_to=("cidr:10.20.0.0/16",))
    _validate(manifests)
    policy = _by_kind(manifests)["NetworkPolicy"]["spec"]
    assert policy["policyTypes"] == ["Ingress", "Egress"]
    assert policy["ingress"][0]["from"] == [
        {"podSelector": {"matchLabels": {"app.kubernetes.io/name": "gateway", "tier": "edge"}}},
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}},
        {"ipBlock": {"cidr": "10.0.0.0/8"}},
    ]
    # Egress asked for: DNS anywhere, then only the peers given.
    assert policy["egress"] == [
        {"ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]},
        {"to": [{"ipBlock": {"cidr": "10.20.0.0/16"}}]},
    ]
    anyone = _by_kind(render_file(path, ingress_from=("any",)))["NetworkPolicy"]["spec"]
    assert anyone["ingress"] == [{"ports": [{"port": 8080, "protocol": "TCP"}]}]

    for bad in ("pods:", "pods:app", "pods:app=a b", "everyone", "cidr:10.0.0.1/8", "cidr:x"):
        with pytest.raises(InvalidDeployInput) as info:
            render_file(path, ingress_from=(bad,))
        assert info.value.path == "--ingress-from" and info.value.exit_code == 1
        assert "pods:KEY=VALUE" in (info.value.hint or "")
    with pytest.raises(InvalidDeployInput, match="any stands alone"):
        render_file(path, egress_to=("any", "cidr:10.0.0.0/8"))

    # A deploy (and a dry run without the options) reads the variables; options win.
    monkeypatch.setenv("AGENTDOCK_KUBE_INGRESS_FROM", " pods:app=gw   cidr:192.168.0.0/16 ")
    monkeypatch.setenv("AGENTDOCK_KUBE_EGRESS_TO", "namespaces:team=data")
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "absent"))
    from agentdock_plugins.kubernetes.target import KubernetesTarget

    target = KubernetesTarget()
    from_env = _by_kind(target.dry_run(path)["manifests"])["NetworkPolicy"]["spec"]
    assert from_env["ingress"][0]["from"] == [
        {"podSelector": {"matchLabels": {"app": "gw"}}},
        {"ipBlock": {"cidr": "192.168.0.0/16"}},
    ]
    assert from_env["egress"][1] == {
        "to": [{"namespaceSelector": {"matchLabels": {"team": "data"}}}]
    }
    given = target.dry_run(path, ingress_from=("namespace",), egress_to=("any",))
    policy = _by_kind(given["manifests"])["NetworkPolicy"]["spec"]
    assert policy["ingress"][0]["from"] == [{"podSelector": {}}]
    assert policy["policyTypes"] == ["Ingress"]
    monkeypatch.setenv("AGENTDOCK_KUBE_INGRESS_FROM", "pods=gw")
    with pytest.raises(InvalidDeployInput, match="--ingress-from 'pods=gw'"):
        target.dry_run(path)


def test_an_image_by_tag_carries_its_id_and_one_by_digest_needs_none(tmp_path: Path) -> None:
    from agentdock_plugins.kubernetes.image import pin, repository_of
    from agentdock_plugins.kubernetes.manifests import IMAGE_ID_ANNOTATION

    image_id = "sha256:" + "1f" * 32
    digest = "sha256:" + "2e" * 32
    tagged = render_file(_dockfile(tmp_path), image="agentdock/echo:1.0-abc")
    spec = _by_kind(tagged)["Deployment"]["spec"]["template"]
    assert IMAGE_ID_ANNOTATION not in spec["metadata"]["annotations"]  # no id known
    from agentdock_plugins.kubernetes.manifests import render as render_spec

    document = load_document(_dockfile(tmp_path), environ={}, allow_unresolved=True)
    report = validate_document(document, skip_imports=True)
    snapshot = yaml.safe_dump(document.raw, sort_keys=False)
    for image, annotated in (
        ("agentdock/echo:1.0-abc", True),
        (f"registry.example:5000/team/echo@{digest}", False),
    ):
        rendered = render_spec(
            report.spec, snapshot=snapshot, image=image, version="1.0", image_id=image_id
        )
        _validate(rendered)
        template = _by_kind(rendered)["Deployment"]["spec"]["template"]
        assert template["spec"]["containers"][0]["image"] == image
        assert (IMAGE_ID_ANNOTATION in template["metadata"]["annotations"]) is annotated

    # The digest a registry gave the image: of the same repository, else the only one.
    assert repository_of("registry.example:5000/team/echo:1.0") == "registry.example:5000/team/echo"
    assert repository_of(f"agentdock/echo@{digest}") == "agentdock/echo"
    assert repository_of("registry.example:5000/echo") == "registry.example:5000/echo"
    attrs = {"RepoDigests": [f"mirror.example/echo@{digest}", f"agentdock/echo@{digest}"]}
    assert pin("agentdock/echo:1.0-abc", attrs) == f"agentdock/echo@{digest}"
    assert pin("other/echo:1", {"RepoDigests": [f"mirror.example/echo@{digest}"]}) == (
        f"mirror.example/echo@{digest}"
    )
    assert pin("other/echo:1", attrs) is None  # several elsewhere: which one is not ours to say
    assert pin("agentdock/echo:1.0-abc", {"RepoDigests": []}) is None
    assert pin(f"x/y@{digest}", {}) == f"x/y@{digest}"


def _limited(tmp_path: Path, deploy: dict[str, Any]) -> Path:
    """A jwt agent (no registry involved) with a rate limit and the ``deploy`` block."""
    auth = {
        "mode": "jwt",
        "jwt": {"secret_key": PLANTED * 2},
        "rate_limits": {"developer": "20/m"},
    }
    return _dockfile(tmp_path, auth=auth, deploy=deploy)


@pytest.mark.parametrize(
    ("deploy", "most"),
    [
        ({"replicas": 3}, 3),
        ({"autoscale": {"min_replicas": 1, "max_replicas": 4}, "resources": {"cpu": "1"}}, 4),
    ],
    ids=["replicas", "autoscale"],
)
def test_replicas_with_rate_limits_and_no_redis_are_refused_naming_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, deploy: dict[str, Any], most: int
) -> None:
    """Each pod would keep its own budget: a caller would get the limit once per replica."""
    from agentdock.deployment import dry_run

    monkeypatch.setenv("AGENTDOCK_HOME", str(tmp_path / "home"))
    manager = make_plugin_manager(plugins=[("k8s", k8s_plugin)])
    path = _limited(tmp_path, deploy)
    out = dry_run(path, target="kubernetes", plugins=manager)
    (note,) = [n for n in out["notes"] if "AGENTDOCK_REDIS_URL" in n]
    assert note.startswith("deploy --target kubernetes refuses this:")
    assert "auth.rate_limits" in note and f"{most} replicas" in note
    assert f"{most} times" in note and "deploy.secrets" in note
    target = manager.get("targets", "kubernetes").factory()
    document = load_document(path, environ={}, allow_unresolved=True)
    spec = validate_document(document, skip_imports=True).spec
    snapshot = yaml.safe_dump(document.raw, sort_keys=False)
    with pytest.raises(InvalidDeployInput) as info:
        target.preflight(spec, snapshot=snapshot, version="1.0.0", env={})
    assert info.value.exit_code == 1
    assert info.value.path == ("deploy.autoscale" if "autoscale" in deploy else "deploy.replicas")
    assert "AGENTDOCK_REDIS_URL" in info.value.cause


@pytest.mark.parametrize(
    "deploy",
    [
        {"replicas": 1},
        {"replicas": 3, "secrets": ["AGENTDOCK_REDIS_URL"]},
        {"replicas": 3, "env": {"AGENTDOCK_REDIS_URL": "redis://redis.agents:6379/0"}},
    ],
    ids=["one-replica", "redis-from-the-secret", "redis-in-deploy-env"],
)
def test_one_replica_or_a_shared_redis_renders_without_a_note(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, deploy: dict[str, Any]
) -> None:
    from agentdock.deployment import dry_run

    monkeypatch.setenv("AGENTDOCK_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("AGENTDOCK_REDIS_URL", "redis://planted:6379/0")
    manager = make_plugin_manager(plugins=[("k8s", k8s_plugin)])
    out = dry_run(_limited(tmp_path, deploy), target="kubernetes", plugins=manager)
    assert not any("AGENTDOCK_REDIS_URL" in n for n in out["notes"]), out["notes"]
    pod = _by_kind(out["manifests"])["Deployment"]["spec"]["template"]["spec"]
    env = {e["name"] for e in pod["containers"][0]["env"]}
    assert ("AGENTDOCK_REDIS_URL" in env) == ("replicas" in deploy and deploy["replicas"] > 1)


@pytest.mark.parametrize("kind", ["postgres", "redis"])
def test_a_shared_checkpointer_needs_its_url_from_the_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    """The URL (with its password) reaches the pods only as a secretKeyRef."""
    from agentdock.deployment import dry_run

    monkeypatch.setenv("AGENTDOCK_HOME", str(tmp_path / "home"))
    password = "pl4nted-checkpoint-passw0rd"
    monkeypatch.setenv("AGENTDOCK_CHECKPOINT_URL", f"{kind}://u:{password}@db.agents:5432/0")
    manager = make_plugin_manager(plugins=[("k8s", k8s_plugin)])
    auth = {"mode": "jwt", "jwt": {"secret_key": PLANTED * 2}}
    arguments = {"checkpointer": kind}
    path = _dockfile(tmp_path, auth=auth, arguments=arguments)
    out = dry_run(path, target="kubernetes", plugins=manager)
    (note,) = [n for n in out["notes"] if "AGENTDOCK_CHECKPOINT_URL" in n]
    assert "arguments.checkpointer" in note and "deploy.secrets" in note
    target = manager.get("targets", "kubernetes").factory()
    document = load_document(path, environ={}, allow_unresolved=True)
    spec = validate_document(document, skip_imports=True).spec
    snapshot = yaml.safe_dump(document.raw, sort_keys=False)
    with pytest.raises(InvalidDeployInput) as info:
        target.preflight(spec, snapshot=snapshot, version="1.0.0", env={})
    assert info.value.path == "arguments.checkpointer"

    path = _dockfile(
        tmp_path, auth=auth, arguments=arguments, deploy={"secrets": ["AGENTDOCK_CHECKPOINT_URL"]}
    )
    out = dry_run(path, target="kubernetes", plugins=manager)
    assert not any("AGENTDOCK_CHECKPOINT_URL" in n for n in out["notes"]), out["notes"]
    pod = _by_kind(out["manifests"])["Deployment"]["spec"]["template"]["spec"]
    (env,) = [e for e in pod["containers"][0]["env"] if e["name"] == "AGENTDOCK_CHECKPOINT_URL"]
    assert "secretKeyRef" in env["valueFrom"]
    assert password not in json.dumps(out)
