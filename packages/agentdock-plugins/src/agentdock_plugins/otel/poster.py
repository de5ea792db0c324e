"""POSTs export requests to one endpoint over a connection kept open (urllib3).

Both span targets send a few requests a second at most, but each used an HTTP client that
redoes per request what never changes: ``requests`` (the OpenTelemetry SDK's transport)
scans the environment for proxy variables on every POST, and ``httpx`` (the LangFuse
exporter) builds request and header objects through several layers. At the size of
AgentDock's batches that was 0.5-0.8 ms of CPU a request, more than encoding the spans it
carried. A :class:`Poster` settles everything once, when the sink is built:

- the connection pool for the endpoint (one connection, kept open between requests);
- the proxy: ``HTTPS_PROXY``/``HTTP_PROXY``/``ALL_PROXY`` and ``NO_PROXY`` (any case) as
  the standard library reads them for the endpoint's URL. Changing them later does not
  move a running sink (a new deployment reads them again);
- TLS: certificates are verified against ``ca_file`` when given (the caller passes the
  variables it honours, e.g. ``OTEL_EXPORTER_OTLP_CERTIFICATE``), else the CA bundle the
  previous clients used (certifi's); a client certificate
  and key for mutual TLS.

A request is sent once: retries, backoff and what a failure means are the caller's (the
SDK's export loop for OpenTelemetry, the spooling exporter for LangFuse). Redirects are not
followed (an export endpoint that moves is a misconfiguration, not a hop to take with
credentials in the headers).
"""

from __future__ import annotations

import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass

import certifi
import urllib3

__all__ = ["Answer", "Poster", "proxy_for"]


@dataclass(frozen=True, slots=True)
class Answer:
    """An endpoint's answer: its status, headers (lower-case names) and body."""

    status: int
    reason: str
    headers: Mapping[str, str]
    body: bytes


def proxy_for(url: str) -> str | None:
    """The proxy URL the environment names for ``url``, or ``None`` (none, or ``url``'s
    host is in ``NO_PROXY``): the standard library's reading of the proxy variables."""
    proxies = urllib.request.getproxies_environment()
    parsed = urllib3.util.parse_url(url)
    proxy = proxies.get(parsed.scheme or "http") or proxies.get("all")
    if not proxy or not parsed.host:
        return None
    # Untyped in typeshed, public in the standard library (``proxy_bypass`` on Linux).
    bypass = urllib.request.proxy_bypass_environment  # type: ignore[attr-defined]
    if bypass(parsed.netloc or parsed.host, proxies):
        return None
    return proxy


class Poster:
    """Sends POST requests to ``url`` over one kept-open connection.

    :param url: the endpoint (``http`` or ``https``).
    :param timeout_s: the longest a request may take (connect, send, answer) when the call
        names no other bound.
    :param ca_file: the CA bundle to verify the endpoint's certificate against.
    :param ca_dir: a directory of CA certificates to use instead (when no ``ca_file``);
        neither: certifi's bundle.
    :param verify: ``False`` turns verification off (a caller's explicit choice only).
    :param client_cert: a client certificate for mutual TLS (with ``client_key``, or a file
        holding both).
    """

    def __init__(
        self,
        url: str,
        *,
        timeout_s: float,
        ca_file: str | None = None,
        ca_dir: str | None = None,
        verify: bool = True,
        client_cert: str | None = None,
        client_key: str | None = None,
    ) -> None:
        self.url = url
        self.timeout_s = timeout_s
        parsed = urllib3.util.parse_url(url)
        if parsed.scheme not in ("http", "https") or not parsed.host:
            raise ValueError("an export endpoint must be an http:// or https:// URL")
        options: dict[str, object] = {"retries": False, "maxsize": 1, "block": False}
        if parsed.scheme == "https":
            options["cert_reqs"] = "CERT_REQUIRED" if verify else "CERT_NONE"
            if verify and ca_dir and not ca_file:
                options["ca_cert_dir"] = ca_dir
            elif verify:
                options["ca_certs"] = ca_file or certifi.where()
            if client_cert:
                options["cert_file"] = client_cert
                if client_key:
                    options["key_file"] = client_key
        #: The proxy requests go through (``None``: straight to the endpoint).
        self.proxy = proxy_for(url)
        self._manager: urllib3.PoolManager | None = None
        if self.proxy is not None:
            self._manager = urllib3.ProxyManager(self.proxy, **options)  # type: ignore[arg-type]
            self._pool = self._manager.connection_from_url(url)
            # A plain-HTTP request through a proxy names the whole URL; a tunnel the path.
            self._target = url if parsed.scheme == "http" else parsed.request_uri
        else:
            self._pool = urllib3.connection_from_url(url, **options)
            self._target = parsed.request_uri

    def post(
        self, body: bytes, headers: Mapping[str, str], *, timeout_s: float | None = None
    ) -> Answer:
        """Send ``body`` once; the endpoint's answer, whatever its status.

        :raises urllib3.exceptions.HTTPError: the request did not get an answer (refused,
            reset, timed out, a TLS failure).
        """
        timeout = self.timeout_s if timeout_s is None else timeout_s
        if self._manager is not None:
            response = self._manager.urlopen(
                "POST",
                self.url,
                body=body,
                headers=dict(headers),
                timeout=urllib3.Timeout(total=timeout),
                retries=False,
                redirect=False,
            )
        else:
            response = self._pool.urlopen(
                "POST",
                self._target,
                body=body,
                headers=headers,
                timeout=urllib3.Timeout(total=timeout),
                retries=False,
                redirect=False,
                preload_content=True,
            )
        return Answer(response.status, response.reason or "", response.headers, response.data)

    def close(self) -> None:
        """Close the kept connection (a later :meth:`post` opens a new one)."""
        if self._manager is not None:
            self._manager.clear()
        self._pool.close()
