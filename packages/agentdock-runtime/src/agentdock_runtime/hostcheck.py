"""Which host names a runtime without authentication answers (DNS rebinding).

A runtime started with ``--insecure-no-auth`` (or ``AGENTDOCK_INSECURE_NO_AUTH=1``) runs
the agent for anyone who reaches its socket. Binding to 127.0.0.1 keeps other machines
out, but not a web page: a site whose name an attacker re-points at 127.0.0.1 (DNS
rebinding) is same-origin with itself, so the victim's browser lets its scripts call the
agent, read the answers and the threads. What such a request cannot hide is the name it
was addressed to: its ``Host`` header carries the attacker's name. So a runtime without
authentication answers only requests whose ``Host`` names this machine (``localhost``,
127.0.0.0/8, ``[::1]``) or a name the operator allowed (``AGENTDOCK_ALLOWED_HOSTS``,
``agentdock serve --allowed-host``); every other one is refused with 403 and the error
envelope before any route, the agent's or a protocol's, sees it, and one whose ``Host`` is
malformed or repeated with 400: a parser after the check must not read another name out of
it. An absolute-form target (``POST http://other/invoke``) is judged by ``Host`` alone:
uvicorn keeps only its path in the scope.

With authentication on there is no check and no wrapper: such a page holds no key or token
to send, and a proxy in front may forward a name of its own.

:class:`HostCheck` wraps the whole ASGI application where AgentDock serves it on a socket
(``agentdock serve`` in every mode, the container entrypoint), outermost, so the ``/invoke``
fast path, WebSocket handshakes, 404s and the directory server are covered alike. The
application ``agentdock.app()`` builds for in-process clients has none: no browser can
address a name to it. Litestar's own ``allowed_hosts`` is not used: it matches the whole
``Host`` value, port included (``localhost:8080`` is refused unless listed with its port),
answers a body of its own rather than the error envelope, and sits inside the application,
behind the ``/invoke`` fast path.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping, MutableMapping
from typing import Any

import msgspec

from agentdock_runtime.errors import BadRequest, Forbidden, RuntimeHTTPError

__all__ = [
    "ALLOWED_HOSTS_ENV",
    "HostCheck",
    "allowed_hosts_from_env",
    "check_host_names",
    "host_name",
    "is_loopback",
    "served_app",
    "shown_host",
]

log = logging.getLogger("agentdock.runtime")

#: Comma-separated host names a runtime without authentication answers besides loopback.
ALLOWED_HOSTS_ENV = "AGENTDOCK_ALLOWED_HOSTS"

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: A DNS name or an IPv4 address (letters, digits, ``-``, ``_``, dots), optionally ``*.``
#: before it for every name under a domain, or an IPv6 address in brackets.
_NAME = re.compile(r"(\*\.)?[a-z0-9_]([a-z0-9_.-]{0,252})|\[[0-9a-f:.]+\]")
#: A ``Host`` value: a name (letters, digits, ``-``, ``_``, dots) or an IPv6 address in
#: brackets, then an optional port of 1 to 5 digits (its range is checked apart).
_HOST = re.compile(
    r"(?:(?P<name>[A-Za-z0-9_.-]{1,253})|\[(?P<v6>[0-9A-Fa-f:.]{2,45})\])(?::(?P<port>[0-9]{1,5}))?"
)
#: Distinct ``Host`` values remembered with their verdict (a client sends the same one each
#: time; past this the memory is emptied, so a flood of names costs parsing, not memory),
#: and the longest remembered (a DNS name is at most 253 characters, a port 6 more).
_REMEMBERED = 256
_LONGEST_REMEMBERED = 260
#: WebSocket close code for a refused handshake where the server cannot answer in HTTP.
_POLICY_VIOLATION = 1008
_DENIAL = "websocket.http.response"


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a name, no port) names only this machine: 127.0.0.0/8, ``::1``
    (with or without brackets), ``localhost``."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def host_name(header: str) -> str:
    """The host name of a ``Host`` header value, lower case, without port, brackets or a
    final dot; ``""`` when the value is not ``host[:port]`` (RFC 9110 §7.2): a DNS name or
    an IPv4 address, or an IPv6 address in brackets, then at most a port of 1 to 65535.
    Anything else (``localhost#x``, ``localhost:``, ``localhost:99999``, ``user@host``, a
    path, a space, a control character, ``[::1``, empty) is no name at all, so that no
    parser downstream can read a different one out of it."""
    match = _HOST.fullmatch(header)
    if match is None:
        return ""
    name, v6, port = match.group("name", "v6", "port")
    if port is not None and not 0 < int(port) <= 65535:
        return ""
    if v6 is not None:
        try:
            ipaddress.IPv6Address(v6)
        except ValueError:
            return ""
        return v6.lower()
    name = name.lower()
    return name[:-1] if name.endswith(".") else name


def shown_host(header: str) -> str:
    """A ``Host`` value as an error detail may show it: quoted (its first 80 characters)
    when it is printable ASCII, else only what is wrong with it, never its characters (a
    server decodes header bytes as latin-1: a name in another script would come back
    garbled, a control character raw, into a terminal or a log)."""
    if not header.isascii():
        return "a Host header that is not ASCII"
    if not header.isprintable():
        return "a Host header holding a control character"
    return repr(header[:80])


def check_host_names(names: Iterable[str], source: str) -> tuple[str, ...]:
    """``names`` checked and lower-cased: each a host name (``agent.internal``), ``*.`` and
    a domain (every name under it), an IP address, or ``*`` (every name: the check is off).

    :raises ValueError: one is not (a scheme, a port, a path, a space); the message names
        ``source`` and the value.
    """
    checked: list[str] = []
    for raw in names:
        name = raw.strip().lower()
        if not name:
            continue
        if name != "*" and _NAME.fullmatch(name) is None:
            raise ValueError(
                f"{source}: {raw.strip()[:80]!r} is not a host name (give names such as "
                "agent.internal or *.example.com, without scheme or port)"
            )
        checked.append(name.strip("[]").rstrip("."))
    return tuple(checked)


def allowed_hosts_from_env(environ: Mapping[str, str]) -> tuple[str, ...]:
    """The names of ``AGENTDOCK_ALLOWED_HOSTS`` (comma-separated), checked.

    :raises ValueError: one is malformed (see :func:`check_host_names`).
    """
    return check_host_names(environ.get(ALLOWED_HOSTS_ENV, "").split(","), ALLOWED_HOSTS_ENV)


def served_app(
    app: Any, *, insecure_no_auth: bool, environ: Mapping[str, str] | None = None
) -> Any:
    """``app`` as served on a socket: without authentication, behind :class:`HostCheck`
    with the names of ``AGENTDOCK_ALLOWED_HOSTS`` (``environ``, default the process
    environment), and a warning logged when they hold ``*`` (the check is off); with
    authentication, ``app`` itself (nothing on its path, the variable not even read).

    :raises ValueError: ``AGENTDOCK_ALLOWED_HOSTS`` is malformed.
    """
    if not insecure_no_auth:
        return app
    allowed = allowed_hosts_from_env(os.environ if environ is None else environ)
    if "*" in allowed:
        log.warning(
            "%s=* turns the Host check off: without authentication any web page can reach "
            "this agent through a name re-pointed at this machine (DNS rebinding)",
            ALLOWED_HOSTS_ENV,
        )
    return HostCheck(app, allowed)


class HostCheck:
    """The ASGI application ``app`` answering only requests addressed to a loopback name or
    to one of ``allowed`` (see :func:`check_host_names`); others get 403 ``Forbidden`` at
    ``path: host``, and a request whose ``Host`` is malformed or given twice 400
    ``BadRequest`` there (RFC 9112 §3.2), so that no later parser can read another name
    out of it. A WebSocket handshake gets the same answer, or a close with 1008 where the
    server cannot send one. Lifespan messages pass untouched."""

    __slots__ = ("_app", "_exact", "_seen", "_suffixes", "_wildcard")

    def __init__(self, app: ASGIApp, allowed: Iterable[str] = ()) -> None:
        names = check_host_names(allowed, "allowed hosts")
        self._app = app
        self._wildcard = "*" in names
        self._exact = frozenset(n for n in names if not n.startswith("*."))
        self._suffixes = tuple(n[1:] for n in names if n.startswith("*."))
        self._seen: dict[bytes, _Answer | None] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "lifespan" or self._wildcard:
            await self._app(scope, receive, send)
            return
        value: bytes | None = None
        for key, header in scope["headers"]:
            if key == b"host":
                if value is not None:
                    await _refuse(scope, send, _TWO_HOSTS, kind == "websocket")
                    return
                value = header
        value = value or b""
        answer = self._seen.get(value, _UNKNOWN)
        if answer is _UNKNOWN:
            answer = self._answer(value)
            if len(value) <= _LONGEST_REMEMBERED:
                if len(self._seen) >= _REMEMBERED:
                    self._seen.clear()
                self._seen[value] = answer
        if answer is None:
            await self._app(scope, receive, send)
            return
        await _refuse(scope, send, answer, kind == "websocket")

    def _answer(self, value: bytes) -> _Answer | None:
        """``None`` when ``value`` names this machine or an allowed name, else the refusal:
        400 when it is no ``host[:port]`` at all, 403 when it names another host."""
        if not value.isascii():
            return _bad_host("is not ASCII")
        header = value.decode("ascii")
        if not header.isprintable():
            return _bad_host("holds a control character")
        if not header:
            return _answer(_foreign("a request without a Host header"))
        name = host_name(header)
        if not name:
            return _bad_host(f"{header[:80]!r} is not a host name with an optional port")
        if is_loopback(name) or name in self._exact:
            return None
        if any(name.endswith(suffix) for suffix in self._suffixes):
            return None
        return _answer(_foreign(shown_host(header)))


#: What a refused request is answered: the status and the error envelope, encoded once.
_Answer = tuple[int, bytes]
_UNKNOWN: Any = object()


def _answer(error: RuntimeHTTPError) -> _Answer:
    return error.status, msgspec.json.encode(error.envelope())


def _foreign(shown: str) -> Forbidden:
    return Forbidden(
        "without authentication only requests to this machine's names are served "
        f"(localhost, 127.0.0.1, [::1]) or to {ALLOWED_HOSTS_ENV}, not {shown}",
        path="host",
    )


def _bad_host(problem: str) -> _Answer:
    return _answer(BadRequest(f"the Host header {problem}", path="host"))


_TWO_HOSTS = _answer(BadRequest("more than one Host header (RFC 9112 §3.2)", path="host"))


async def _refuse(scope: Scope, send: Send, answer: _Answer, websocket: bool) -> None:
    status, body = answer
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    if not websocket:
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
        return
    if _DENIAL not in (scope.get("extensions") or {}):
        await send(
            {"type": "websocket.close", "code": _POLICY_VIOLATION, "reason": _REASONS[status]}
        )
        return
    start = {"type": "websocket.http.response.start", "status": status, "headers": headers}
    await send(start)
    await send({"type": "websocket.http.response.body", "body": body})


_REASONS = {400: "BadRequest", 403: "Forbidden"}
