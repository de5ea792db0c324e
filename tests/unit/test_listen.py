"""The runtime's listening socket: what it inherits from a supervisor."""

from __future__ import annotations

import socket

from agentdock_runtime import listen


def _listening() -> socket.socket:
    return listen.bind("127.0.0.1", 0)


def test_a_single_inherited_descriptor_is_served() -> None:
    with _listening() as sock:
        got = listen.inherited({listen.LISTEN_FD_ENV: str(sock.fileno())})
        assert got is not None
        with got:
            assert listen.bound_address(got) == listen.bound_address(sock)


def test_of_several_inherited_descriptors_the_first_is_the_runtimes_own() -> None:
    """A local runtime restarted after its promotion gets its own port and the agent's
    address: it must serve them, not bind its port again (which the restart found taken)."""
    with _listening() as own, _listening() as address:
        got = listen.inherited({listen.LISTEN_FD_ENV: f"{own.fileno()},{address.fileno()}"})
        assert got is not None
        with got:
            assert listen.bound_address(got) == listen.bound_address(own)


def test_no_or_a_malformed_variable_is_nothing_inherited() -> None:
    for value in ("", "x", " ", "-1"):
        assert listen.inherited({listen.LISTEN_FD_ENV: value}) is None
    assert listen.inherited({}) is None
