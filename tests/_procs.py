"""Helpers shared by the tests that start real processes on 127.0.0.1 (multi-worker TensorFlow, multi-process JAX)."""

import socket
import time


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on now (the OS picks it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(procs, logs, timeout, names=None):
    """Waits until every process has ended, at most ``timeout`` s; kills and fails on the ones still running.

    Args:
        procs: ``subprocess.Popen`` objects.
        logs: one ``pathlib.Path`` per process, where its output goes.
        timeout: seconds for all of them together.
        names: one label per process for the failure message (default: its index).

    Returns:
        ``[(returncode, output)]``, one per process, in order.
    """
    deadline = time.time() + timeout
    while time.time() < deadline and any(p.poll() is None for p in procs):
        time.sleep(0.2)
    hung = [p for p in procs if p.poll() is None]
    for p in hung:
        p.kill()
        p.wait(timeout=30)
    out = [(p.returncode, log.read_text()) for p, log in zip(procs, logs)]
    names = names or [str(i) for i in range(len(procs))]
    assert not hung, f"a process did not end within {timeout} s:\n" + "\n".join(
        f"--- {name}:\n{text[-3000:]}" for name, (_, text) in zip(names, out))
    return out
