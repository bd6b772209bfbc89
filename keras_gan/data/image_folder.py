"""A directory of image files as arrays: ``data.name: folder`` (numpy and Pillow only).

Reading rules (``keras_gan.data`` turns the result into a ``tf.data`` dataset):

* Every ``.png``, ``.jpg``, ``.jpeg``, ``.bmp`` and ``.gif`` file under the
  directory, recursively, in sorted order of the relative path (other files are
  ignored; an animated GIF gives its first frame; JPEG EXIF orientation is
  applied).
* Labels: when the directory holds subfolders and no image directly, each
  top-level subfolder is a class (sorted names -> labels 0, 1, ...), with
  everything below it. Otherwise the images are unlabelled (label -1).
* Each image is cropped to its centered square, then resized to
  ``image_size`` with Pillow's antialiased bilinear filter. Images whose
  square is smaller than ``image_size`` are upscaled with a warning, or are an
  error with ``small_images="error"``.
* Channels: 1 (Pillow's ITU-R 601-2 luma, ``L = 0.299 R + 0.587 G + 0.114 B``)
  or 3 (gray repeated); alpha is dropped. ``None`` takes 1 when every image is
  grayscale, else 3.
* Files that cannot be decoded are skipped, counted and named in the log
  (logger ``keras_gan.data``); if none is left, it is an error.
* A fixed held-out split: in each class, the ``round(holdout_fraction * n)``
  images with the smallest SHA-1 of their relative path are ``test``, the
  rest ``train``. The split depends neither on the training seed nor on the
  order the files were written, and adding a file moves no other file.

Every bad input raises :class:`~keras_gan.errors.UsageError` with one line
naming the value and what is allowed.

Example:

>>> folder = read("photos", image_size=64, channels=3)  # doctest: +SKIP
>>> folder.images.shape, folder.class_names
((1200, 64, 64, 3), ['cats', 'dogs'])
"""

import collections
import hashlib
import logging
import os

import numpy as np

from keras_gan.errors import UsageError

#: File name endings read as images (case-insensitive).
EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif")

#: The side used when ``data.image_size`` is null for a folder.
DEFAULT_IMAGE_SIZE = 64

