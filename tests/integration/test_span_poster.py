"""How the span exporters send their requests: one kept connection, settings read once.

Both exporters (OpenTelemetry's, through the SDK's retry loop, and LangFuse's spooling one)
post through :class:`agentdock_plugins.otel.poster.Poster`. Against a local HTTP/1.1
endpoint these tests check what a collector or LangFuse sees: one connection for many
requests, the headers (Basic auth for LangFuse), the SDK's retry of a 503, the proxy
variables honoured as read when the exporter was built (and not read again per request),
and TLS verified against the configured certificate only.
"""

from __future__ import annotations

import base64
import datetime
import ipaddress
import logging
import ssl
import threading
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from agentdock_plugins.langfuse.exporter import TRACES_PATH, SpoolingExporter
from agentdock_plugins.otel.exporter import OtlpHttpExporter, PosterTransport
from agentdock_plugins.otel.poster import Poster, proxy_for
from agentdock_plugins.otel.wire import encode_head, span_bytes
from opentelemetry.sdk.trace.export import SpanExportResult

PUBLIC = "pk-lf-planted-0f1e2d3c"
SECRET = "sk-lf-planted-4b5a6978"
HEAD = encode_head({"service.name": "poster"}, "agentdock")
_PROXY_ENVS = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")


def _spans() -> list[bytes]:
    return [
        span_bytes(
            b"\x01" * 16,
            7,
            0,
            parent_remote=False,
            name="invoke_agent poster",
            kind=2,
            start_ns=1,
            end_ns=2,
            attributes={"agentdock.run_id": "r1"},
        )
    ]


