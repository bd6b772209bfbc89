"""The CPU this process runs on, read once from ``/proc/cpuinfo``.

Shared by the convolution-form cache key (:mod:`keras_gan.kernels._tf`) and the
benchmarks' machine record (:mod:`keras_gan.bench.throughput`). Imports
nothing heavy: the benchmark also runs on GPU machines without TensorFlow.
"""

import functools


@functools.lru_cache(maxsize=None)
def cpu_model_and_flags():
    """The first CPU's model name and feature flags.

    Returns:
        ``(model, flags)``: a string and a frozenset of flag names;
        ``("unknown", frozenset())`` where ``/proc/cpuinfo`` cannot be read.
    """
    cpu, flags = "unknown", frozenset()
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name") and cpu == "unknown":
                    cpu = line.split(":", 1)[1].strip()
                elif line.startswith("flags") and not flags:
                    flags = frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return cpu, flags
