"""Writing a generator as an ONNX file (tf2onnx, then the graph rewrites of ``_onnx_graph``)."""

import json
import os
import tempfile


from keras_gan.export._common import (
    DEFAULT_MAX_BATCH_SIZE, DEFAULT_OPSET, _IMAGES, _LABEL, _Z, _check_common, _metadata, _resolve,
    _serving_function,
)

from keras_gan.export import loading
from keras_gan.export.loading import _onnx_run
from keras_gan.export.parity import _verify


def export_onnx(
    model_or_generator,
    path,
    opset=DEFAULT_OPSET,
    uint8=False,
    prior=None,
    num_classes=None,
    training_config=None,
    max_batch_size=DEFAULT_MAX_BATCH_SIZE,
    verify=True,
    atol=1e-4,
    optimize=True,
):
    """Exports a generator to an ONNX file through tf2onnx.

    The graph is the traced ``training=False`` function of the generator
    (batch norm in inference mode): inputs ``z`` (float32 ``[batch,
    latent_dim]``) and, for a conditional generator, ``label`` (int32
    ``[batch]``); output ``images``; the batch dimension is dynamic and named
    ``batch``. The model passes ``onnx.checker`` (full check) and holds the
    metadata as metadata properties (JSON-encoded values). ONNX has no
    sampling signature: draw ``z`` from the prior in ``metadata["prior"]``.

    The graph is written in the forms ONNX Runtime runs fastest, which are
    not TensorFlow's (measured: docs/export.md, "Inference speed"): the
    stride-2 convolutions are traced as the stock TensorFlow ops (ONNX
    ``ConvTranspose`` / ``Conv``, whatever ``KERAS_GAN_CONV_FORMS`` says),
    then ``keras_gan.export._onnx_graph.optimize`` turns those on tiny feature maps
    into one matrix product each and folds batch norm and the layout changes
    into the matrix products' weights. The rewrites are listed in the
    metadata property ``graph_rewrites``.

    Args:
        model_or_generator: see :func:`export_saved_model`.
        path: the ``.onnx`` file to write (replaced atomically).
        opset: ONNX opset (tf2onnx 1.17 supports up to 18).
        uint8, prior, num_classes, training_config, max_batch_size, verify,
            atol: as in :func:`export_saved_model` (``verify`` runs ONNX Runtime).
        optimize: False writes the graph as tf2onnx converts the TensorFlow
            forms (the forms ``KERAS_GAN_CONV_FORMS`` chooses, no rewrites):
            the previous releases' export, kept for comparison.

    Returns:
        ``path``.

    Raises:
        ValueError: for a model or argument that cannot be exported.
        RuntimeError: if ``verify`` finds the export does not match.

    Example:

    >>> export_onnx(model, "/tmp/gan.onnx")  # doctest: +SKIP
    '/tmp/gan.onnx'
    """
    try:
        import onnx
        import tf2onnx
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError(f"export_onnx needs tf2onnx and onnx: pip install keras-gan (it installs tf2onnx and onnx) ({err}).") from err

    spec = _resolve(model_or_generator, prior, num_classes)
    _check_common(None, max_batch_size, uint8, spec)
    if isinstance(opset, bool) or int(opset) != opset or not 13 <= int(opset) <= 18:
        raise ValueError(f"opset must be an integer from 13 to 18 (tf2onnx {tf2onnx.__version__}), got {opset!r}.")
    path = os.path.abspath(os.fspath(path))
    metadata = _metadata(spec, uint8, int(max_batch_size), training_config, "onnx", {"opset": int(opset)})

    fn = _serving_function(spec, uint8)
    if optimize:
        from keras_gan.export import _onnx_graph
        from keras_gan.kernels import _tf as _conv

        with _conv._forced_mode("plain"):  # ONNX ConvTranspose / Conv; _onnx_graph picks the faster forms
            proto, _ = tf2onnx.convert.from_function(fn, input_signature=fn.input_signature, opset=int(opset))
    else:
        proto, _ = tf2onnx.convert.from_function(fn, input_signature=fn.input_signature, opset=int(opset))
    for value in list(proto.graph.input) + list(proto.graph.output):
        value.type.tensor_type.shape.dim[0].dim_param = "batch"
    if optimize:
        original = onnx.ModelProto()
        original.CopyFrom(proto)
        try:
            proto, rewrites = _onnx_graph.optimize(proto)
        except Exception as err:  # noqa: BLE001 - a speed rewrite must never cost the export
            import warnings

            proto, rewrites = original, [f"none: the rewrite failed ({type(err).__name__}: {err})"]
            warnings.warn(f"export_onnx: graph rewrites skipped, {rewrites[0][6:]}", RuntimeWarning, stacklevel=2)
        metadata["graph_rewrites"] = rewrites
    proto.doc_string = (
        f"keras_gan generator: {_Z} [batch, {spec.latent_dim}] ({spec.prior} prior)"
        + (f", {_LABEL} [batch]" if spec.conditional else "")
        + f" -> {_IMAGES} [batch, {', '.join(map(str, spec.sample_shape))}] {metadata['output']['dtype']}"
    )
    onnx.helper.set_model_props(proto, {key: json.dumps(value) for key, value in metadata.items()})
    onnx.checker.check_model(proto, full_check=True)

    directory = os.path.dirname(path)
    os.makedirs(directory, exist_ok=True)
    fd, tmp_path = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=directory)
    os.close(fd)
    try:
        onnx.save(proto, tmp_path)
        if verify:
            session = loading.onnx_session(tmp_path)
            _verify(spec, uint8, lambda z, labels: _onnx_run(session, z, labels), atol, "ONNX")
        os.replace(tmp_path, path)
    except BaseException:
        if os.path.exists(tmp_path):
            os.remove(tmp_path)
        raise
    return path

