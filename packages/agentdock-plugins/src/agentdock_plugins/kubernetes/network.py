"""The NetworkPolicy of an agent's pods: who may reach its port, and where the pods may go.

A Service makes the pods reachable from every pod of the cluster; the policy narrows that.
Ingress reaches the agent's port only from the peers asked for, by default the pods of the
agent's own namespace (``namespace``). Egress is open by default (``any``): an agent calls
model providers, tools and telemetry endpoints by host name, which a NetworkPolicy cannot
name, so only the operator can list the addresses; when asked, egress is limited to DNS and
those peers.

Peers are written as terms, several of them OR'ed:

``namespace``
    every pod of the agent's namespace;
``any``
    every source (ingress) or destination (egress), alone;
``pods:KEY=VALUE[,KEY=VALUE...]``
    the pods of the agent's namespace with those labels;
``namespaces:KEY=VALUE[,KEY=VALUE...]``
    every pod of the namespaces with those labels (``namespaces:kubernetes.io/metadata.name
    =ingress-nginx``: one namespace by name);
``cidr:ADDRESS/BITS``
    an address block (``10.0.0.0/8``), IPv4 or IPv6.

They come from ``--ingress-from``/``--egress-to`` (a dry run) or ``AGENTDOCK_KUBE_INGRESS_FROM``
/ ``AGENTDOCK_KUBE_EGRESS_TO`` (terms separated by white space), as the namespace does.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from agentdock.deployment.errors import InvalidDeployInput

__all__ = [
    "DEFAULT_EGRESS",
    "DEFAULT_INGRESS",
    "EGRESS_ENV",
    "INGRESS_ENV",
    "network_policy",
    "peers",
    "terms_from_env",
]

INGRESS_ENV = "AGENTDOCK_KUBE_INGRESS_FROM"
EGRESS_ENV = "AGENTDOCK_KUBE_EGRESS_TO"
DEFAULT_INGRESS = ("namespace",)
DEFAULT_EGRESS = ("any",)
_DNS_PORTS = [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]
_GRAMMAR = (
    "write namespace, any, pods:KEY=VALUE[,KEY=VALUE], namespaces:KEY=VALUE[,KEY=VALUE] "
    "or cidr:ADDRESS/BITS"
)
# A label key: an optional DNS-subdomain prefix and a name of at most 63 characters.
_KEY_NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")
_KEY_PREFIX = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")
_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?$")


def terms_from_env(name: str, environ: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """The terms of the variable ``name`` (white-space separated; empty when unset)."""
    env = os.environ if environ is None else environ
    return tuple(env.get(name, "").split())


def peers(terms: Sequence[str], option: str) -> list[dict[str, Any]] | None:
    """The NetworkPolicy peers of ``terms`` (None: ``any``, no restriction).

    :raises InvalidDeployInput: a term is not one of the forms above, or ``any`` is not alone.
    """
    out: list[dict[str, Any]] = []
    for term in terms:
        kind, colon, rest = term.partition(":")
        if term == "any":
            if len(terms) > 1:
                raise _bad(term, option, "any stands alone: it already admits every peer")
            return None
        if term == "namespace":
            out.append({"podSelector": {}})
        elif colon and kind in ("pods", "namespaces"):
            labels = _labels(rest, term, option)
            key = "podSelector" if kind == "pods" else "namespaceSelector"
            out.append({key: {"matchLabels": labels}})
        elif colon and kind == "cidr":
            try:
                block = ipaddress.ip_network(rest, strict=True)
            except ValueError as exc:
                raise _bad(term, option, str(exc)) from None
            out.append({"ipBlock": {"cidr": str(block)}})
        else:
            raise _bad(term, option, "unknown form")
    if not out:
        raise _bad("", option, "no term given")
    return out


def network_policy(
    meta: Mapping[str, Any],
    match: Mapping[str, str],
    port: int,
    ingress_from: Sequence[str] = DEFAULT_INGRESS,
    egress_to: Sequence[str] = DEFAULT_EGRESS,
) -> dict[str, Any]:
    """The NetworkPolicy selecting the pods ``match`` selects: ingress to ``port`` (TCP) from
    ``ingress_from``; egress to DNS and ``egress_to`` when that is not ``any``."""
    sources = peers(ingress_from or DEFAULT_INGRESS, "--ingress-from")
    destinations = peers(egress_to or DEFAULT_EGRESS, "--egress-to")
    rule: dict[str, Any] = {"ports": [{"port": int(port), "protocol": "TCP"}]}
    if sources is not None:
        rule["from"] = sources
    spec: dict[str, Any] = {
        "podSelector": {"matchLabels": dict(match)},
        "policyTypes": ["Ingress"],
        "ingress": [rule],
    }
    if destinations is not None:
        spec["policyTypes"].append("Egress")
        spec["egress"] = [{"ports": list(_DNS_PORTS)}, {"to": destinations}]
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": dict(meta),
        "spec": spec,
    }


def _labels(text: str, term: str, option: str) -> dict[str, str]:
    labels: dict[str, str] = {}
    for pair in _split(text):
        key, eq, value = pair.partition("=")
        prefix, slash, name = key.rpartition("/")
        if not eq or not _KEY_NAME.match(name) or (slash and not _KEY_PREFIX.match(prefix)):
            raise _bad(term, option, f"{pair!r} is not KEY=VALUE with a label key")
        if not _VALUE.match(value):
            raise _bad(term, option, f"{value!r} cannot be a label value")
        labels[key] = value
    if not labels:
        raise _bad(term, option, "no KEY=VALUE given")
    return labels


def _split(text: str) -> Iterable[str]:
    return (part for part in text.split(",") if part)


def _bad(term: str, option: str, why: str) -> InvalidDeployInput:
    return InvalidDeployInput(
        f"{option} {term!r}: {why}" if term else f"{option}: {why}",
        hint=_GRAMMAR,
        path=option,
    )
