"""The checkpointer key of a caller's thread: no subject and id read as another's."""

from __future__ import annotations

from agentdock_runtime.threads import caller_thread


def test_no_subject_keeps_the_id() -> None:
    assert caller_thread(None, "t-1") == "t-1"


def test_subjects_and_ids_that_join_alike_give_different_keys() -> None:
    assert caller_thread("a.b", "c") != caller_thread("a", "b.c")
    assert caller_thread("a", "1.a.t") != caller_thread("1.a", "t")
    assert caller_thread("alice", "t") != caller_thread("bob", "t")
    assert caller_thread("alice", "t") == caller_thread("alice", "t")
