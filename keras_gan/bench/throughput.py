"""``keras-gan bench throughput``: images/s and peak memory of the DCGAN training step, against PyTorch.

Each measurement runs in its own process (clean peak memory, no shared thread
pools), keras-gan and the PyTorch peer (``benchmarks/torch_dcgan.py``, the
same architecture and step) in turn, A B A B ..., so a machine whose speed
drifts affects both; the ratio is taken pair by pair and its median reported.
The step is one discriminator and one generator update with Adam on a batch
of real images and fresh noise: keras-gan's own model and ``train_step``
under ``model.fit``, on the Keras backend each framework names
(``keras-tf`` = ``keras``, ``keras-jax``, ``keras-torch``). The benchmark also
times a float32 matrix product in numpy in the same run, reports the achieved
GFLOP/s of each step as a fraction of that peak, and records the machine (CPU
model, AVX-512 or not, cores, GPU).

On a GPU box without TensorFlow: ``keras-gan bench throughput --frameworks
keras-jax torch`` (nothing here imports TensorFlow unless a TensorFlow
framework or the digits input-pipeline figure is asked for and it is installed).
"""

import json
import os
import statistics
import subprocess
import sys
import time

HELP = "DCGAN training-step throughput (img/s, peak memory, GFLOP/s) of keras-gan vs PyTorch, same run."
STARTS_KERAS = False  # the parent spawns one worker process per measurement and never imports Keras

# name -> (image size, channels, base filters, stride-2 layers, batch)
CASES = {
    "dcgan64": (64, 3, 64, 4, 64),
    "dcgan64-b256": (64, 3, 64, 4, 256),
    "fig13.9": (64, 3, 128, 4, 64),  # the notes' figure exactly: 1024-512-256-128 channels
    "digits": (8, 1, 64, 2, 64),
}
_SMOKE = {"smoke": (8, 1, 4, 2, 8)}

# framework -> (Keras backend, precision, jit_compile (None: the backend's default; for the PyTorch peers:
# torch.compile), stock Keras layers)
FRAMEWORKS = {
    "keras": ("tensorflow", "float32", None, False),
    "keras-static": ("tensorflow", "float32", None, False),
    "keras-tf": ("tensorflow", "float32", None, False),
    "keras-plain": ("tensorflow", "float32", None, True),
    "keras-xla": ("tensorflow", "float32", True, False),
    "keras-bf16": ("tensorflow", "bfloat16", None, False),
    "keras-jax": ("jax", "float32", None, False),
    "keras-jax-bf16": ("jax", "bfloat16", None, False),
    "keras-jax-plain": ("jax", "float32", None, True),
    "keras-jax-bf16-plain": ("jax", "bfloat16", None, True),
    "keras-torch": ("torch", "float32", None, False),
    "torch": (None, "float32", False, False),
    "torch-bf16": (None, "bfloat16", False, False),
    "torch-compile": (None, "float32", True, False),
    "torch-compile-bf16": (None, "bfloat16", True, False),
}
# keras-gan framework -> its "before" (stock Keras layers and Adam on the same backend), reported as a speedup
_BEFORE = {"keras": ("keras-plain", "keras-static"), "keras-jax": ("keras-jax-plain",),
           "keras-jax-bf16": ("keras-jax-bf16-plain",)}


