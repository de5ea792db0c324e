"""Built-in plugin: auth providers for the Dockfile's auth modes (jwt, api_key, oauth2).

Each factory is called once at start-up with the resolved spec; the modules holding pyjwt,
cryptography, httpx and the registry are imported only then, never by ``agentdock
validate``. API keys are read from the database ``AGENTDOCK_RUNTIME_DATABASE_URL`` (a
least-privilege role: ``agentdock postgres runtime-role``) or ``AGENTDOCK_DATABASE_URL`` names,
else from the runtime's key view (never the embedded registry file itself:
:mod:`.keyfile`); with ``AGENTDOCK_REDIS_URL`` set, key changes are published there by the
process that makes them and heard there by every runtime.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from agentdock import hookimpl

if TYPE_CHECKING:
    from agentdock.spec import DockSpec

__all__ = [
    "agentdock_api_keys_changed",
    "agentdock_register_auth_providers",
    "api_key_provider",
    "jwt_provider",
    "oauth2_provider",
]


def _key_verifier(spec: DockSpec, store: Any | None = None) -> Any:
    from agentdock.registry import DATABASE_URL_ENV, RUNTIME_DATABASE_URL_ENV
    from agentdock_runtime.access import REDIS_URL_ENV

    from agentdock_plugins.auth.apikey import ApiKeyVerifier
    from agentdock_plugins.auth.keyfile import KeyViewStore
    from agentdock_plugins.auth.keystores import LazyRegistry

    if store is None:
        url = os.environ.get(RUNTIME_DATABASE_URL_ENV) or os.environ.get(DATABASE_URL_ENV)
        if url:
            store = LazyRegistry(url=url)
        else:
            store = KeyViewStore.from_env(spec.agent.name)
            store.load()
    redis_url = os.environ.get(REDIS_URL_ENV) or None
    return ApiKeyVerifier(store, spec.agent.name, redis_url=redis_url)


def jwt_provider(spec: DockSpec, *, store: Any | None = None) -> Any:
    """Mode ``jwt`` (plus ``x-api-key`` when ``auth.api_keys.enabled``)."""
    from agentdock_plugins.auth.jwt import JwtOrKeyProvider, JwtProvider

    keys_cfg = spec.auth.api_keys
    if keys_cfg is not None and keys_cfg.enabled:
        return JwtOrKeyProvider(spec, api_keys=_key_verifier(spec, store))
    return JwtProvider(spec)


def api_key_provider(spec: DockSpec, *, store: Any | None = None) -> Any:
    """Mode ``api_key``: keys from the registry store (``agentdock key create``)."""
    from agentdock_plugins.auth.apikey import ApiKeyProvider

    return ApiKeyProvider(_key_verifier(spec, store))


def oauth2_provider(spec: DockSpec, **options: Any) -> Any:
    """Mode ``oauth2``: bearer tokens of an external issuer, checked through its JWKS."""
    from agentdock_plugins.auth.oauth2 import OAuth2Provider

    return OAuth2Provider(spec, **options)


@hookimpl
def agentdock_register_auth_providers(register: Any) -> None:
    register(
        "jwt", jwt_provider, description="JWT bearer tokens (HS256, or RS/ES with a public key)"
    )
    register("api_key", api_key_provider, description="API keys (x-api-key) from the registry")
    register("oauth2", oauth2_provider, description="OAuth2/OIDC bearer tokens checked via JWKS")


@hookimpl
def agentdock_api_keys_changed(agent: str, key_ids: Sequence[str], action: str) -> None:
    """Publish a key change on Redis for the runtimes of other hosts (when configured)."""
    from agentdock_runtime.access import REDIS_URL_ENV

    url = os.environ.get(REDIS_URL_ENV) or None
    if url is None:
        return
    from agentdock.registry import change_message

    from agentdock_plugins.auth.redisfeed import publish

    publish(url, change_message(agent, key_ids, action))
