"""``keras-gan launch``: start the processes of a multi-process JAX run on this host.

``keras-gan launch --processes 2 -- train --backend jax --strategy data_parallel`` starts two
``keras-gan train`` processes with Keras' multi-process variables
(``KERAS_DISTRIBUTION_JOB_ADDRESSES`` = this host's coordinator port, ``..._NUM_PROCESSES``,
``..._PROCESS_ID``), which ``keras-gan train`` hands to ``keras.distribution.initialize``. On
several hosts run one ``keras-gan train`` per host with those variables set instead (README,
Distribution). The launcher forwards SIGTERM and SIGINT to every process as SIGTERM (JAX's
preemption service then stops all of them at the same step, after a checkpoint) and returns the
worst exit code (a process ended by signal N counts as 128 + N).

Exit codes: the worst of the processes'; 2 bad input.
"""

import argparse
import os
import signal
import socket
import subprocess
import sys
import time

from keras_gan.errors import UsageError

HELP = "Start N processes of a keras-gan command on this host as one multi-process JAX run."


def add_arguments(parser):
    parser.add_argument("--processes", type=int, required=True, metavar="N",
                        help="number of processes (each gets KERAS_DISTRIBUTION_PROCESS_ID 0..N-1).")
    parser.add_argument("--port", type=int, default=None,
                        help="coordinator port of process 0 on 127.0.0.1 (default: a free one).")
    parser.add_argument("--devices-per-process", type=int, default=None, metavar="D",
                        help="CPU only: D virtual CPU devices in each process (XLA's "
                             "--xla_force_host_platform_device_count); default: one.")
    parser.add_argument("child_command", nargs=argparse.REMAINDER, metavar="command",
                        help="after --: the keras-gan command each process runs, e.g. -- train --backend jax "
                             "--strategy data_parallel.")


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _code(returncode):
    """A process's exit status as a shell reports it (a signal N is 128 + N)."""
    return 128 - returncode if returncode < 0 else returncode


def environments(processes, port, devices_per_process=None, environ=None):
    """The environment of each process of the run: Keras' ``KERAS_DISTRIBUTION_*`` variables added.

    Args:
        processes: number of processes.
        port: the coordinator's port on 127.0.0.1.
        devices_per_process: virtual CPU devices per process (``None``: leave ``XLA_FLAGS`` as it is).
        environ: the environment to start from (default ``os.environ``).

    Returns:
        A list of ``processes`` dicts.

    Example:

    >>> [e["KERAS_DISTRIBUTION_PROCESS_ID"] for e in environments(2, 1234, environ={})]
    ['0', '1']
    >>> environments(2, 1234, environ={})[1]["KERAS_DISTRIBUTION_JOB_ADDRESSES"]
    '127.0.0.1:1234'
    """
    environ = dict(os.environ if environ is None else environ)
    environ.setdefault("KERAS_BACKEND", "jax")
    if devices_per_process:
        flags = [f for f in environ.get("XLA_FLAGS", "").split() if "xla_force_host_platform_device_count" not in f]
        environ["XLA_FLAGS"] = " ".join(flags + [f"--xla_force_host_platform_device_count={devices_per_process}"])
    return [{**environ, "KERAS_DISTRIBUTION_JOB_ADDRESSES": f"127.0.0.1:{port}",
             "KERAS_DISTRIBUTION_NUM_PROCESSES": str(processes), "KERAS_DISTRIBUTION_PROCESS_ID": str(i)}
            for i in range(processes)]


def run(args):
    from keras_gan import cli

    command = list(args.child_command)
    if command[:1] == ["--"]:
        command = command[1:]
    if args.processes < 1:
        raise UsageError(f"--processes {args.processes} must be at least 1.")
    if args.port is not None and not 1 <= args.port <= 65535:
        raise UsageError(f"--port {args.port} is not a TCP port; expected 1 to 65535 (or leave it out for a free one).")
    if args.devices_per_process is not None and args.devices_per_process < 1:
        raise UsageError(f"--devices-per-process {args.devices_per_process} must be at least 1.")
    if not command or command[0] not in cli.COMMANDS or command[0] == "launch":
        raise UsageError(f"after -- give the keras-gan command each process runs (one of "
                         f"{', '.join(c for c in cli.COMMANDS if c != 'launch')}), e.g. "
                         f"keras-gan launch --processes 2 -- train --backend jax --strategy data_parallel; "
                         f"got {' '.join(command) or 'nothing'!r}.")
    port = args.port or _free_port()
    procs = []
    for env in environments(args.processes, port, args.devices_per_process):
        # A session of their own: a Ctrl-C at the terminal reaches the launcher only, which passes it on
        # as SIGTERM to all of them at once (JAX's preemption service stops them at the same step).
        procs.append(subprocess.Popen([sys.executable, "-m", "keras_gan.cli", *command], env=env,
                                      start_new_session=True))
    forwarded = []

    def forward(signum, frame):
        forwarded.append(signum)
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)

    previous = {s: signal.signal(s, forward) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        while any(p.poll() is None for p in procs):
            time.sleep(0.1)
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    codes = [_code(p.returncode) for p in procs]
    worst = max(codes)
    if worst:
        print(f"keras-gan launch: exit codes of processes 0..{len(procs) - 1}: {codes}", file=sys.stderr, flush=True)
    return worst
