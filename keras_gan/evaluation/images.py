"""Pictures of samples: image grids and 2-D scatter plots."""

import math

import numpy as np

from keras_gan.files import atomic_path


def to_uint8(images):
    """Maps images in ``[-1, 1]`` to uint8 ``[0, 255]``."""
    return np.clip(np.round((np.asarray(images, np.float32) + 1.0) * 127.5), 0, 255).astype(np.uint8)


def grid(images, ncols=None, pad=1):
    """Tiles ``[N, H, W, C]`` images in ``[-1, 1]`` into one uint8 array ``[rows*H, cols*W, C]``.

    Args:
        images: array ``[N, H, W, C]``, C = 1 or 3.
        ncols: columns (default: ``ceil(sqrt(N))``).
        pad: pixels of padding between tiles.

    Returns:
        A uint8 array.
    """
    images = to_uint8(images)
    n, h, w, c = images.shape
    ncols = ncols or int(math.ceil(math.sqrt(n)))
    nrows = int(math.ceil(n / ncols))
    out = np.full((nrows * (h + pad) + pad, ncols * (w + pad) + pad, c), 255, np.uint8)
    for i in range(n):
        r, col = divmod(i, ncols)
        out[pad + r * (h + pad) : pad + r * (h + pad) + h, pad + col * (w + pad) : pad + col * (w + pad) + w] = images[i]
    return out


def save_samples(samples, path, reference=None, title=None):
    """Saves samples as a PNG: an image grid, or a scatter plot for 2-D points.

    Small images are enlarged (nearest neighbour) so that the grid is at
    least about 512 pixels wide. Written atomically.

    Args:
        samples: ``[N, H, W, C]`` images in ``[-1, 1]`` or ``[N, 2]`` points.
        path: output PNG path.
        reference: for 2-D points, the true mode centers to draw beneath.
        title: plot title for 2-D points.
    """
    samples = np.asarray(samples)
    if samples.ndim == 2:
        _scatter(samples, path, reference, title)
        return
    from PIL import Image

    tiled = grid(samples)
    scale = max(1, 512 // tiled.shape[1])
    image = Image.fromarray(tiled[..., 0] if tiled.shape[-1] == 1 else tiled)
    if scale > 1:
        image = image.resize((tiled.shape[1] * scale, tiled.shape[0] * scale), Image.NEAREST)
    with atomic_path(path) as tmp:
        image.save(tmp, format="PNG")


def _scatter(points, path, reference, title):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 5))
    if reference is not None:
        ax.scatter(reference[:, 0], reference[:, 1], s=120, facecolors="none", edgecolors="tab:red", label="modes")
    ax.scatter(points[:, 0], points[:, 1], s=2, alpha=0.4, label="samples")
    ax.set_aspect("equal")
    if title:
        ax.set_title(title)
    ax.legend(loc="upper right")
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)


def save_frames(frames, path, duration_ms=80):
    """Saves a sequence of images as an animated GIF (``.gif``) or as one PNG row of frames (``.png``).

    Args:
        frames: ``[T, H, W, C]`` images in ``[-1, 1]`` (an interpolation walk, one frame per step).
        path: output ``.gif`` or ``.png``; written atomically.
        duration_ms: time per GIF frame.

    Example:

    >>> save_frames(np.zeros((4, 8, 8, 1)), "/tmp/walk.gif")  # doctest: +SKIP
    """
    from PIL import Image

    frames = to_uint8(frames)
    if path.lower().endswith(".png"):
        strip = grid(frames.astype(np.float32) / 127.5 - 1.0, ncols=len(frames))
        frames_img = [Image.fromarray(strip[..., 0] if strip.shape[-1] == 1 else strip)]
        fmt = "PNG"
    else:
        fmt = "GIF"
        frames_img = [Image.fromarray(f[..., 0] if f.shape[-1] == 1 else f) for f in frames]
    scale = max(1, 256 // frames_img[0].size[1])
    if scale > 1:
        frames_img = [f.resize((f.size[0] * scale, f.size[1] * scale), Image.NEAREST) for f in frames_img]
    with atomic_path(path) as tmp:
        if fmt == "GIF":
            frames_img[0].save(tmp, format="GIF", save_all=True, append_images=frames_img[1:],
                               duration=int(duration_ms), loop=0)
        else:
            frames_img[0].save(tmp, format="PNG")
