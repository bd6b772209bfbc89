#!/usr/bin/env python3
"""gRPC client for a keras_gan generator served by TensorFlow Serving.

Built on ``tensorflow-serving-api`` (``pip install tensorflow-serving-api``):
it asks TF Serving for the model's signature (``GetModelMetadata``), validates
the batch against it, and sends a ``PredictRequest`` to ``serving_default``
(latents drawn here from ``--prior``) or, with ``--server-noise``, to the
``sample`` signature (latents drawn on the server from the model's prior).
The images are written to a ``.npy`` file with a JSON summary beside it.

The request builders are pure functions (no network): tests compare their
requests with the exported SavedModel's signature.

Example::

    python export/grpc_client.py --server localhost:8500 --model gan --num 16 --out images.npy
"""

import argparse
import os
import sys

import numpy as np
import tensorflow as tf
from tensorflow_serving.apis import get_model_metadata_pb2, predict_pb2

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import client_common  # noqa: E402


def _set_model_spec(request, model_name, signature_name, version):
    request.model_spec.name = model_name
    request.model_spec.signature_name = signature_name
    if version is not None:
        request.model_spec.version.value = int(version)


def build_predict_request(z, labels=None, latent_dim=None, conditional=False, num_classes=None,
                          max_batch_size=client_common.DEFAULT_MAX_BATCH_SIZE, model_name="gan",
                          signature_name="serving_default", version=None):
    """Builds a ``PredictRequest`` for the ``serving_default`` signature.

    Args:
        z: ``[batch, latent_dim]`` numbers (list of rows or numpy array).
        labels: one integer per row for a conditional model, else None.
        latent_dim, conditional, num_classes, max_batch_size: what the model
            accepts (see :func:`client_common.validate_batch`).
        model_name: the model's name in TF Serving.
        signature_name: the signature to call.
        version: a model version, or None for the one TF Serving serves.

    Returns:
        A ``tensorflow.serving.PredictRequest`` with inputs ``z`` (DT_FLOAT
        ``[batch, latent_dim]``) and, if conditional, ``label`` (DT_INT32 ``[batch]``).

    Raises:
        ValueError: naming what is wrong with the batch.
    """
    rows, labels = client_common.validate_batch(z, labels, latent_dim, conditional, num_classes, max_batch_size)
    request = predict_pb2.PredictRequest()
    _set_model_spec(request, model_name, signature_name, version)
    request.inputs["z"].CopyFrom(tf.make_tensor_proto(np.asarray(rows, np.float32)))
    if labels is not None:
        request.inputs["label"].CopyFrom(tf.make_tensor_proto(np.asarray(labels, np.int32)))
    request.output_filter.append("images")
    return request


def build_sample_request(batch_size, seed, labels=None, conditional=False, num_classes=None,
                         max_batch_size=client_common.DEFAULT_MAX_BATCH_SIZE, model_name="gan", version=None):
    """Builds a ``PredictRequest`` for the ``sample`` signature (``batch_size`` int32, ``seed`` int64 scalars).

    Raises:
        ValueError: naming what is wrong.
    """
    batch_size, seed = client_common.validate_sample_args(batch_size, seed, max_batch_size)
    request = predict_pb2.PredictRequest()
    _set_model_spec(request, model_name, "sample", version)
    request.inputs["batch_size"].CopyFrom(tf.make_tensor_proto(np.int32(batch_size)))
    request.inputs["seed"].CopyFrom(tf.make_tensor_proto(np.int64(seed)))
    if conditional:
        labels = client_common.validate_labels(labels, batch_size, num_classes)
        request.inputs["label"].CopyFrom(tf.make_tensor_proto(np.asarray(labels, np.int32)))
    elif labels is not None:
        raise ValueError("labels were given, but the model is not conditional (it has no 'label' input).")
    return request


