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
    address = urlsplit(url)
    lines = [
        f"{method} {path} HTTP/1.1",
        f"host: {address.netloc}",
        "content-type: application/json",
        f"content-length: {DEFAULT_MAX_BODY_BYTES + 1}",
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
            length = [
                int(line.split(b":", 1)[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            ]
            if length and len(body) >= length[0]:
                break
    head, _, body = received.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body
