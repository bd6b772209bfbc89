#!/usr/bin/env python3
"""REST client for a keras_gan generator served by TensorFlow Serving (stdlib only).

It reads the model's signature from TF Serving (``GET /v1/models/<name>/metadata``),
validates the batch against it, and sends a predict request:

* default: latents drawn here from ``--prior`` and sent to ``serving_default``
  in TF Serving's row format (``{"instances": [{"z": [...], "label": 3}, ...]}``,
  answered by ``{"predictions": [...]}``);
* ``--server-noise``: the ``sample`` signature draws the latents on the server
  from the model's own prior (``{"inputs": {"batch_size": 16, "seed": 0}}``,
  answered by ``{"outputs": {"images": ..., "z": ...}}``).

The request builders are pure functions (no network), so they can be tested
without a server.

Example::

    python export/rest_client.py --server http://localhost:8501 --model gan \\
        --num 16 --seed 0 --out predictions.json
"""

import argparse
import json
import os
import sys
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import client_common  # noqa: E402

_DTYPES = {"DT_FLOAT": "float32", "DT_INT32": "int32", "DT_INT64": "int64", "DT_UINT8": "uint8"}


def signature_from_metadata(metadata, signature_name="serving_default"):
    """Reads one signature from TF Serving's model metadata JSON.

    Args:
        metadata: the parsed JSON body of ``GET /v1/models/<name>[/versions/<v>]/metadata``.
        signature_name: which signature.

    Returns:
        ``{"inputs": {name: {"dtype", "shape"}}, "outputs": {...}}`` with numpy
        dtype names and shapes as lists of ints (-1 for a dynamic dimension,
        None for unknown rank).

    Raises:
        ValueError: if the metadata has no such signature.
    """
    try:
        defs = metadata["metadata"]["signature_def"]
    except (KeyError, TypeError):
        raise ValueError(
            "The metadata JSON has no metadata.signature_def: is this a TF Serving metadata response?"
        ) from None
    defs = defs.get("signature_def", defs)
    if signature_name not in defs:
        names = sorted(k for k in defs if not k.startswith("__"))
        raise ValueError(f"The model has no signature {signature_name!r}; it has {names}.")

    def tensors(entries):
        out = {}
        for name, info in entries.items():
            shape_info = info.get("tensor_shape", {})
            dims = shape_info.get("dim", [])
            shape = None if shape_info.get("unknown_rank") else [int(d.get("size", -1)) for d in dims]
            out[name] = {"dtype": _DTYPES.get(info.get("dtype"), info.get("dtype")), "shape": shape}
        return out

    sig = defs[signature_name]
    return {"inputs": tensors(sig.get("inputs", {})), "outputs": tensors(sig.get("outputs", {}))}


def model_spec_from_signature(signature):
    """``(latent_dim, conditional)`` of a ``serving_default`` signature; checks it is a generator's."""
    z = signature["inputs"].get("z")
    if z is None or z["dtype"] != "float32" or z["shape"] is None or len(z["shape"]) != 2 or z["shape"][1] < 1:
        raise ValueError(
            "The signature is not a keras_gan generator's: expected input z float32 [-1, latent_dim], "
            f"got {signature['inputs']}."
        )
    return z["shape"][1], "label" in signature["inputs"]


def build_predict_request(z, labels=None, latent_dim=None, conditional=False, num_classes=None,
                          max_batch_size=client_common.DEFAULT_MAX_BATCH_SIZE,
                          signature_name="serving_default"):
    """Builds the JSON body of a row-format predict request (``instances``).

    Args:
        z: rows of ``latent_dim`` numbers.
        labels: one integer per row for a conditional model, else None.
        latent_dim, conditional, num_classes, max_batch_size: what the model
            accepts (see :func:`client_common.validate_batch`).
        signature_name: the signature to call.

    Returns:
        A dict ready for ``json.dumps``:
        ``{"signature_name": ..., "instances": [{"z": [...](, "label": int)}, ...]}``.

    Raises:
        ValueError: naming what is wrong with the batch.
    """
    rows, labels = client_common.validate_batch(z, labels, latent_dim, conditional, num_classes, max_batch_size)
    instances = [{"z": row} for row in rows]
    if labels is not None:
        for instance, label in zip(instances, labels):
            instance["label"] = label
    return {"signature_name": signature_name, "instances": instances}