def add_arguments(parser):
    parser.add_argument("--cases", nargs="+", default=["dcgan64", "dcgan64-b256", "digits"],
                        choices=list(CASES) + list(_SMOKE), help="fig13.9: the figure at base 128 (not in the default).")
    parser.add_argument("--batch", type=int, nargs="+", default=None, metavar="N",
                        help="run every case at each of these batch sizes instead of its own (cases named "
                             "CASE-bN in the table and JSON).")
    parser.add_argument("--steps", type=int, default=10, help="timed steps per process (default 10).")
    parser.add_argument("--repeats", type=int, default=3, help="processes per framework and case (default 3).")
    parser.add_argument("--frameworks", nargs="+", default=["keras", "torch"],
                        choices=list(FRAMEWORKS),
                        help="keras / keras-tf, keras-jax, keras-torch: keras-gan's model and step on that Keras "
                             "backend. -bf16: mixed bfloat16 (Keras mixed_bfloat16 / torch.autocast); "
                             "each is compared with the peer of the same precision. keras-plain: the same "
                             "step on stock Keras layers and Adam (the before of keras-gan's fused/fast kernels); "
                             "keras-xla: TensorFlow with jit_compile. keras-static: keras-gan with its "
                             "convolution forms by the fixed rule (KERAS_GAN_CONV_FORMS=static) instead of "
                             "timed on this machine. keras-jax-plain: stock Keras layers on JAX. torch: the "
                             "PyTorch peer, tuned for its device (benchmarks/torch_dcgan.py); torch-compile: "
                             "the same under torch.compile. Ratios are against the fastest PyTorch peer of "
                             "the same precision in the run.")
    parser.add_argument("--isa", choices=["native", "avx2"], default="native",
                        help="avx2: limit oneDNN (TensorFlow, PyTorch) and PyTorch's own kernels to AVX2 "
                             "(ONEDNN_MAX_CPU_ISA=AVX2, ATEN_CPU_CAPABILITY=avx2), the kernels an AVX2-only "
                             "machine runs, on an AVX-512 one (not its clock, caches or memory).")
    parser.add_argument("--intra-op-threads", nargs="+", default=None, metavar="[FRAMEWORK=]N",
                        help="threads one op may use (TensorFlow: TF_NUM_INTRAOP_THREADS; PyTorch: "
                             "OMP_NUM_THREADS): N for every framework, FRAMEWORK=N for one (e.g. keras=1: "
                             "keras-gan as the digits configs run it, train.intra_op_threads 1, the peers at "
                             "their default); N may be 'default', the framework's own. Unset: each framework's own "
                             "(one per core), except keras-gan on TensorFlow in the digits case, which runs as "
                             "configs/dcgan_digits.yaml ships it (its train.intra_op_threads): the step "
                             "`keras-gan train` runs.")
    parser.add_argument("--json", required=True, help="output JSON file.")
    parser.add_argument("--worker", default=None, help=argparse_suppress())


def argparse_suppress():
    import argparse

    return argparse.SUPPRESS


def conv_flops(size, channels, base, n, latent=100):
    """Multiply-adds x 2 of one forward pass of G and of D (``(g_flops, d_flops)``, per image)."""
    k2 = 25
    start = size // 2**n
    width = base * 2 ** (n - 1)
    g = 2 * latent * start * start * width
    s = start
    for i in range(1, n + 1):
        out = width // 2 if i < n else channels
        s *= 2
        g += 2 * k2 * width * out * s * s / 4  # a stride-2 transposed conv: each input pixel x kernel
        width = out
    d, c_in, w, s = 0, channels, base, size
    for i in range(n):
        s //= 2
        d += 2 * k2 * c_in * w * s * s
        c_in, w = w, w * 2
    d += 2 * c_in * s * s
    return g, d


def step_flops(size, channels, base, n):
    """Useful FLOPs of one training step per image (a backward pass counted as twice its forward).

    D step: G forward (1 G), D forward and backward on real and on fake (3 D + 3 D);
    G step: G forward and backward (3 G), D forward and backward to its input (2 D).
    """
    g, d = conv_flops(size, channels, base, n)
    return 4 * g + 8 * d


