"""Built-in plugin: auth providers for the Dockfile's auth modes (jwt, api_key, oauth2).

Each factory is called once at start-up with the resolved spec; the modules holding pyjwt,
cryptography, httpx and the registry are imported only then, never by ``agentdock
validate``.
"""

from __future__ import annotations

from typing import Any

from agentdock import hookimpl

__all__ = [
    "agentdock_register_auth_providers",
    "api_key_provider",
    "jwt_provider",
    "oauth2_provider",
]


def _key_verifier(spec: Any, store: Any | None = None) -> Any:
    from agentdock.registry import default_registry_path

    from agentdock_plugins.auth.apikey import ApiKeyVerifier, LazyRegistry

    if store is None:
        store = LazyRegistry(default_registry_path())
    return ApiKeyVerifier(store, spec.agent.name)


def jwt_provider(spec: Any, *, store: Any | None = None) -> Any:
    """Mode ``jwt`` (plus ``x-api-key`` when ``auth.api_keys.enabled``)."""
    from agentdock_plugins.auth.jwt import JwtOrKeyProvider, JwtProvider

    keys_cfg = spec.auth.api_keys
    if keys_cfg is not None and keys_cfg.enabled:
        return JwtOrKeyProvider(spec, api_keys=_key_verifier(spec, store))
    return JwtProvider(spec)


def api_key_provider(spec: Any, *, store: Any | None = None) -> Any:
    """Mode ``api_key``: keys from the registry store (``agentdock key create``)."""
    from agentdock_plugins.auth.apikey import ApiKeyProvider

    return ApiKeyProvider(_key_verifier(spec, store))


def oauth2_provider(spec: Any, **options: Any) -> Any:
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
