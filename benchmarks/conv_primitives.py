"""Per-primitive convolution times of the 64x64 DCGAN's discriminator layers: TensorFlow's stock kernels vs PyTorch.

Each 5x5 stride-2 "same" convolution of a training step is three computations
(forward, input gradient, filter gradient). This times each, for each layer
shape of ``--cases dcgan64`` (batch 64, float32), with TensorFlow's stock ops
(timed as graphs, best of several, as ``keras_gan.kernels._tf`` times its forms) and
with PyTorch (``torch.ops.aten.convolution_backward``, in its own process), and
prints the ratio per primitive. It answers whether a whole-step gap between the
two frameworks is in the convolution kernels or around them.

Usage: python benchmarks/conv_primitives.py [--isa avx2] [--json FILE]
(``--isa avx2`` limits oneDNN and PyTorch's kernels to AVX2, as ``keras-gan bench throughput --isa avx2``.)
"""

import argparse
import json
import os
import subprocess
import sys

BATCH = 64
LAYERS = [(64, 3, 64), (32, 64, 128), (16, 128, 256), (8, 256, 512)]  # input size, in channels, out channels
PRIMITIVES = ("forward", "input_grad", "filter_grad")

_TORCH = r"""
import json, time, torch
def best(f, n=20):
    f(); f(); f()
    times = []
    for _ in range(n):
        t = time.perf_counter(); f(); times.append(time.perf_counter() - t)
    return min(times)
out = {}
for s, ci, co in %r:
    x, w = torch.randn(%d, ci, s, s), torch.randn(co, ci, 5, 5)
    dy = torch.randn_like(torch.nn.functional.conv2d(x, w, stride=2, padding=2))
    bwd = lambda mask: torch.ops.aten.convolution_backward(dy, x, w, None, [2, 2], [2, 2], [1, 1], False, [0, 0], 1, mask)
    out[f"{s}x{ci}->{co}"] = [best(lambda: torch.nn.functional.conv2d(x, w, stride=2, padding=2)),
                             best(lambda: bwd([True, False, False])), best(lambda: bwd([False, True, False]))]
print(json.dumps(out))
"""


def _tensorflow():
    import tensorflow as tf

    from keras_gan.kernels import _tf as _conv

    out = {}
    for s, ci, co in LAYERS:
        x, w = tf.TensorSpec((BATCH, s, s, ci)), tf.TensorSpec((5, 5, ci, co))
        dy = tf.TensorSpec((BATCH, s // 2, s // 2, co))
        out[f"{s}x{ci}->{co}"] = [
            _conv._time_forms("conv", ["plain"], x, w, None)["plain"],
            _conv._time_forms("transpose", ["plain"], dy, w, (s, s))["plain"],
            _conv._time_forms("filter_grad", ["op"], x, w, None)["op"],
        ]
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--isa", choices=("native", "avx2"), default="native")
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    if args.isa == "avx2":
        os.environ.update(ONEDNN_MAX_CPU_ISA="AVX2", ATEN_CPU_CAPABILITY="avx2")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    torch_times = json.loads(subprocess.run([sys.executable, "-c", _TORCH % (LAYERS, BATCH)], check=True,
                                            capture_output=True, text=True, env=os.environ).stdout)
    tf_times = _tensorflow()
    from keras_gan.bench.throughput import machine_info

    report = {"machine": machine_info(), "isa": args.isa, "batch": BATCH, "seconds": {}}
    print(f"{'layer':16s}" + "".join(f" | {p:>28s}" for p in PRIMITIVES))
    print(f"{'':16s}" + " | {:>28s}".format("tensorflow / torch ms (ratio)") * 3)
    for layer in tf_times:
        row = f"{layer:16s}"
        for i, p in enumerate(PRIMITIVES):
            t, p_t = tf_times[layer][i], torch_times[layer][i]
            row += f" | {1e3 * t:9.2f} / {1e3 * p_t:7.2f} ({p_t / t:4.2f}x)"
            report["seconds"].setdefault(layer, {})[p] = {"tensorflow": t, "torch": p_t, "torch_over_tf": p_t / t}
        print(row)
    if args.json:
        from keras_gan.files import write_json

        write_json(args.json, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