def peak_rss_mb():
    """This process's peak resident memory (VmHWM), MB.

    Not ``getrusage``: Linux keeps ``ru_maxrss`` across ``exec``, so a worker
    started from a big parent would report the parent's peak.
    """
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _plain_keras_copy(model):
    """A copy of a keras-gan network built from stock Keras layers only (fresh weights).

    ``FusedBatchNormalization`` / ``FastConv2D`` / ``FastConv2DTranspose`` / ``Flatten``
    become ``BatchNormalization`` / ``Conv2D`` / ``Conv2DTranspose`` / ``Flatten`` with the
    same config: the ``keras-plain`` rows of the benchmark, the "before" of
    those layers, measured in the same run.
    """
    import keras

    from keras_gan import networks

    stock = {
        networks.FusedBatchNormalization: keras.layers.BatchNormalization,
        networks.FastConv2D: keras.layers.Conv2D,
        networks.FastConv2DTranspose: keras.layers.Conv2DTranspose,
        networks.Flatten: keras.layers.Flatten,
    }

    def clone(layer):
        if isinstance(layer, keras.layers.SpectralNormalization):
            return keras.layers.SpectralNormalization(clone(layer.layer), power_iterations=layer.power_iterations,
                                                      name=layer.name)
        return stock.get(type(layer), type(layer)).from_config(layer.get_config())

    return keras.models.clone_model(model, clone_function=clone)