def build_sample_request(batch_size, seed, labels=None, conditional=False, num_classes=None,
                         max_batch_size=client_common.DEFAULT_MAX_BATCH_SIZE):
    """Builds the JSON body of a columnar request to the ``sample`` signature.

    The ``sample`` signature has scalar inputs, which only TF Serving's
    columnar format (``inputs``) can carry.

    Returns:
        ``{"signature_name": "sample", "inputs": {"batch_size": n, "seed": s(, "label": [...])}}``.

    Raises:
        ValueError: naming what is wrong.
    """
    batch_size, seed = client_common.validate_sample_args(batch_size, seed, max_batch_size)
    inputs = {"batch_size": batch_size, "seed": seed}
    if conditional:
        inputs["label"] = client_common.validate_labels(labels, batch_size, num_classes)
    elif labels is not None:
        raise ValueError("labels were given, but the model is not conditional (it has no 'label' input).")
    return {"signature_name": "sample", "inputs": inputs}


def parse_predict_response(body, output="images"):
    """Extracts one output from a TF Serving predict response (row or columnar format).

    TF Serving omits the output names when a signature has a single output
    (``"predictions": [value, ...]``) and keeps them otherwise
    (``"predictions": [{"images": ...}, ...]``); columnar answers use ``"outputs"``.

    Returns:
        The output as nested lists, batch first.

    Raises:
        RuntimeError: if the server answered with an error.
        ValueError: if the response does not hold the output.
    """
    if "error" in body:
        raise RuntimeError(f"TF Serving answered with an error: {body['error']}")
    if "predictions" in body:
        rows = body["predictions"]
        if rows and isinstance(rows[0], dict):
            if output not in rows[0]:
                raise ValueError(f"The response has no output {output!r}; it has {sorted(rows[0])}.")
            return [row[output] for row in rows]
        return rows
    if "outputs" in body:
        outputs = body["outputs"]
        if isinstance(outputs, dict):
            if output not in outputs:
                raise ValueError(f"The response has no output {output!r}; it has {sorted(outputs)}.")
            return outputs[output]
        return outputs
    raise ValueError(f"The response has neither 'predictions' nor 'outputs': {sorted(body)}.")


def model_url(server, model, version=None):
    """``<server>/v1/models/<model>[/versions/<version>]``."""
    url = f"{server.rstrip('/')}/v1/models/{model}"
    return url if version is None else f"{url}/versions/{int(version)}"


def _http_json(url, body=None, timeout=30.0):
    data = None if body is None else json.dumps(body).encode("utf-8")
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.loads(response.read().decode("utf-8"))
    except urllib.error.HTTPError as err:
        detail = err.read().decode("utf-8", "replace")
        try:
            detail = json.loads(detail).get("error", detail)
        except ValueError:
            pass
        raise RuntimeError(f"{url}: HTTP {err.code}: {detail}") from None
    except urllib.error.URLError as err:
        raise RuntimeError(f"cannot reach {url}: {err.reason}. Is TF Serving running (see export/README.md)?") from None


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    client_common.add_server_arguments(
        parser, "http://localhost:8501", ("predictions.json", "JSON file for the request and the images")
    )
    args = parser.parse_args(argv)
    try:
        url = model_url(args.server, args.model, args.version)
        signature = signature_from_metadata(_http_json(f"{url}/metadata", timeout=args.timeout))
        latent_dim, conditional = model_spec_from_signature(signature)
        labels = client_common.parse_labels(args.labels)
        if args.server_noise:
            body = build_sample_request(args.num, args.seed, labels, conditional,
                                        max_batch_size=args.max_batch_size)
        else:
            z = client_common.draw_latent(args.num, latent_dim, args.prior, args.seed)
            body = build_predict_request(z, labels, latent_dim, conditional,
                                         max_batch_size=args.max_batch_size)
        print(f"POST {url}:predict ({body['signature_name']}, batch {args.num})")
        images = parse_predict_response(_http_json(f"{url}:predict", body, timeout=args.timeout))
    except (ValueError, RuntimeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    client_common.write_json(args.out, {"request": body, "images": images})
    print(f"wrote {len(images)} images to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
