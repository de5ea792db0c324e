"""Whose conversation a thread id names.

A thread id on ``/invoke``, ``/stream`` or ``/ws`` (``x-thread-id``, ``thread_id``) is a
name the caller chose; the checkpointer keys the conversation by it. Were the name used
as it is, any caller allowed to run the agent could read and continue any other caller's
conversation by naming (or guessing) its id. So by default (``expose.threads:
per_caller``) the checkpointer's key is the caller's subject and the name together
(:func:`caller_thread`): two callers naming the same id hold two conversations. The
Platform API's threads are checked against their owner by the server and keep their
ids (``own_thread``); ``expose.threads: shared`` restores one namespace for all callers,
and an anonymous caller (auth off) has no subject and shares, as before.
"""

from __future__ import annotations

__all__ = ["caller_thread"]


def caller_thread(subject: object, thread_id: str) -> str:
    """The checkpointer's key of ``subject``'s thread ``thread_id``: ``<len>.<subject>.<id>``.

    The subject's length comes first, so no choice of subject and id reads as another's
    (``a.b`` + ``c`` and ``a`` + ``b.c`` give different keys). No subject: the id itself.
    """
    if subject is None:
        return thread_id
    sub = str(subject)
    return f"{len(sub)}.{sub}.{thread_id}"