def _keras_worker(case, steps, jit, precision="float32", plain=False):
    """Times keras-gan's DCGAN step under ``fit`` on the Keras backend of this process (``KERAS_BACKEND``)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras
    import numpy as np

    from keras_gan import models

    size, channels, base, n, batch = case
    keras.mixed_precision.set_dtype_policy("mixed_bfloat16" if precision == "bfloat16" else "float32")
    keras.utils.set_random_seed(0)
    model = models.DCGAN(image_shape=(size, size, channels), latent_dim=100, base_filters=base, num_upsamplings=n)
    if plain:  # stock Keras layers and Adam: the same step before keras-gan's fused and fast kernels
        model = models.AdversarialModel(_plain_keras_copy(model.generator), _plain_keras_copy(model.discriminator),
                                        latent_dim=100)
        model.compile(g_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5),
                      d_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5), d_steps=1, jit_compile=jit)
    else:
        model.compile(d_steps=1, jit_compile=jit)
    x = np.random.default_rng(0).uniform(-1, 1, (batch, size, size, channels)).astype("float32")
    data = np.tile(x, (steps + 2, 1, 1, 1))  # the same batch every step, through Keras' array adapter
    model.fit(data[: 2 * batch], batch_size=batch, shuffle=False, epochs=1, verbose=0)  # trace and warm up

    class _Clock(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.times = []

        def on_train_batch_begin(self, batch, logs=None):
            self._t = time.perf_counter()

        def on_train_batch_end(self, batch, logs=None):
            float(logs["g_loss"])  # wait for the step to finish
            self.times.append(time.perf_counter() - self._t)

    clock = _Clock()
    model.fit(data[: steps * batch], batch_size=batch, shuffle=False, epochs=1, verbose=0, callbacks=[clock])
    times = sorted(clock.times)
    median = times[len(times) // 2]
    result = {"images_per_second": batch / median, "seconds_per_step": times,
              "peak_rss_mb": peak_rss_mb(), "backend": keras.backend.backend(), "keras": keras.__version__,
              "jit_compile": bool(model.jit_compile)}
    if keras.backend.backend() == "tensorflow":
        from keras_gan.kernels import _tf as _conv

        result["intra_op_threads"] = _conv.intra_op_threads()
        result["conv_forms_mode"] = _conv.mode()
        result["conv_forms"] = _conv.choices()
    if keras.backend.backend() == "jax":
        import jax

        from keras_gan.kernels import _jax as _conv_jax

        result["conv_forms_mode"] = _conv_jax.mode()
        result["conv_forms"] = _conv_jax.choices()
        result["device"] = str(jax.devices()[0].device_kind)
    return result


_MATMUL = (
    "import time, numpy as np\n"
    "a = np.random.default_rng(0).standard_normal((4096, 4096), dtype=np.float32)\n"
    "a @ a\n"
    "best = min((lambda t: (a @ a, time.perf_counter() - t)[1])(time.perf_counter()) for _ in range(3))\n"
    "print(2 * 4096 ** 3 / best / 1e9)\n"
)


def _matmul_peak():
    """numpy's float32 4096^3 matrix product in a fresh process, GFLOP/s.

    OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE are unset for that process: some of
    these machines pin OpenBLAS to an older kernel, which halves its speed.
    """
    env = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}
    out = subprocess.run([sys.executable, "-c", _MATMUL], capture_output=True, text=True, env=env, check=True)
    return float(out.stdout.strip())


def _pipeline_rate(batch=64, steps=200):
    """Images/s that the digits input pipeline (tfds -> cache -> shuffle -> batch -> prefetch) delivers alone."""
    from keras_gan import data

    ds, per_epoch, _ = data.training_dataset("digits", batch_size=batch, epochs=steps // 22 + 2)
    it = iter(ds)
    next(it)
    t = time.perf_counter()
    for _ in range(steps):
        next(it)
    return batch * steps / (time.perf_counter() - t)


_AVX2_ENV = {"ONEDNN_MAX_CPU_ISA": "AVX2", "ATEN_CPU_CAPABILITY": "avx2"}


def _threads_per_framework(tokens, frameworks):
    """``--intra-op-threads`` as ``{framework: threads, "default" or None}`` (None: not set).

    Args:
        tokens: the option's words: ``N`` (every framework) or ``FRAMEWORK=N``, N a count or ``default``
            (the framework's own); ``None`` for none.
        frameworks: the frameworks of this run.

    Returns:
        One entry per framework, in ``frameworks``' order.

    Raises:
        UsageError: for a count below 1, a word that is neither form, or a framework not in this run.

    Example:

    >>> _threads_per_framework(["keras=1", "torch=default"], ["keras", "torch", "keras-static"])
    {'keras': 1, 'torch': 'default', 'keras-static': None}
    """
    from keras_gan.errors import UsageError

    out = dict.fromkeys(frameworks)
    for token in tokens or ():
        name, _, count = token.rpartition("=")
        if name and name not in out:
            raise UsageError(f"--intra-op-threads {token}: {name!r} is not among this run's --frameworks "
                             f"({', '.join(frameworks)}).")
        try:
            n = "default" if count == "default" else int(count)
        except ValueError:
            n = 0
        if n != "default" and n < 1:
            raise UsageError(f"--intra-op-threads {token} must be N or FRAMEWORK=N with N >= 1 or 'default' "
                             "(or left out: each framework's own, keras-gan's digits case as its config ships).")
        for f in ([name] if name else frameworks):
            out[f] = n
    return out


# case -> the config whose train.intra_op_threads keras-gan on TensorFlow runs that case with by default
_SHIPPED_THREADS = {"digits": "dcgan_digits"}


def _case_threads(threads, case_name):
    """Threads per op for each framework's workers of one case (None: the framework's default).

    What ``--intra-op-threads`` set wins; where it set nothing, keras-gan on TensorFlow takes the
    ``train.intra_op_threads`` of the config that ships the case (``_SHIPPED_THREADS``), so that the
    benchmark times the step that ``keras-gan train`` runs; everything else keeps its default.

    Args:
        threads: :func:`_threads_per_framework`'s result.
        case_name: a key of ``CASES`` (or the smoke case).

    Returns:
        ``{framework: int or None}``.

    Example:

    >>> _case_threads({"keras": None, "torch": None}, "digits")
    {'keras': 1, 'torch': None}
    >>> _case_threads({"keras": "default", "torch": 2}, "digits")
    {'keras': None, 'torch': 2}
    >>> _case_threads({"keras": None}, "dcgan64")
    {'keras': None}
    >>> _case_threads({"keras": None}, "digits-b32")   # --batch 32: the same model, as shipped
    {'keras': 1}
    """
    shipped = None
    model = _model_of(case_name)
    if model in _SHIPPED_THREADS:
        from keras_gan import config

        shipped = config.load(_SHIPPED_THREADS[model]).train.intra_op_threads
    out = {}
    for f, n in threads.items():
        if n is None and FRAMEWORKS[f][0] == "tensorflow":
            n = shipped
        out[f] = None if n == "default" else n
    return out


def _threads_word(n):
    """A thread count as printed: the number, or ``default`` for the framework's own."""
    return "default" if n is None else str(n)