_LOG = logging.getLogger("keras_gan.data")
_GRAY_MODES = ("1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "F")
_MAX_NAMED = 10

#: What :func:`read` returns: ``images`` uint8 ``[n, size, size, channels]``,
#: ``labels`` int32 ``[n]`` (-1 when unlabelled), ``files`` relative paths,
#: ``class_names`` (empty when unlabelled), ``skipped`` relative paths of
#: unreadable files, ``upscaled`` relative paths of images smaller than the size.
Folder = collections.namedtuple("Folder", ["images", "labels", "files", "class_names", "skipped", "upscaled"])

_cache = collections.OrderedDict()


def _named(paths):
    shown = ", ".join(paths[:_MAX_NAMED])
    return shown + (f" and {len(paths) - _MAX_NAMED} more" if len(paths) > _MAX_NAMED else "")


def list_images(path):
    """``(relative image paths, class names, other files)`` of a directory; checks it exists and is not empty.

    Raises:
        UsageError: for a missing path, a file, an empty directory or one with no image files.
    """
    if path is None or not str(path).strip():
        raise UsageError("data.path is not set; expected a directory of PNG/JPEG/BMP/GIF images.")
    path = os.path.expanduser(str(path))
    if not os.path.exists(path):
        raise UsageError(f"data.path = {path!r} does not exist; expected a directory of PNG/JPEG/BMP/GIF images.")
    if not os.path.isdir(path):
        raise UsageError(f"data.path = {path!r} is a file, not a directory; expected a directory of "
                         "PNG/JPEG/BMP/GIF images.")
    images, others = [], []
    for root, dirs, files in os.walk(path, followlinks=True):
        dirs.sort()
        for name in sorted(files):
            rel = os.path.relpath(os.path.join(root, name), path).replace(os.sep, "/")
            (images if name.lower().endswith(EXTENSIONS) else others).append(rel)
    if not images and not others:
        raise UsageError(f"data.path = {path!r} is empty; expected a directory of PNG/JPEG/BMP/GIF images "
                         "(class subfolders become labels).")
    if not images:
        raise UsageError(f"data.path = {path!r} holds no PNG/JPEG/BMP/GIF images ({len(others)} other files, "
                         f"e.g. {others[0]!r}); allowed endings: {', '.join(EXTENSIONS)}.")
    top_level_images = any("/" not in rel for rel in images)
    classes = [] if top_level_images else sorted({rel.split("/", 1)[0] for rel in images})
    return sorted(images), classes, others


def _decode(full):
    """The image as a Pillow image in mode L or RGB (first frame, EXIF orientation applied)."""
    from PIL import Image, ImageOps

    with Image.open(full) as img:
        img.load()
        img = ImageOps.exif_transpose(img)
        gray = img.mode in _GRAY_MODES or (img.mode == "P" and _gray_palette(img))
        if img.mode in ("I", "I;16", "I;16B", "I;16L", "F"):
            # 16-bit / float grayscale: scale to 0..255 by the type's range.
            arr = np.asarray(img, dtype=np.float64)
            top = 65535.0 if arr.max(initial=0) > 255 else 255.0
            img = Image.fromarray(np.clip(np.round(arr * (255.0 / top)), 0, 255).astype(np.uint8), "L")
        else:
            img = img.convert("L" if gray else "RGB")
    return img


def _gray_palette(img):
    palette = img.getpalette() or []
    rgb = np.asarray(palette[: len(palette) // 3 * 3]).reshape(-1, 3)
    return bool(len(rgb)) and bool((rgb == rgb[:, :1]).all())


def _square_resize(img, size):
    from PIL import Image

    w, h = img.size
    side = min(w, h)
    left, top = (w - side) // 2, (h - side) // 2
    img = img.crop((left, top, left + side, top + side))
    if side != size:
        img = img.resize((size, size), Image.Resampling.BILINEAR)  # antialiased when downscaling
    return img, side


def _signature(path, files):
    stats = []
    for rel in files:
        st = os.stat(os.path.join(path, rel))
        stats.append((rel, st.st_size, st.st_mtime_ns))
    return hashlib.sha1(repr(stats).encode()).hexdigest()


def read(path, image_size=None, channels=None, small_images="upscale"):
    """All images of a directory, cropped, resized and converted (see the module docstring).

    Args:
        path: the directory.
        image_size: output side (default :data:`DEFAULT_IMAGE_SIZE`).
        channels: 1, 3, or ``None`` (1 if every image is grayscale, else 3).
        small_images: ``"upscale"`` (with a warning) or ``"error"``.

    Returns:
        A :data:`Folder`. Results are cached in this process by path,
        settings and the files' sizes and modification times.

    Raises:
        UsageError: for a missing, empty or image-less directory, when no file
            can be read, for small images with ``small_images="error"``, or a bad argument.
    """
    size = DEFAULT_IMAGE_SIZE if image_size is None else int(image_size)
    if size < 1:
        raise UsageError(f"data.image_size = {image_size!r} is out of range; expected a value >= 1.")
    if channels not in (None, 1, 3):
        raise UsageError(f"data.channels = {channels!r} is not allowed; expected 1, 3 or null.")
    if small_images not in ("upscale", "error"):
        raise UsageError(f"data.small_images = {small_images!r} is not allowed; expected upscale or error.")
    files, classes, _ = list_images(path)
    path = os.path.expanduser(str(path))
    key = (os.path.abspath(path), size, channels, small_images, _signature(path, files))
    if key in _cache:
        _cache.move_to_end(key)
        return _cache[key]

    decoded, kept, skipped, upscaled, small, small_named = [], [], [], [], [], []
    for rel in files:
        try:
            img = _decode(os.path.join(path, rel))
        except Exception:  # Pillow raises many types for bad files  # noqa: BLE001
            skipped.append(rel)
            continue
        img, side = _square_resize(img, size)
        if side < size:
            small.append(rel)
            small_named.append(f"{rel} ({side}x{side})")
        decoded.append(img)
        kept.append(rel)
    if skipped:
        _LOG.warning("data.path %r: skipped %d unreadable or corrupt image file(s): %s",
                     path, len(skipped), _named(skipped))
    if not kept:
        raise UsageError(f"data.path = {path!r}: none of its {len(files)} image files could be read "
                         f"(corrupt or not images): {_named(skipped)}.")
    if small:
        if small_images == "error":
            raise UsageError(
                f"data.path = {path!r}: {len(small)} image(s) are smaller than data.image_size = {size} after the "
                f"center crop ({_named(small_named)}); lower data.image_size or set data.small_images = upscale."
            )
        _LOG.warning("data.path %r: upscaled %d image(s) smaller than %dx%d: %s", path, len(small), size, size,
                     _named(small_named))
        upscaled = small
    if channels is None:
        channels = 1 if all(img.mode == "L" for img in decoded) else 3
    mode = "L" if channels == 1 else "RGB"
    images = np.stack([np.asarray(img.convert(mode), np.uint8).reshape(size, size, channels) for img in decoded])
    index = {name: i for i, name in enumerate(classes)}
    labels = np.array([index[rel.split("/", 1)[0]] if classes else -1 for rel in kept], np.int32)
    if classes:  # a class whose every file was unreadable keeps its label, but say so
        empty = [c for c, i in index.items() if not (labels == i).any()]
        if empty:
            _LOG.warning("data.path %r: class folder(s) with no readable image: %s", path, _named(empty))
    result = Folder(images, labels, tuple(kept), list(classes), tuple(skipped), tuple(upscaled))
    _cache[key] = result
    while len(_cache) > 2:
        _cache.popitem(last=False)
    _LOG.info("data.path %r: %d images, %d classes, %d skipped", path, len(kept), len(classes), len(skipped))
    return result


def split_indices(folder, holdout_fraction):
    """``{"train": indices, "test": indices}`` of a :data:`Folder` (the fixed held-out split).

    In each class (or among all images when unlabelled), the
    ``round(holdout_fraction * n)`` files with the smallest SHA-1 of their
    relative path are ``test``. Indices are sorted.

    Raises:
        UsageError: if the fraction is outside ``[0, 1)`` or leaves no training image.
    """
    fraction = float(holdout_fraction)
    if not 0.0 <= fraction < 1.0:
        raise UsageError(f"data.holdout_fraction = {holdout_fraction!r} is out of range; expected a value in [0, 1).")
    test = []
    for label in np.unique(folder.labels):
        members = np.flatnonzero(folder.labels == label)
        digests = [hashlib.sha1(folder.files[i].encode()).hexdigest() for i in members]
        order = members[np.argsort(digests, kind="stable")]
        test.extend(order[: int(round(fraction * len(members)))].tolist())
    test = np.array(sorted(test), np.int64)
    train = np.setdiff1d(np.arange(len(folder.labels)), test)
    if len(train) == 0:
        raise UsageError(f"data.holdout_fraction = {holdout_fraction!r} leaves no training image of the "
                         f"{len(folder.labels)} in the folder; lower it.")
    return {"train": train, "test": test}
