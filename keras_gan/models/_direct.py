"""Running a functional model's layers without ``Layer.__call__``, for the eager torch step.

On torch every training step runs eagerly, so Keras' ``Layer.__call__`` (input
checks, call-context and mask handling, name scopes, output-layout hooks) and
``Functional``'s graph walk (``tree.flatten`` of every node's inputs and
outputs) are paid by every layer at every step, where JAX and TensorFlow pay
them once, while tracing. :func:`call` gives each layer what ``__call__``
would give it (inputs converted to its input dtype, the autocast scope it
would open, ``training``) and runs its ``call`` directly, in the order of a
plan made once per model from the functional graph: the same ops, so results,
gradients and batch-norm statistics are bit-identical to ``model(x)``.

Where a layer's ``call`` is a fixed sequence of torch ops and no dtype
conversion or autocast applies (a float32 policy, a float32 input, no autocast
scope), the plan also holds a function that runs those ops on the variables'
tensors directly (:func:`_direct_function`: ``Dense``, ``Reshape``, ``Flatten``,
``ReLU``, ``LeakyReLU``, ``Activation``, and keras-gan's convolution and batch-norm
layers on torch): each ``keras.ops`` call on torch converts and inspects its
arguments again, about 20-70 us a layer, as much as the layer's own arithmetic
in the digits players. The same ops, so the same bits (tested).

Hand-written because Keras has no public entry point that runs a built
functional model without its per-call bookkeeping. It relies on Keras
internals (``Functional._nodes_by_depth``, ``Node.arguments``,
``Layer._call_has_training_arg``, ``_convert_input_args``) tested with the
versions in :data:`TESTED_KERAS`; a model it cannot plan (not functional, a
layer not yet built or with an activity regularizer) takes ``model(x)``.
"""

from keras.src import backend as _kb

TESTED_KERAS = ("3.15",)
_PLAN = "_keras_gan_direct_plan"


def call(model, inputs, training):
    """``model(inputs, training=training)``, each layer's ``call`` run directly.

    Args:
        model: a built ``keras.Model``.
        inputs: its inputs: a tensor, or the list a multi-input model takes.
        training: passed to every layer whose ``call`` takes ``training``.

    Returns:
        What ``model(inputs, training=training)`` returns, computed by the same ops.
    """
    plan = _plan(model)
    if plan is None:
        return model(inputs, training=training)
    if model._convert_input_args:  # what the model's own __call__ does to its inputs
        inputs = _convert(model, inputs, model.input_dtype)
    scope = _autocast_scope(model)
    if scope is None:
        return _run(plan, _standardize(model, plan, inputs), training)
    with scope:
        return _run(plan, _standardize(model, plan, inputs), training)


def _standardize(model, plan, inputs):
    """``model._standardize_inputs(inputs)``; a single tensor of the input's rank and dtype is what it returns."""
    if (plan["input_rank"] is not None and _kb.is_tensor(inputs) and len(inputs.shape) == plan["input_rank"]
            and _kb.standardize_dtype(inputs.dtype) == plan["input_dtype"]):
        return [inputs]
    return model._standardize_inputs(inputs)


def _run(plan, flat, training):
    values = dict(zip(plan["inputs"], flat))
    direct_ok = _kb.get_autocast_scope() is None and not _kb.in_stateless_scope()
    for layer, single, arguments, outputs, direct in plan["steps"]:
        if direct is not None and direct_ok and _is_float32_tensor(values[direct[1]]):
            result = direct[0](values[direct[1]], training)
        elif single is not None:
            result = _call_layer(layer, training, (values[single],), {})
        else:
            args, kwargs = arguments.fill_in(values)
            result = _call_layer(layer, training, args, kwargs)
        if len(outputs) == 1:
            values[outputs[0]] = result
        else:
            for key, value in zip(outputs, result):
                values[key] = value
    out = [values[key] for key in plan["outputs"]]
    return out[0] if plan["single_output"] else out


def _plan(model):
    """The model's layers in execution order with their argument structure; ``None`` if it cannot be planned."""
    cached = model.__dict__.get(_PLAN, False)
    if cached is not False:
        return cached
    plan = _make_plan(model)
    model.__dict__[_PLAN] = plan  # a plain attribute: not tracked by Keras or torch.nn.Module
    return plan


def _make_plan(model):
    import keras
    from keras.src.models.functional import Functional

    if not isinstance(model, Functional) or not model.built or isinstance(model.output, dict):
        return None
    if not isinstance(model._inputs_struct, (list, tuple)) and not _kb.is_keras_tensor(model._inputs_struct):
        return None  # dict inputs: take the ordinary call
    if _masking(model):
        return None  # masks that __call__ would propagate
    steps = []
    for depth in sorted(model._nodes_by_depth, reverse=True):
        for node in model._nodes_by_depth[depth]:
            if not node.operation or node.is_input:
                continue
            layer = model._get_operation_for_node(node)
            if not isinstance(layer, keras.layers.Layer) or not layer.built or layer.activity_regularizer is not None:
                return None
            arguments = node.arguments
            single = arguments._single_positional_tensor
            direct = _direct_function(layer)
            tensor = single if single is not None else _only_tensor(arguments)
            steps.append((layer, None if single is None else id(single), arguments, [id(t) for t in node.outputs],
                          None if direct is None or tensor is None else (direct, id(tensor))))
    outputs = model.outputs
    single_input = _kb.is_keras_tensor(model._inputs_struct) and len(model.inputs) == 1
    return {"inputs": [id(t) for t in model.inputs], "steps": steps, "outputs": [id(t) for t in outputs],
            "input_rank": len(model.inputs[0].shape) if single_input else None,
            "input_dtype": _kb.standardize_dtype(model.inputs[0].dtype),
            "single_output": len(outputs) == 1 and not isinstance(model.output, (list, tuple))}