def _spawn(framework, case, steps, isa="native", threads=None):
    backend, precision, _, _ = FRAMEWORKS[framework]
    env = dict(os.environ)
    if isa == "avx2":
        env.update(_AVX2_ENV)
    if threads is not None:
        env.update(TF_NUM_INTRAOP_THREADS=str(threads), OMP_NUM_THREADS=str(threads))
    if framework == "keras-static":
        env["KERAS_GAN_CONV_FORMS"] = "static"
    if backend is None:
        script = os.path.join(os.path.dirname(__file__), "..", "..", "benchmarks", "torch_dcgan.py")
        mode = "compile" if FRAMEWORKS[framework][2] else "eager"
        cmd = [sys.executable, os.path.abspath(script), *map(str, case), str(steps), precision, mode]
    else:
        env["KERAS_BACKEND"] = backend
        cmd = [sys.executable, "-m", "keras_gan.bench.throughput", "--worker",
               json.dumps({"framework": framework, "case": case, "steps": steps})]
    out = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if out.returncode != 0:
        raise RuntimeError(f"{framework} worker failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def run(args):
    from keras_gan.errors import UsageError

    if args.worker:
        spec = json.loads(args.worker)
        _, precision, jit, plain = FRAMEWORKS[spec["framework"]]
        print(json.dumps(_keras_worker(tuple(spec["case"]), spec["steps"], jit, precision, plain=plain)))
        return 0
    if args.steps < 1 or args.repeats < 1:
        raise UsageError("--steps and --repeats must be >= 1.")
    if args.batch and min(args.batch) < 1:
        raise UsageError(f"--batch {' '.join(map(str, args.batch))}: every batch size must be >= 1.")
    threads = _threads_per_framework(args.intra_op_threads, args.frameworks)
    bf16 = [f for f in args.frameworks if FRAMEWORKS[f][1] == "bfloat16"]
    if args.isa == "avx2" and bf16:
        # TensorFlow still takes its bfloat16 path on a CPU that has it, and oneDNN limited to AVX2 has no
        # kernel for it: the process crashes (seen: a segfault in a bfloat16 matmul).
        raise UsageError(f"--isa avx2 does not run the bfloat16 frameworks {', '.join(bf16)}: an AVX2-only "
                         "CPU has no bfloat16 kernels; drop them or use --isa native.")
    import importlib.util

    needed = {"torch" if FRAMEWORKS[f][0] in (None, "torch") else FRAMEWORKS[f][0] for f in args.frameworks}
    for package in sorted(needed):
        if importlib.util.find_spec(package) is None:
            raise UsageError(f"--frameworks needs {package!r}, which is not installed "
                             f"(pip install -e '.[dev]'), or drop the frameworks that use it.")
    from keras_gan.training import runs

    peak = _matmul_peak()
    machine = machine_info(peak)
    if args.isa == "avx2":
        machine["kernels"] = "AVX2 (emulated: " + ", ".join(f"{k}={v}" for k, v in _AVX2_ENV.items()) + ")"
        machine["summary"] += "; kernels limited to AVX2"
    print(f"machine: {machine['summary']}", flush=True)
    cases = {**CASES, **_SMOKE}
    if any(n is not None for n in threads.values()):
        machine["summary"] += "; threads per op: " + ", ".join(
            f"{f} {'not set' if n is None else n}" for f, n in threads.items())
    report = {"matmul_gflops": peak, "machine": machine, "cases": {}, "cpu_count": os.cpu_count(), "isa": args.isa,
              "intra_op_threads": threads}
    for name, case in _cases_at_batches(args.cases, args.batch, cases):
        flops = step_flops(*case[:4])
        per = {f: [] for f in args.frameworks}
        case_threads = _case_threads(threads, name)
        if any(n is not None for n in case_threads.values()):
            print(f"[{name}] threads per op: " + ", ".join(
                f"{f} {_threads_word(n)}" for f, n in case_threads.items()), flush=True)
        for r in range(args.repeats):
            for f in args.frameworks:
                res = _spawn(f, case, args.steps, args.isa, case_threads[f])
                per[f].append(res)
                print(f"[{name} {r + 1}/{args.repeats}] {f:14s} {res['images_per_second']:9.1f} img/s  "
                      f"peak {res['peak_rss_mb']:.0f} MB", flush=True)
        entry = {"image_shape": [case[0], case[0], case[1]], "base_filters": case[2], "batch": case[4],
                 "gflop_per_image_step": flops / 1e9, "intra_op_threads": case_threads, "frameworks": {}}
        for f, results in per.items():
            ips = [x["images_per_second"] for x in results]
            entry["frameworks"][f] = {
                "images_per_second": statistics.median(ips), "all": ips,
                "peak_rss_mb": max(x["peak_rss_mb"] for x in results),
                "gflops": statistics.median(ips) * flops / 1e9,
                "fraction_of_matmul_peak": statistics.median(ips) * flops / 1e9 / peak,
            }
        for f in per:
            peer = _strongest_peer(entry["frameworks"], FRAMEWORKS[f][1])
            if f.startswith("keras") and peer is not None:
                pairs = [a["images_per_second"] / b["images_per_second"] for a, b in zip(per[f], per[peer])]
                entry["frameworks"][f]["ratio_vs_torch"] = statistics.median(pairs)
                entry["frameworks"][f]["ratio_vs_torch_pairs"] = pairs
                entry["frameworks"][f]["peer"] = peer
        for f, befores in _BEFORE.items():
            for before in befores:
                if f in per and before in per:
                    pairs = [a["images_per_second"] / b["images_per_second"] for a, b in zip(per[f], per[before])]
                    suffix = "static" if before.endswith("static") else "plain"
                    entry["frameworks"][f][f"speedup_vs_keras_{suffix}"] = statistics.median(pairs)
                    entry["frameworks"][f][f"speedup_vs_keras_{suffix}_pairs"] = pairs
        for f in per:
            if f.startswith("keras") and per[f][-1].get("conv_forms"):
                entry["frameworks"][f]["conv_forms"] = per[f][-1]["conv_forms"]
        report["cases"][name] = entry
    if "digits" in args.cases and importlib.util.find_spec("tensorflow") is not None:
        rate = _pipeline_rate()
        report["digits_pipeline_images_per_second"] = rate
        step = report["cases"].get("digits", {}).get("frameworks", {}).get("keras", {}).get("images_per_second")
        print(f"digits input pipeline alone: {rate:.0f} img/s"
              + (f" ({rate / step:.0f}x what the training step consumes)" if step else ""), flush=True)
    runs.write_json(args.json, report)
    print(_table(report))
    return 0


def _cases_at_batches(names, batches, cases):
    """``[(name, case)]`` to run: each case as defined, or at each of ``batches`` (named ``CASE-bN``).

    Example:

    >>> _cases_at_batches(["digits"], [256, 1024], CASES)
    [('digits-b256', (8, 1, 64, 2, 256)), ('digits-b1024', (8, 1, 64, 2, 1024))]
    >>> _cases_at_batches(["digits"], None, CASES)
    [('digits', (8, 1, 64, 2, 64))]
    """
    if not batches:
        return [(name, cases[name]) for name in names]
    return [(f"{_model_of(name)}-b{b}", (*cases[name][:4], b)) for name in names for b in batches]


def _model_of(case_name):
    """The model a case name runs, without its batch suffix (``digits-b32`` and ``digits`` -> ``digits``)."""
    return case_name.split("-b")[0]


def _strongest_peer(results, precision):
    """The PyTorch framework of ``precision`` with the highest median img/s in ``results`` (None if none ran).

    Example:

    >>> _strongest_peer({"torch": {"images_per_second": 5.0}, "torch-compile": {"images_per_second": 7.0},
    ...                  "torch-bf16": {"images_per_second": 9.0}}, "float32")
    'torch-compile'
    """
    peers = [f for f in results if FRAMEWORKS[f][0] is None and FRAMEWORKS[f][1] == precision]
    return max(peers, key=lambda f: results[f]["images_per_second"]) if peers else None


def machine_info(matmul_gflops=None):
    """What machine a figure is from: CPU model, AVX-512 or not, cores, GPUs, the matmul peak.

    Args:
        matmul_gflops: numpy's float32 matrix-product rate measured in the same run.

    Returns:
        A dict with ``cpu``, ``avx512`` (bool), ``cores``, ``gpus`` (names from
        ``nvidia-smi``, empty without one), ``matmul_gflops`` and a one-line ``summary``.
    """
    from keras_gan.kernels import _machine

    cpu, flags = _machine.cpu_model_and_flags()
    gpus = []
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"], capture_output=True,
                             text=True, timeout=20)
        gpus = [g.strip() for g in out.stdout.splitlines() if g.strip()] if out.returncode == 0 else []
    except (OSError, subprocess.SubprocessError):
        pass
    avx512 = any(f.startswith("avx512") for f in flags)
    info = {"cpu": cpu, "avx512": avx512, "avx2": "avx2" in flags, "cores": os.cpu_count(), "gpus": gpus,
            "matmul_gflops": matmul_gflops}
    isa = "AVX-512" if avx512 else ("AVX2 only" if info["avx2"] else "no AVX2")
    peak = f", numpy sgemm {matmul_gflops:.0f} GFLOP/s" if matmul_gflops else ""
    info["summary"] = f"{cpu}, {isa}, {info['cores']} cores{peak}" + (f", GPU {', '.join(gpus)}" if gpus else "")
    return info


