"""Requests that an HTTP client library will not send: written on a raw socket."""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

from agentdock_plugins.litestar.limits import DEFAULT_MAX_BODY_BYTES


def declared_too_large(
    url: str, method: str, path: str, headers: dict[str, str]
) -> tuple[int, bytes]:
    """A request whose ``content-length`` is past the limit, sent without its body: it is
    answered only if the server refuses it on its headers (a read of the body would wait
    for bytes that never come, and the socket's timeout fails the test). The status and
    the body of the answer."""
    return headers_only(url, method, path, headers, DEFAULT_MAX_BODY_BYTES + 1)


def headers_only(
    url: str, method: str, path: str, headers: dict[str, str], length: int
) -> tuple[int, bytes]:
    """A JSON request that declares a body of ``length`` bytes and sends none of it: the
    status and the body of the answer, which comes only if the server answers on the
    headers alone (a server reading the body waits for bytes that never come, until its
    body deadline answers 408 or the socket's timeout fails the test)."""
    address = urlsplit(url)
    lines = [
        f"{method} {path} HTTP/1.1",
        f"host: {address.netloc}",
        "content-type: application/json",
        f"content-length: {length}",
        "connection: close",
        *(f"{k}: {v}" for k, v in headers.items()),
    ]
    assert address.hostname is not None and address.port is not None, url
    with socket.create_connection((address.hostname, address.port), timeout=10) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
            head, _, body = received.partition(b"\r\n\r\n")
            declared = [
                int(line.split(b":", 1)[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            ]
            if declared and len(body) >= declared[0]:
                break
    head, _, body = received.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body
