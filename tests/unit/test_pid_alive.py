"""``pid_alive``: a process is alive until its last thread has ended. A process whose
first thread has exited shows that thread as a zombie in ``/proc/PID/stat`` while its other
threads still run, or are still exiting with its files and listening sockets open: reading
it as ended let a stopped deployment's port still be listened on when it was called down."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from agentdock.deployment.workspace import pid_alive

#: The first thread ends (``pthread_exit``) while a second one goes on for a while.
_LEADER_EXITS_FIRST = """
import ctypes, threading, time
threading.Thread(target=time.sleep, args=(30,)).start()
print("ready", flush=True)
ctypes.CDLL(None).pthread_exit(None)
"""


def _state(pid: int) -> str:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0]


def test_a_process_whose_first_thread_exited_is_alive_while_another_runs() -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", _LEADER_EXITS_FIRST], stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "ready"
        deadline = time.monotonic() + 10
        while _state(child.pid) != "Z":  # the first thread's end shows in a moment
            assert time.monotonic() < deadline, "the first thread never ended"
            time.sleep(0.01)
        assert pid_alive(child.pid)  # its second thread still runs
    finally:
        child.kill()
        child.wait()
    assert not pid_alive(child.pid)


def test_an_ended_process_and_a_reaped_one_are_not_alive() -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    deadline = time.monotonic() + 10
    while _state(child.pid) != "Z":  # exited, not yet reaped: a zombie
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert not pid_alive(child.pid)
    child.wait()
    assert not pid_alive(child.pid)