class Endpoint:
    """An HTTP/1.1 server keeping connections open; it records every request line, the
    connection it came on and its headers, and answers ``statuses`` in turn (then 200)."""

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self.requests: list[tuple[int, str, dict[str, str]]] = []
        self.connections = 0
        self.statuses: list[int] = []
        self._lock = threading.Lock()
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                with endpoint._lock:
                    endpoint.connections += 1
                    self.connection_number = endpoint.connections

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with endpoint._lock:
                    endpoint.requests.append(
                        (
                            self.connection_number,
                            self.requestline,
                            {k.lower(): v for k, v in self.headers.items()},
                        )
                    )
                    status = endpoint.statuses.pop(0) if endpoint.statuses else 200
                self.send_response(status)
                if status == 503:
                    self.send_header("Retry-After", "0")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        if tls is not None:
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def url(self, scheme: str = "http") -> str:
        return f"{scheme}://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def no_proxy_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in _PROXY_ENVS:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE", "SSL_CERT_DIR"):
        monkeypatch.delenv(name, raising=False)
    for name in ("OTEL_EXPORTER_OTLP_CERTIFICATE", "OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def endpoint() -> Iterator[Endpoint]:
    server = Endpoint()
    yield server
    server.stop()


def _otel(url: str) -> OtlpHttpExporter:
    exporter = OtlpHttpExporter(endpoint=url + "/v1/traces", head=HEAD)
    return exporter


def _langfuse(url: str, *, timeout_s: float = 2.0) -> SpoolingExporter:
    return SpoolingExporter(
        base_url=url,
        public_key=PUBLIC,
        secret_key=SECRET,
        buffer=None,
        timeout_s=timeout_s,
        head=HEAD,
    )


@pytest.mark.usefixtures("no_proxy_env")
def test_requests_share_one_connection_and_read_no_proxy_variables(
    endpoint: Endpoint, monkeypatch: pytest.MonkeyPatch
) -> None:
    otel, langfuse = _otel(endpoint.url()), _langfuse(endpoint.url())
    reads: list[str] = []
    for name in ("getproxies", "getproxies_environment"):
        real = getattr(urllib.request, name)

        def counted(*args: Any, real: Any = real, name: str = name) -> Any:
            reads.append(name)
            return real(*args)

        monkeypatch.setattr(urllib.request, name, counted)
    try:
        for _ in range(3):
            assert otel.export_runs(_spans(), 1) is SpanExportResult.SUCCESS
            assert langfuse.export_runs(_spans(), 1) is SpanExportResult.SUCCESS
    finally:
        otel.shutdown()
        langfuse.shutdown()
    assert reads == []  # the proxy variables were read when the exporters were built
    assert len(endpoint.requests) == 6
    assert endpoint.connections == 2  # one kept connection per exporter
    by_connection = {number: line for number, line, _ in endpoint.requests}
    assert sorted(by_connection.values()) == [
        f"POST {TRACES_PATH} HTTP/1.1",
        "POST /v1/traces HTTP/1.1",
    ]


@pytest.mark.usefixtures("no_proxy_env")
def test_headers_auth_and_compression_reach_the_endpoint(endpoint: Endpoint) -> None:
    otel, langfuse = _otel(endpoint.url()), _langfuse(endpoint.url())
    try:
        assert otel.export_runs(_spans(), 1) is SpanExportResult.SUCCESS
        assert langfuse.export_runs(_spans(), 1) is SpanExportResult.SUCCESS
    finally:
        otel.shutdown()
        langfuse.shutdown()
    (_, _, otel_headers), (_, _, langfuse_headers) = endpoint.requests
    assert otel_headers["content-type"] == "application/x-protobuf"
    assert otel_headers["content-encoding"] == "gzip"
    assert otel_headers["user-agent"].startswith("OTel-OTLP-Exporter-Python")
    token = base64.b64encode(f"{PUBLIC}:{SECRET}".encode()).decode()
    assert langfuse_headers["authorization"] == f"Basic {token}"
    assert langfuse_headers["content-encoding"] == "gzip"
    assert langfuse_headers["x-langfuse-public-key"] == PUBLIC


@pytest.mark.usefixtures("no_proxy_env")
def test_the_sdk_retries_a_503_on_the_same_transport(endpoint: Endpoint) -> None:
    endpoint.statuses = [503]
    otel = _otel(endpoint.url())
    try:
        assert isinstance(otel._client._transport, PosterTransport)
        assert otel.export_runs(_spans(), 1) is SpanExportResult.SUCCESS
    finally:
        otel.shutdown()
    assert len(endpoint.requests) == 2


@pytest.mark.usefixtures("no_proxy_env")
def test_a_refused_connection_fails_without_raising() -> None:
    dead = Endpoint()
    url = dead.url()
    dead.stop()
    otel = _otel(url)
    langfuse = _langfuse(url)
    try:
        otel._client._timeout = 0.5  # the SDK's backoff stops at its deadline
        assert otel.export_runs(_spans(), 1) is SpanExportResult.FAILURE
        # LangFuse without a buffer: the batch is lost, counted, not raised.
        assert langfuse.export_runs(_spans(), 1) is SpanExportResult.FAILURE
        assert langfuse.stats.lost == 1
    finally:
        otel.shutdown()
        langfuse.shutdown()


@pytest.mark.usefixtures("no_proxy_env")
def test_proxy_variables_are_honoured_as_read_at_start(
    endpoint: Endpoint, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The endpoint plays the proxy: a request through it names the whole URL.
    monkeypatch.setenv("HTTP_PROXY", endpoint.url())
    target = "http://collector.invalid:4318"
    assert proxy_for(target + "/v1/traces") == endpoint.url()
    otel, langfuse = _otel(target), _langfuse(target)
    monkeypatch.delenv("HTTP_PROXY")  # read once: the built exporters keep their proxy
    try:
        assert otel.export_runs(_spans(), 1) is SpanExportResult.SUCCESS
        assert langfuse.export_runs(_spans(), 1) is SpanExportResult.SUCCESS
    finally:
        otel.shutdown()
        langfuse.shutdown()
    lines = [line for _, line, _ in endpoint.requests]
    assert lines == [
        f"POST {target}/v1/traces HTTP/1.1",
        f"POST {target}{TRACES_PATH} HTTP/1.1",
    ]


@pytest.mark.usefixtures("no_proxy_env")
def test_no_proxy_sends_straight_to_the_endpoint(
    endpoint: Endpoint, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("NO_PROXY", "localhost,127.0.0.1")
    assert proxy_for(endpoint.url()) is None
    otel = _otel(endpoint.url())
    try:
        assert otel.export_runs(_spans(), 1) is SpanExportResult.SUCCESS
    finally:
        otel.shutdown()
    assert [line for _, line, _ in endpoint.requests] == ["POST /v1/traces HTTP/1.1"]


def _self_signed(tmp_path: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@pytest.mark.usefixtures("no_proxy_env")
def test_tls_is_verified_against_the_configured_certificate_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cert, key = _self_signed(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server = Endpoint(tls=context)
    url = server.url("https")
    try:
        # Not trusted by the default bundle: refused, no request lands.
        untrusted, untrusted_lf = _otel(url), _langfuse(url, timeout_s=1.0)
        untrusted._client._timeout = 0.5
        assert untrusted.export_runs(_spans(), 1) is SpanExportResult.FAILURE
        assert untrusted_lf.export_runs(_spans(), 1) is SpanExportResult.FAILURE
        untrusted.shutdown()
        untrusted_lf.shutdown()
        assert server.requests == []

        monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE", str(cert))
        monkeypatch.setenv("SSL_CERT_FILE", str(cert))
        otel, langfuse = _otel(url), _langfuse(url)
        try:
            assert otel.export_runs(_spans(), 1) is SpanExportResult.SUCCESS
            assert langfuse.export_runs(_spans(), 1) is SpanExportResult.SUCCESS
        finally:
            otel.shutdown()
            langfuse.shutdown()
        assert len(server.requests) == 2
    finally:
        server.stop()


def test_a_poster_refuses_a_url_that_is_not_http() -> None:
    with pytest.raises(ValueError, match="http:// or https://"):
        Poster("ftp://collector:21/v1/traces", timeout_s=1.0)


@pytest.mark.usefixtures("no_proxy_env")
def test_a_credential_provider_keeps_the_sdks_own_transport(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import requests

    session = requests.Session()
    otel = OtlpHttpExporter(endpoint="http://127.0.0.1:9/v1/traces", session=session, head=HEAD)
    try:
        assert not isinstance(otel._client._transport, PosterTransport)
    finally:
        otel.shutdown()


@pytest.mark.usefixtures("no_proxy_env")
def test_proxy_credentials_stay_out_of_logs(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    planted = "proxy-pass-planted-7c6b5a"
    monkeypatch.setenv("HTTP_PROXY", f"http://agent:{planted}@127.0.0.1:9")  # nothing listens
    caplog.set_level(logging.DEBUG)
    otel = _otel("http://collector.invalid:4318")
    langfuse = _langfuse("http://collector.invalid:4318", timeout_s=0.5)
    try:
        otel._client._timeout = 0.5
        assert otel.export_runs(_spans(), 1) is SpanExportResult.FAILURE
        assert langfuse.export_runs(_spans(), 1) is SpanExportResult.FAILURE
    finally:
        otel.shutdown()
        langfuse.shutdown()
    assert caplog.records  # the failures were logged
    assert planted not in caplog.text
    assert planted not in repr(otel) + repr(langfuse)
