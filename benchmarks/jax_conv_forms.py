"""Per-convolution times of the DCGAN's layers on the JAX backend: Keras' stock ops vs keras-gan's form.

For every stride-2 layer of a DCGAN (generator: transposed convolutions; discriminator: convolutions),
times its forward pass, its input gradient and its kernel gradient separately, each as its own jitted
function, median of several runs after warm-up:

* ``stock``: ``keras.ops.conv_transpose`` / ``keras.ops.conv`` (what ``keras.layers.Conv2DTranspose`` runs);
* ``lhs`` / ``subpixel`` / ``subgemm`` (transposed convolutions): ``keras_gan.kernels._jax``'s transposed
  convolution with that forward form, whose gradients are the strided convolution and its filter gradient;
* ``plain`` / ``gemm`` (convolutions): ``keras_gan.kernels._jax``'s convolution in that form, its input gradient
  in the sub-pixel form;
* ``torch`` (with ``--torch``): the same layer in PyTorch (``conv_transpose2d`` / ``conv2d``, NCHW, what
  ``benchmarks/torch_dcgan.py`` runs on a CPU), forward and each gradient by ``torch.autograd.grad``: the
  per-convolution table that shows whether XLA's CPU convolutions or the step around them are the limit.

Needs JAX and Keras only (no TensorFlow): it runs on the GPU machine as it runs here.

Usage: KERAS_BACKEND=jax python benchmarks/jax_conv_forms.py [--size 64 --channels 3 --base 64 --layers 4]
       [--batch 64 256] [--dtype float32 bfloat16] [--forms stock lhs subpixel subgemm plain gemm] [--torch]
       [--repeats 20] [--json FILE]
"""

import argparse
import json
import os
import statistics
import sys
import time

os.environ.setdefault("KERAS_BACKEND", "jax")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import keras  # noqa: E402

from keras_gan.kernels import _jax as _conv_jax  # noqa: E402


def layers(size, channels, base, n, kernel=5):
    """``[(network, in_hw, in_channels, out_channels)]`` of the DCGAN's stride-2 layers."""
    out = []
    start, width = size // 2**n, base * 2 ** (n - 1)
    s = start
    for i in range(1, n + 1):
        c_out = width // 2 if i < n else channels
        out.append(("G", s, width, c_out))
        s, width = 2 * s, c_out
    s, c_in, w = size, channels, base
    for i in range(n):
        out.append(("D", s, c_in, w))
        s, c_in, w = s // 2, w, 2 * w
    return out


def _ops(net, form, kernel):
    if net == "G":
        if form == "stock":
            return lambda x, w: keras.ops.conv_transpose(x, w, 2, padding="same")
        # keras-gan's transposed convolution with its forward in `form`; gradients: the strided convolution
        return lambda x, w: _conv_jax._transpose(x, w, (2, 2), "same", (2 * x.shape[1], 2 * x.shape[2]), form,
                                                 "plain")
    if form == "stock":
        return lambda x, w: keras.ops.conv(x, w, 2, padding="same")
    return lambda x, w: _conv_jax._conv(x, w, (2, 2), "same", form, "subpixel")


def measure_torch(net, hw, c_in, c_out, batch, dtype, kernel=5, repeats=20):
    """The same layer in PyTorch eager (NCHW, oneDNN on a CPU): forward, input and kernel gradient in ms."""
    import torch

    torch_dtype = {"float32": torch.float32, "bfloat16": torch.bfloat16}[dtype]
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(batch, c_in, hw, hw, generator=gen).to(torch_dtype).requires_grad_(True)
    if net == "G":
        w = (torch.randn(c_in, c_out, kernel, kernel, generator=gen) * 0.02).to(torch_dtype).requires_grad_(True)

        def op(x, w):
            return torch.nn.functional.conv_transpose2d(x, w, stride=2, padding=2, output_padding=1)
    else:
        w = (torch.randn(c_out, c_in, kernel, kernel, generator=gen) * 0.02).to(torch_dtype).requires_grad_(True)

        def op(x, w):
            return torch.nn.functional.conv2d(x, w, stride=2, padding=2)
    y = op(x, w)
    g = torch.randn(y.shape, generator=gen).to(torch_dtype)

    def timed(fn):
        fn()
        times = []
        for _ in range(repeats):
            t = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t)
        return 1e3 * statistics.median(times)

    with torch.no_grad():
        fwd = timed(lambda: op(x, w))
    return {"net": net, "in": [hw, hw, c_in], "out_channels": c_out, "batch": batch, "dtype": dtype, "form": "torch",
            "forward_ms": fwd,
            "input_grad_ms": timed(lambda: torch.autograd.grad(y, x, g, retain_graph=True)),
            "kernel_grad_ms": timed(lambda: torch.autograd.grad(y, w, g, retain_graph=True))}