def check_request(request, signature_def):
    """Checks a ``PredictRequest`` against a ``SignatureDef``: same input names, dtypes, compatible shapes.

    Raises:
        ValueError: naming the first mismatch.
    """
    expected, given = set(signature_def.inputs), set(request.inputs)
    if expected != given:
        raise ValueError(f"The request's inputs {sorted(given)} differ from the signature's {sorted(expected)}.")
    for name, info in signature_def.inputs.items():
        tensor = request.inputs[name]
        if tensor.dtype != info.dtype:
            raise ValueError(
                f"input {name!r} has dtype {tf.dtypes.as_dtype(tensor.dtype).name}, "
                f"the signature wants {tf.dtypes.as_dtype(info.dtype).name}."
            )
        if not info.tensor_shape.unknown_rank:
            want = [d.size for d in info.tensor_shape.dim]
            got = [d.size for d in tensor.tensor_shape.dim]
            if len(want) != len(got) or any(w not in (-1, g) for w, g in zip(want, got)):
                raise ValueError(f"input {name!r} has shape {got}, the signature wants {want} (-1: any).")


def model_spec_from_signature(signature_def):
    """``(latent_dim, conditional)`` of a ``serving_default`` ``SignatureDef``; checks it is a generator's."""
    z = signature_def.inputs.get("z")
    dims = [d.size for d in z.tensor_shape.dim] if z is not None else []
    if z is None or z.dtype != tf.float32.as_datatype_enum or len(dims) != 2 or dims[1] < 1:
        raise ValueError(
            "The signature is not a keras_gan generator's: expected input z float32 [-1, latent_dim], "
            f"got {dict(signature_def.inputs)}."
        )
    return dims[1], "label" in signature_def.inputs


def fetch_signature(stub, model_name, signature_name="serving_default", version=None, timeout=30.0):
    """Asks TF Serving for one ``SignatureDef`` of a model (``GetModelMetadata``)."""
    request = get_model_metadata_pb2.GetModelMetadataRequest()
    request.model_spec.name = model_name
    if version is not None:
        request.model_spec.version.value = int(version)
    request.metadata_field.append("signature_def")
    response = stub.GetModelMetadata(request, timeout)
    defs = get_model_metadata_pb2.SignatureDefMap()
    response.metadata["signature_def"].Unpack(defs)
    if signature_name not in defs.signature_def:
        names = sorted(k for k in defs.signature_def if not k.startswith("__"))
        raise ValueError(f"The model has no signature {signature_name!r}; it has {names}.")
    return defs.signature_def[signature_name]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    client_common.add_server_arguments(
        parser, "localhost:8500", ("images.npy", ".npy file for the images (JSON summary beside it)")
    )
    args = parser.parse_args(argv)

    import grpc
    from tensorflow_serving.apis import prediction_service_pb2_grpc

    try:
        channel = grpc.insecure_channel(args.server)
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        signature = fetch_signature(stub, args.model, version=args.version, timeout=args.timeout)
        latent_dim, conditional = model_spec_from_signature(signature)
        labels = client_common.parse_labels(args.labels)
        if args.server_noise:
            request = build_sample_request(args.num, args.seed, labels, conditional,
                                           max_batch_size=args.max_batch_size, model_name=args.model,
                                           version=args.version)
            check_request(request, fetch_signature(stub, args.model, "sample", args.version, args.timeout))
        else:
            z = client_common.draw_latent(args.num, latent_dim, args.prior, args.seed)
            request = build_predict_request(z, labels, latent_dim, conditional,
                                            max_batch_size=args.max_batch_size, model_name=args.model,
                                            version=args.version)
            check_request(request, signature)
        print(f"Predict {args.server} {args.model} ({request.model_spec.signature_name}, batch {args.num})")
        response = stub.Predict(request, args.timeout)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except grpc.RpcError as err:
        print(f"error: TF Serving at {args.server}: {err.code().name}: {err.details()}", file=sys.stderr)
        return 1
    images = tf.make_ndarray(response.outputs["images"])
    out_dir = os.path.dirname(os.path.abspath(args.out))
    os.makedirs(out_dir, exist_ok=True)
    tmp = os.path.join(out_dir, f".tmp-{os.getpid()}.npy")
    np.save(tmp, images)
    os.replace(tmp, args.out)
    client_common.write_json(os.path.splitext(args.out)[0] + ".json", {
        "server": args.server, "model": args.model, "signature": request.model_spec.signature_name,
        "num": args.num, "seed": args.seed, "labels": labels, "shape": list(images.shape),
        "dtype": images.dtype.name, "min": float(images.min()), "max": float(images.max()),
    })
    print(f"wrote {images.shape} {images.dtype.name} images to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