def _masking(model):
    # A Masking or Embedding(mask_zero=True) layer makes masks that __call__ would propagate.
    return any(getattr(layer, "mask_zero", False) or type(layer).__name__ == "Masking" for layer in model.layers)


def _call_layer(layer, training, args, kwargs):
    """``layer(*args, **kwargs)`` as ``Layer.__call__`` would run it on built layers, without its bookkeeping."""
    if layer._convert_input_args:
        want = layer.input_dtype
        args = tuple(_convert(layer, a, want) for a in args)
    if training is not None and layer._call_has_training_arg:
        kwargs = dict(kwargs, training=training)
    scope = _autocast_scope(layer)
    if scope is None:
        return layer.call(*args, **kwargs)
    with scope:
        return layer.call(*args, **kwargs)


def _autocast_scope(layer):
    """The autocast scope ``Layer.__call__`` opens for ``layer`` here (keras/src/layers/layer.py), or ``None``."""
    current = _kb.get_autocast_scope()
    if current is not None:
        if not layer.autocast or not _kb.is_float_dtype(layer.compute_dtype):
            return _kb.AutocastScope(None)
        if current.dtype != layer.compute_dtype:
            return _kb.AutocastScope(layer.compute_dtype)
        return None
    if layer.compute_dtype != layer.variable_dtype:
        return _kb.AutocastScope(layer.compute_dtype)
    return None


def _convert(layer, x, want):
    if isinstance(x, (list, tuple)):
        return type(x)(_convert(layer, v, want) for v in x)
    if _kb.is_tensor(x) and _kb.standardize_dtype(x.dtype) != want:
        return layer.dtype_policy.convert_input(x, layer.autocast, want)
    return x


def _only_tensor(arguments):
    """The one tensor a layer was called with, its other arguments all ``None`` (``mask=None``); else ``None``."""
    args, kwargs = arguments.args, arguments.kwargs
    if len(args) == 1 and _kb.is_keras_tensor(args[0]) and all(v is None for v in kwargs.values()):
        return args[0]
    return None


def _is_float32_tensor(x):
    import torch

    return isinstance(x, torch.Tensor) and x.dtype == torch.float32


def _direct_function(layer):
    """``f(x, training)``: ``layer.call(x)`` by the torch ops it runs, for a float32 layer whose ``call`` is known.

    ``None`` for any other layer (it takes :func:`_call_layer`). Used only for a float32 tensor input outside an
    autocast and a stateless scope, where ``Layer.__call__`` converts nothing and opens no scope and a
    variable's value is its own tensor (``Variable._value``, which these functions read). keras-gan's own layers give
    theirs (``_torch_direct_function``); stock layers are matched by exact class and a configuration whose
    ``call`` is the ops below (Keras' torch backend: ``matmul`` and ``add`` are ``torch.matmul`` and
    ``torch.add``, ``reshape`` is ``torch.reshape``, ``relu`` and ``leaky_relu`` are
    ``torch.nn.functional``'s).
    """
    import math

    import keras
    import torch
    import torch.nn.functional as F

    from keras_gan import networks  # its Flatten runs Keras' ops on torch

    policy = layer.dtype_policy
    if (policy.compute_dtype != "float32" or policy.variable_dtype != "float32"
            or getattr(policy, "quantization_mode", None) is not None or getattr(layer, "lora_enabled", False)):
        return None
    own = getattr(layer, "_torch_direct_function", None)
    if own is not None:
        return own()
    kind = type(layer)
    linear = keras.activations.linear
    if kind is keras.layers.Dense:
        kernel, bias = layer._kernel, layer.bias
        activation = None if layer.activation in (None, linear) else layer.activation

        def dense(x, training):
            y = torch.matmul(x, kernel._value)
            if bias is not None:
                y = torch.add(y, bias._value)
            return y if activation is None else activation(y)

        return dense
    if kind is keras.layers.Reshape:
        target = tuple(-1 if d is None else d for d in layer.target_shape)
        return lambda x, training: torch.reshape(x, (x.shape[0],) + target)
    if kind in (keras.layers.Flatten, networks.Flatten) and not layer._channels_first:
        return lambda x, training: torch.reshape(x, (x.shape[0], math.prod(x.shape[1:]) if x.dim() > 1 else 1))
    if kind is keras.layers.ReLU and layer.negative_slope == 0 and layer.max_value is None and layer.threshold == 0:
        return lambda x, training: F.relu(x)
    if kind is keras.layers.LeakyReLU:
        slope = layer.negative_slope
        return lambda x, training: F.leaky_relu(x, negative_slope=slope)
    if kind is keras.layers.Activation:
        activation = layer.activation
        return lambda x, training: activation(x)
    return None
