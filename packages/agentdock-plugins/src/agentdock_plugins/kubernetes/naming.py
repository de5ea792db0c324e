"""The names of an agent's Kubernetes objects and the labels that select its pods.

Every name derived from an agent (and instance) is checked to be a DNS-1123 label, and a
version to be a label value, before anything is rendered: a bad one is blamed on the input
it came from (``agent.name``, ``--instance``, ``metadata.version``).
"""

from __future__ import annotations

import re

from agentdock.deployment.errors import InvalidDeployInput

__all__ = ["DNS_LABEL", "ObjectNames", "label_value", "names", "selector"]

DNS_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")


class ObjectNames:
    """The derived names of one agent (and instance): DNS-1123 labels, checked."""

    __slots__ = ("agent", "base", "configmap", "instance", "secret")

    def __init__(self, agent: str, instance: str | None = None) -> None:
        dns = agent.replace("_", "-")
        base = f"{dns}-{instance}" if instance else dns
        # Every derived name must be a DNS label (the Service's is the base itself); the
        # longest is ``<base>-spec``. The agent alone is checked first, to blame the right input.
        checks = [(dns, "agent.name")]
        if instance:
            checks.append((base, "--instance"))
        for stem, path in checks:
            for candidate in (stem, f"{stem}-spec"):
                if len(candidate) <= 63 and DNS_LABEL.match(candidate):
                    continue
                why = "longer than 63 characters" if len(candidate) > 63 else "not a DNS-1123 label"
                raise InvalidDeployInput(
                    f"the Kubernetes name {candidate!r} derived from agent {agent!r}"
                    + (f" and instance {instance!r}" if path == "--instance" else "")
                    + f" is {why}",
                    hint="use a shorter agent or instance name, starting with a letter and "
                    "ending with a letter or digit",
                    path=path,
                )
        self.agent = agent
        self.instance = instance
        self.base = base
        self.configmap = f"{base}-spec"
        self.secret = f"{base}-env"


def names(agent: str, instance: str | None = None) -> ObjectNames:
    """The object names for ``agent`` (``_`` → ``-``) and an optional instance suffix."""
    return ObjectNames(agent, instance)


def selector(agent: str, instance: str | None = None) -> dict[str, str]:
    """The labels that select an agent's pods, stable across versions."""
    base = names(agent, instance).base
    return {"app.kubernetes.io/name": agent.replace("_", "-"), "app.kubernetes.io/instance": base}


def label_value(value: str, path: str) -> str:
    text = value.replace("+", "_")
    if len(text) > 63 or not _LABEL_VALUE.match(text):
        raise InvalidDeployInput(
            f"{value!r} cannot be a Kubernetes label value (at most 63 characters: letters, "
            "digits, - _ . and starting and ending with a letter or digit)",
            path=path,
        )
    return text