def _table(report):
    lines = [f"machine: {report['machine']['summary']}"] if "machine" in report else []
    lines += [f"{'case':14s} {'framework':14s} {'img/s':>9s} {'GFLOP/s':>8s} {'of peak':>8s} {'peak MB':>8s} "
             f"{'vs torch':>9s} {'vs plain':>9s} {'vs static':>9s} {'threads':>7s}"]
    for name, entry in report["cases"].items():
        for f, r in entry["frameworks"].items():
            # reports before per-case threads hold only the run's setting
            n = entry.get("intra_op_threads", report.get("intra_op_threads") or {}).get(f)
            ratio = f"{r['ratio_vs_torch']:.2f}x" if "ratio_vs_torch" in r else ""
            plain = f"{r['speedup_vs_keras_plain']:.2f}x" if "speedup_vs_keras_plain" in r else ""
            static = f"{r['speedup_vs_keras_static']:.2f}x" if "speedup_vs_keras_static" in r else ""
            lines.append(f"{name:14s} {f:14s} {r['images_per_second']:9.1f} {r['gflops']:8.1f} "
                         f"{100 * r['fraction_of_matmul_peak']:7.0f}% {r['peak_rss_mb']:8.0f} {ratio:>9s} {plain:>9s} "
                         f"{static:>9s} {_threads_word(n):>7s}")
    return "\n".join(lines)


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    sys.exit(run(parser.parse_args(["--json", "-"] + sys.argv[1:])))
