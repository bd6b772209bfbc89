"""The same DCGAN training step in PyTorch: the peer that `keras-gan bench throughput` times.

Architecture as keras_gan.networks.dcgan_generator / dcgan_discriminator
(figure 13.9 layout: dense to s x s x C, 5x5 stride-2 transposed convolutions
with batch norm and ReLU, tanh; the mirrored discriminator with LeakyReLU 0.2),
one discriminator and one generator update per step, Adam(2e-4, 0.5, 0.999),
cross-entropy / non-saturating losses.

Tuned as a PyTorch user tunes it on each device: the real batch stays on the device; on a GPU also
channels_last memory format, ``cudnn.benchmark``, TF32 matrix products and convolutions, and the fused
(single-kernel) Adam. ``compile`` adds ``torch.compile`` of both networks (default mode).

Usage: python benchmarks/torch_dcgan.py SIZE CHANNELS BASE NUM_UPSAMPLINGS BATCH STEPS [float32|bfloat16] [eager|compile]
(bfloat16: the step runs under torch.autocast with bfloat16, weights stay float32)
Prints one JSON line: {"images_per_second": ..., "seconds_per_step": [...], "peak_rss_mb": ...}
"""

import json
import resource
import sys
import time

import torch
from torch import nn


def generator(size, channels, base, n, latent=100):
    start = size // 2**n
    width = base * 2 ** (n - 1)
    layers = [nn.Linear(latent, start * start * width, bias=False), nn.Unflatten(1, (width, start, start)),
              nn.BatchNorm2d(width, eps=1e-5, momentum=0.1), nn.ReLU()]
    for _ in range(1, n):
        layers += [nn.ConvTranspose2d(width, width // 2, 5, 2, padding=2, output_padding=1, bias=False),
                   nn.BatchNorm2d(width // 2, eps=1e-5, momentum=0.1), nn.ReLU()]
        width //= 2
    layers += [nn.ConvTranspose2d(width, channels, 5, 2, padding=2, output_padding=1), nn.Tanh()]
    return nn.Sequential(*layers)


def discriminator(size, channels, base, n):
    layers, width, c_in = [], base, channels
    for i in range(n):
        layers.append(nn.Conv2d(c_in, width, 5, 2, padding=2, bias=(i == 0)))
        if i > 0:
            layers.append(nn.BatchNorm2d(width, eps=1e-5, momentum=0.1))
        layers.append(nn.LeakyReLU(0.2))
        c_in, width = width, width * 2
    final = size // 2**n
    layers += [nn.Flatten(), nn.Linear(c_in * final * final, 1)]
    return nn.Sequential(*layers)


def _peak_rss_mb():
    # VmHWM, not ru_maxrss: Linux keeps ru_maxrss across exec (the parent's peak would show).
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(size, channels, base, n, batch, steps, precision="float32", mode="eager"):
    torch.manual_seed(0)
    dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    gpu = dev.type == "cuda"
    if gpu:
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    memory_format = torch.channels_last if gpu else torch.contiguous_format
    g, d = generator(size, channels, base, n).to(dev), discriminator(size, channels, base, n).to(dev)
    g, d = g.to(memory_format=memory_format), d.to(memory_format=memory_format)
    for m in list(g.modules()) + list(d.modules()):
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, 0.02)
    opt_g = torch.optim.Adam(g.parameters(), lr=2e-4, betas=(0.5, 0.999), fused=gpu or None)
    opt_d = torch.optim.Adam(d.parameters(), lr=2e-4, betas=(0.5, 0.999), fused=gpu or None)
    if mode == "compile":
        g, d = torch.compile(g), torch.compile(d)
    bce = nn.BCEWithLogitsLoss()
    real = (torch.rand(batch, channels, size, size, device=dev) * 2 - 1).to(memory_format=memory_format)
    ones, zeros = torch.ones(batch, 1, device=dev), torch.zeros(batch, 1, device=dev)

    autocast = torch.autocast(dev.type, dtype=torch.bfloat16, enabled=precision == "bfloat16")

    def step():
        z = torch.rand(batch, 100, device=dev) * 2 - 1
        opt_d.zero_grad(set_to_none=True)
        with autocast:
            fake = g(z)
            d_loss = bce(d(real).float(), ones) + bce(d(fake.detach()).float(), zeros)
        d_loss.backward()
        opt_d.step()
        z = torch.rand(batch, 100, device=dev) * 2 - 1
        opt_g.zero_grad(set_to_none=True)
        with autocast:
            g_loss = bce(d(g(z)).float(), ones)
        g_loss.backward()
        opt_g.step()
        if dev.type == "cuda":
            torch.cuda.synchronize()

    for _ in range(3 if mode == "compile" else 2):  # compile: the first calls trace and compile
        step()
    times = []
    for _ in range(steps):
        t = time.perf_counter()
        step()
        times.append(time.perf_counter() - t)
    times.sort()
    median = times[len(times) // 2]
    print(json.dumps({"images_per_second": batch / median, "seconds_per_step": times,
                      "peak_rss_mb": _peak_rss_mb(),
                      "threads": torch.get_num_threads(), "device": str(dev), "precision": precision,
                      "mode": mode, "channels_last": gpu, "torch": torch.__version__}))


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:7]), *sys.argv[7:9])
