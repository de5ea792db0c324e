"""The private APIs AgentDock still relies on, checked against the installed versions.

Two remain, each with a fallback: the regex checks (``agentdock.spec.regexparse``, read by
``regexlint``, and the redaction policy's literal prefilter) read the parse trees of the
standard library's ``re._parser``, and the OTLP exporter hands its own encoding to the SDK
exporter's private HTTP client. A Python or SDK upgrade that changes either shape fails
here, by name, instead of silently switching a check off or sending spans the slow way.
"""

from __future__ import annotations

import gzip
import importlib.metadata
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
from agentdock.spec import regexlint, regexparse
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanContext, TraceFlags
from packaging.requirements import Requirement
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]


def _opcode_names(items: Any) -> list[str]:
    return [str(op) for op, _av in items]


def test_regex_checks_use_the_standard_librarys_parser() -> None:
    import re._parser as parser  # type: ignore[import-not-found]

    assert regexparse._parser is parser


def test_re_parser_trees_have_the_shape_the_regex_checks_read() -> None:
    from re import _constants as c  # type: ignore[attr-defined]
    from re import _parser  # type: ignore[attr-defined]

    tree = _parser.parse(r"(?i)ab(c|d)+\d{2,}(?=x)(?>y)z++")
    # Global flags and the widths (the empty-match check and the redactor's bound).
    assert int(tree.state.flags) & re.IGNORECASE.value
    low, high = tree.getwidth()
    assert low == 7 and high >= 1 << 16
    assert _parser.parse("ab").getwidth() == (2, 2)
    # The opcodes are named as the checks spell them, with the argument layouts they unpack.
    names = _opcode_names(tree.data)
    assert names == [
        "LITERAL",
        "LITERAL",
        "MAX_REPEAT",
        "MAX_REPEAT",
        "ASSERT",
        "ATOMIC_GROUP",
        "POSSESSIVE_REPEAT",
    ]
    op, (lo, hi, body) = tree.data[2]
    assert op is c.MAX_REPEAT and lo == 1 and hi == c.MAXREPEAT
    (sub_op, sub_av) = body.data[0]
    assert sub_op is c.SUBPATTERN and len(sub_av) == 4
    assert _opcode_names(sub_av[3].data) == ["IN"]  # `c|d` folded into a set
    _op, (lo, hi, body) = tree.data[3]
    assert (lo, hi) == (2, c.MAXREPEAT) and _opcode_names(body.data) == ["IN"]
    (_in, items) = body.data[0]
    assert [(str(kind), str(value)) for kind, value in items] == [("CATEGORY", "CATEGORY_DIGIT")]
    assert {c.AT, c.ASSERT, c.ASSERT_NOT, c.LITERAL, c.NEGATE, c.RANGE, c.GROUPREF_EXISTS}


def test_regex_checks_still_find_what_they_read_the_trees_for() -> None:
    """End to end: with the parser as it is, the checks that need it report."""
    assert regexlint.catastrophic_reason(r"(a+)+") is not None
    codes = {finding.code.value for finding in regexlint.check_patterns([r"\b", r"(a)", r"a"])}
    assert {4006, 4102} <= codes


def _pinned(package: str, requirement_name: str) -> Requirement:
    pyproject = tomllib.loads((ROOT / "packages" / package / "pyproject.toml").read_text())
    for line in pyproject["project"]["dependencies"]:
        requirement = Requirement(line)
        if requirement.name == requirement_name:
            return requirement
    raise AssertionError(f"{requirement_name} is not a dependency of {package}")


def test_otlp_exporter_is_pinned_to_the_tested_range() -> None:
    requirement = _pinned("agentdock-plugins", "opentelemetry-exporter-otlp-proto-http")
    installed = Version(importlib.metadata.version("opentelemetry-exporter-otlp-proto-http"))
    assert requirement.specifier.contains(installed)
    # The range has an upper bound: a new SDK is admitted only after this file is rerun on it.
    assert any(spec.operator in ("<", "<=", "==", "~=") for spec in requirement.specifier)


def test_otlp_exporter_private_client_is_there_and_used(monkeypatch: pytest.MonkeyPatch) -> None:
    from agentdock_plugins.otel.exporter import OtlpHttpExporter
    from agentdock_plugins.otel.wire import encode_request
    from opentelemetry.sdk.trace.export import SpanExportResult

    exporter = OtlpHttpExporter(endpoint="http://127.0.0.1:9/v1/traces")
    try:
        assert exporter._shutdown is False
        assert isinstance(exporter._max_request_size, int)
        client = exporter._client
        assert callable(client.export)
        # The exporter compresses at its own level and says so in the client's headers.
        assert exporter.gzip and client._headers["Content-Encoding"] == "gzip"

        sent: list[bytes] = []

        class Outcome:
            success = True

        def export(data: bytes, *args: Any, **kwargs: Any) -> Outcome:
            sent.append(data)
            return Outcome()

        def slow_path(self: Any, spans: Any) -> SpanExportResult:
            raise AssertionError("the SDK's own encoding was used")

        monkeypatch.setattr(client, "export", export)
        monkeypatch.setattr(
            "opentelemetry.exporter.otlp.proto.http.trace_exporter.OTLPSpanExporter.export",
            slow_path,
        )
        flags = TraceFlags(TraceFlags.SAMPLED)
        spans = [ReadableSpan("run", context=SpanContext(7, 1, is_remote=False, trace_flags=flags))]
        assert exporter.export(spans) is SpanExportResult.SUCCESS
        assert [gzip.decompress(body) for body in sent] == [encode_request(spans)]
    finally:
        exporter.shutdown()


def test_otlp_exporter_takes_the_posting_transport() -> None:
    """The SDK's exporter takes a ``_transport`` built on its private transport base class;
    without it the OpenTelemetry target would fall back to the SDK's ``requests`` session."""
    import inspect

    from agentdock_plugins.otel.exporter import OtlpHttpExporter, PosterTransport
    from opentelemetry.exporter.http.transport._base import BaseHTTPTransport
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    assert "_transport" in inspect.signature(OTLPSpanExporter.__init__).parameters
    exporter = OtlpHttpExporter(endpoint="http://127.0.0.1:9/v1/traces")
    try:
        transport = exporter._client._transport
        assert isinstance(transport, PosterTransport)
        assert isinstance(transport, BaseHTTPTransport)
    finally:
        exporter.shutdown()


def test_langfuse_sink_imports_no_private_module() -> None:
    """The LangFuse sink reads the SDK's public attribute names only."""
    package = ROOT / "packages/agentdock-plugins/src/agentdock_plugins/langfuse"
    for source in package.glob("*.py"):
        text = source.read_text()
        assert not re.search(r"\blangfuse\._", text), source.name
        assert not re.search(r"from langfuse(\.\w+)*\._\w+ import", text), source.name