def _time(fn, args, repeats):
    out = fn(*args)
    jax.block_until_ready(out)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        jax.block_until_ready(fn(*args))
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def measure(net, hw, c_in, c_out, batch, dtype, form, kernel=5, repeats=20):
    key = jax.random.key(0)
    k1, k2, k3 = jax.random.split(key, 3)
    x = jax.random.normal(k1, (batch, hw, hw, c_in), dtype)
    if net == "G":
        w = jax.random.normal(k2, (kernel, kernel, c_out, c_in), dtype) * 0.02
    else:
        w = jax.random.normal(k2, (kernel, kernel, c_in, c_out), dtype) * 0.02
    op = _ops(net, form, kernel)
    y = op(x, w)
    g = jax.random.normal(k3, y.shape, dtype)
    fwd = jax.jit(op)
    dx = jax.jit(lambda x, w, g: jax.vjp(lambda x_: op(x_, w), x)[1](g)[0])
    dw = jax.jit(lambda x, w, g: jax.vjp(lambda w_: op(x, w_), w)[1](g)[0])
    flops = 2 * kernel * kernel * c_in * c_out * batch * (hw * hw if net == "G" else (hw // 2) ** 2)
    result = {"net": net, "in": [hw, hw, c_in], "out_channels": c_out, "batch": batch, "dtype": dtype,
              "form": form, "gflop": flops / 1e9}
    for name, fn, args in (("forward", fwd, (x, w)), ("input_grad", dx, (x, w, g)), ("kernel_grad", dw, (x, w, g))):
        result[name + "_ms"] = 1e3 * _time(fn, args, repeats)
    return result


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--channels", type=int, default=3)
    p.add_argument("--base", type=int, default=64)
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--batch", type=int, nargs="+", default=[64])
    p.add_argument("--dtype", nargs="+", default=["float32"], choices=["float32", "bfloat16"])
    p.add_argument("--forms", nargs="+", default=["stock", "lhs", "subpixel"],
                   choices=["stock", "lhs", "subpixel", "subgemm", "plain", "gemm"],
                   help="transposed convolutions: stock lhs subpixel subgemm; convolutions: stock plain gemm.")
    p.add_argument("--torch", action="store_true", help="also time each layer in PyTorch eager.")
    p.add_argument("--repeats", type=int, default=20)
    p.add_argument("--json", default=None)
    a = p.parse_args(argv)
    rows = []
    print(f"device: {jax.devices()[0].device_kind}, jax {jax.__version__}, keras {keras.__version__}", flush=True)
    print(f"{'net':3s} {'input':>13s} {'out':>5s} {'batch':>5s} {'dtype':>8s} {'form':>8s} "
          f"{'fwd ms':>8s} {'dx ms':>8s} {'dw ms':>8s}", flush=True)
    for batch in a.batch:
        for dtype in a.dtype:
            for net, hw, c_in, c_out in layers(a.size, a.channels, a.base, a.layers):
                allowed = ("stock", "lhs", "subpixel", "subgemm") if net == "G" else ("stock", "plain", "gemm")
                forms = [f for f in a.forms if f in allowed] + (["torch"] if a.torch else [])
                for form in forms:
                    if form == "torch":
                        r = measure_torch(net, hw, c_in, c_out, batch, dtype, repeats=a.repeats)
                    else:
                        r = measure(net, hw, c_in, c_out, batch, dtype, form, repeats=a.repeats)
                    rows.append(r)
                    print(f"{net:3s} {'x'.join(map(str, r['in'])):>13s} {c_out:5d} {batch:5d} {dtype:>8s} {form:>8s} "
                          f"{r['forward_ms']:8.3f} {r['input_grad_ms']:8.3f} {r['kernel_grad_ms']:8.3f}", flush=True)
    if a.json:
        with open(a.json, "w") as fh:
            json.dump({"device": jax.devices()[0].device_kind, "jax": jax.__version__, "rows": rows}, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
