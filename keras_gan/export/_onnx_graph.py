"""Exact rewrites of an exported generator's ONNX graph that ONNX Runtime runs faster.

tf2onnx converts the traced generator op by op (in NCHW, with its own
transpose and constant-folding optimizers); ONNX Runtime then fuses what it
can (Conv + BatchNormalization, Conv + Relu, MatMul + Add). Neither sees
through the generator's first layers, where the feature maps are so small
(2x2, 4x4) that a convolution is mostly padding and each image is a separate
tiny matrix product. :func:`optimize` rewrites those layers:

* **densify**: a ``Conv`` or ``ConvTranspose`` with constant weights on a map
  of at most :data:`MAX_DENSE` input x output values, whose dense matrix costs
  at most :data:`MAX_DENSE_RATIO` times the convolution's multiply-adds, becomes
  ``Reshape -> MatMul -> Add -> Reshape``: one matrix product over the whole
  batch (ONNX Runtime runs a convolution as one small matrix product per
  image, which on a 2x2 map is a product with 4 columns). The matrix is the
  convolution applied to the identity (each entry is one weight or zero,
  copied exactly);
* **fold**: the linear, per-column operations after a ``MatMul`` with a constant
  weight (``Add`` / ``Mul`` of a constant, ``BatchNormalization`` in inference
  form, and the pure re-arrangements ``Reshape``, ``Transpose``,
  ``DepthToSpace``) are folded into its weight matrix and bias;
* **sink**: an element-wise activation (``Relu``, ``Tanh``, ...) followed by a
  re-arrangement is swapped with it, when that lets the re-arrangement fold.

Each rewrite computes the same sums up to float32 rounding (the weights are
scaled by batch norm's factor before, not after, the product); the exporter
checks the result against Keras as before. Measured effect: the README's
inference table (``keras-gan bench inference``).
"""

import numpy as np

MAX_DENSE = 1 << 21  # entries of a dense matrix (8 MiB of float32)
# A dense product may cost at most this many times the convolution's multiply-adds. Measured per layer in ONNX
# Runtime 1.32 (2-core Xeon, AVX-512): 128x2x2 -> 64x4x4 (ratio 0.64) dense 0.40 ms vs ConvTranspose 5.6 ms at
# batch 64 (0.047 vs 0.057 ms at batch 1); at ratios 1.8-2.6 (4x4 maps) dense was slower or no faster.
MAX_DENSE_RATIO = 1.0

_UNARY = ("Relu", "Tanh", "Sigmoid", "LeakyRelu", "Elu", "Softplus", "Abs", "Neg", "Identity")
_ARRANGE = ("Reshape", "Transpose", "DepthToSpace")


def _attr(node, name, default=None):
    from onnx import helper

    for a in node.attribute:
        if a.name == name:
            value = helper.get_attribute_value(a)
            return value.decode() if isinstance(value, bytes) else value
    return default


class _Graph:
    """Index of an ONNX graph: producers, consumers, constants, static shapes."""

    def __init__(self, model):
        import onnx
        from onnx import numpy_helper

        self.model = model
        self.graph = model.graph
        self.consts = {i.name: numpy_helper.to_array(i) for i in self.graph.initializer}
        for node in self.graph.node:
            if node.op_type == "Constant" and len(node.output) == 1:
                value = _attr(node, "value")
                if value is not None:
                    self.consts[node.output[0]] = numpy_helper.to_array(value)
        try:
            inferred = onnx.shape_inference.infer_shapes(model).graph
        except Exception:  # noqa: BLE001 - shapes are an optimization aid only
            inferred = self.graph
        self.shapes = {}
        for v in list(inferred.value_info) + list(inferred.input) + list(inferred.output):
            dims = v.type.tensor_type.shape.dim
            if v.type.tensor_type.HasField("shape"):
                self.shapes[v.name] = [d.dim_value if d.HasField("dim_value") else None for d in dims]
        self.outputs = {o.name for o in self.graph.output}
        self.reindex()

    def reindex(self):
        self.producer = {o: n for n in self.graph.node for o in n.output}
        self.consumers = {}
        for n in self.graph.node:
            for i in n.input:
                self.consumers.setdefault(i, []).append(n)

    def only_consumer(self, name):
        """The single node reading ``name`` (None if several, none, or a graph output)."""
        users = self.consumers.get(name, [])
        return users[0] if len(users) == 1 and name not in self.outputs else None

    def const(self, name):
        return self.consts.get(name)

    def add_const(self, hint, value):
        from onnx import numpy_helper

        name = hint
        k = 0
        while name in self.consts or name in self.producer:
            k += 1
            name = f"{hint}_{k}"
        self.graph.initializer.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        self.consts[name] = value
        return name

    def fresh(self, hint):
        name, k = hint, 0
        while name in self.producer or name in self.consumers or name in self.consts:
            k += 1
            name = f"{hint}_{k}"
        return name

    def drop_unused_constants(self):
        used = {i for n in self.graph.node for i in n.input} | self.outputs
        for init in list(self.graph.initializer):
            if init.name not in used:
                self.graph.initializer.remove(init)
                self.consts.pop(init.name, None)
        for node in list(self.graph.node):
            if node.op_type == "Constant" and node.output[0] not in used:
                self.graph.node.remove(node)
        self.reindex()


# ---------------------------------------------------------------- densify
def _probe(node, weight, in_shape, opset_imports):
    """The dense matrix ``[C*H*W, K*Ho*Wo]`` of a convolution without bias: the node applied to the identity."""
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper

    size = int(np.prod(in_shape))
    probe = helper.make_node(node.op_type, ["x", "w"], ["y"], **{
        a.name: helper.get_attribute_value(a) for a in node.attribute})
    graph = helper.make_graph(
        [probe], "probe", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", *in_shape])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [numpy_helper.from_array(weight.astype(np.float32), "w")])
    model = helper.make_model(graph, opset_imports=[o for o in opset_imports if o.domain in ("", "ai.onnx")])
    model.ir_version = min(model.ir_version, onnx.IR_VERSION)
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    rows, shape = [], None
    for start in range(0, size, 1024):  # the identity in slices: its memory stays at most 1024 x size
        eye = np.zeros((min(1024, size - start), size), np.float32)
        eye[np.arange(len(eye)), start + np.arange(len(eye))] = 1.0
        out = session.run(["y"], {"x": eye.reshape(len(eye), *in_shape)})[0]
        rows.append(out.reshape(len(eye), -1))
        shape = list(out.shape[1:])
    return np.concatenate(rows, axis=0), shape


def _densify(g, max_dense, max_ratio, report):
    from onnx import helper

    changed = False
    for node in list(g.graph.node):
        if node.op_type not in ("Conv", "ConvTranspose") or len(node.input) < 2 or int(_attr(node, "group", 1)) != 1:
            continue
        weight = g.const(node.input[1])
        bias = g.const(node.input[2]) if len(node.input) > 2 and node.input[2] else None
        in_shape = g.shapes.get(node.input[0])
        out_shape = g.shapes.get(node.output[0])
        if (weight is None or weight.ndim != 4 or weight.dtype != np.float32 or (len(node.input) > 2 and node.input[2]
                and bias is None) or not in_shape or not out_shape or len(in_shape) != 4 or len(out_shape) != 4
                or None in in_shape[1:] or None in out_shape[1:]):
            continue
        c, h, w = in_shape[1:]
        k, ho, wo = out_shape[1:]
        n_in, n_out = c * h * w, k * ho * wo
        taps = weight.shape[2] * weight.shape[3]
        conv_macs = (ho * wo * k * c * taps) if node.op_type == "Conv" else (h * w * c * k * taps)
        if n_in * n_out > max_dense or n_in * n_out > max_ratio * conv_macs:
            continue
        dense, probed = _probe(node, weight, [c, h, w], g.model.opset_import)
        if probed != [k, ho, wo]:
            continue
        flat = g.fresh(node.output[0] + "__flat")
        product = g.fresh(node.output[0] + "__dense")
        flat_shape = g.add_const(flat + "_shape", np.array([-1, n_in], np.int64))
        nodes = [helper.make_node("Reshape", [node.input[0], flat_shape], [flat], name=flat),
                 helper.make_node("MatMul", [flat, g.add_const(product + "_weight", dense)], [product], name=product)]
        last = product
        if bias is not None:
            biased = g.fresh(node.output[0] + "__biased")
            nodes.append(helper.make_node(
                "Add", [product, g.add_const(biased + "_bias", np.repeat(bias.astype(np.float32), ho * wo))],
                [biased], name=biased))
            last = biased
        nodes.append(helper.make_node(
            "Reshape", [last, g.add_const(node.output[0] + "__shape", np.array([-1, k, ho, wo], np.int64))],
            [node.output[0]], name=node.name + "__dense"))
        g.shapes[flat] = [None, n_in]
        index = list(g.graph.node).index(node)
        g.graph.node.remove(node)
        for offset, new in enumerate(nodes):
            g.graph.node.insert(index + offset, new)
        report.append(f"{node.op_type} {node.name}: [{c}x{h}x{w}] -> [{k}x{ho}x{wo}] as one "
                      f"{n_in}x{n_out} MatMul ({n_in * n_out / conv_macs:.2f}x its multiply-adds)")
        changed = True
    if changed:
        g.reindex()
    return changed


# ------------------------------------------------------------------- fold
def _rearrange(node, view, g):
    """The column order after the re-arrangement ``node`` of a per-example ``view``: (new view, index) or None."""
    probe = np.arange(int(np.prod(view))).reshape(view)
    if node.op_type == "Reshape":
        shape = g.const(node.input[1])
        if shape is None or shape.ndim != 1 or len(shape) < 2 or shape[0] not in (-1, 0) or any(
                s <= 0 for s in shape[1:]) or int(np.prod(shape[1:])) != probe.size or _attr(node, "allowzero", 0):
            return None
        return [int(s) for s in shape[1:]], probe.reshape(-1)
    if node.op_type == "Transpose":
        perm = _attr(node, "perm")
        if perm is None or len(perm) != len(view) + 1 or perm[0] != 0:
            return None
        moved = probe.transpose([p - 1 for p in perm[1:]])
        return list(moved.shape), moved.reshape(-1)
    if node.op_type == "DepthToSpace":
        if len(view) != 3:
            return None
        b, (c, h, w) = int(_attr(node, "blocksize")), view
        if c % (b * b):
            return None
        if _attr(node, "mode", "DCR") == "DCR":
            moved = probe.reshape(b, b, c // (b * b), h, w).transpose(2, 3, 0, 4, 1)
        else:  # CRD
            moved = probe.reshape(c // (b * b), b, b, h, w).transpose(0, 3, 1, 4, 2)
        moved = moved.reshape(c // (b * b), h * b, w * b)
        return list(moved.shape), moved.reshape(-1)
    return None


def _per_column(value, view):
    """A constant broadcast against ``[batch, *view]`` as one value per column, or None."""
    value = np.asarray(value)
    if value.ndim > len(view) + 1 or (value.ndim == len(view) + 1 and value.shape[0] != 1):
        return None
    if value.ndim == len(view) + 1:
        value = value[0]
    try:
        return np.broadcast_to(value, view).reshape(-1).astype(np.float64)
    except ValueError:
        return None


def _fold_chain(g, matmul, report):
    """Folds the column-wise nodes after ``matmul`` into its weight; True if any was folded."""
    from onnx import helper

    weight = g.const(matmul.input[1])
    a_shape = g.shapes.get(matmul.input[0])
    if weight is None or weight.ndim != 2 or weight.dtype != np.float32 or not a_shape or len(a_shape) != 2:
        return False
    w = weight.astype(np.float64)
    bias = np.zeros(w.shape[1])
    view = [w.shape[1]]
    absorbed, current = [], matmul.output[0]
    while True:
        node = g.only_consumer(current)
        if node is None or len(node.output) != 1:
            break
        op = node.op_type
        if op in ("Add", "Mul") and len(node.input) == 2:
            other = node.input[1] if node.input[0] == current else node.input[0]
            column = _per_column(g.const(other), view) if g.const(other) is not None else None
            if column is None or g.const(other).dtype != np.float32:
                break
            if op == "Add":
                bias = bias + column
            else:
                w, bias = w * column, bias * column
        elif op == "BatchNormalization" and node.input[0] == current:
            params = [g.const(i) for i in node.input[1:5]]
            if len(node.input) != 5 or any(p is None for p in params) or _attr(node, "training_mode", 0):
                break
            gamma, beta, mean, var = (p.astype(np.float64) for p in params)
            scale = gamma / np.sqrt(var + float(_attr(node, "epsilon", 1e-5)))
            shift = beta - mean * scale
            spatial = int(np.prod(view[1:]))
            if scale.shape != (view[0],):
                break
            scale, shift = np.repeat(scale, spatial), np.repeat(shift, spatial)
            w, bias = w * scale, bias * scale + shift
        elif op in _ARRANGE and node.input[0] == current:
            moved = _rearrange(node, view, g)
            if moved is None:
                break
            view, index = moved
            w, bias = w[:, index], bias[index]
        else:
            break
        absorbed.append(node)
        current = node.output[0]
    # Worth it only if an operation goes: what is emitted is MatMul [-> Add] [-> Reshape].
    kinds = [n.op_type for n in absorbed]
    if kinds in ([], ["Add"], ["Reshape"], ["Add", "Reshape"]):
        return False
    base = matmul.output[0]
    steps = [("MatMul", g.add_const(base + "__folded_weight", w.astype(np.float32)))]
    if np.any(bias):
        steps.append(("Add", g.add_const(base + "__folded_bias", bias.astype(np.float32))))
    if len(view) > 1:
        steps.append(("Reshape", g.add_const(base + "__view", np.array([-1, *view], np.int64))))
    new_nodes, last = [], matmul.input[0]
    for i, (op, const) in enumerate(steps):
        out = current if i == len(steps) - 1 else g.fresh(f"{base}__{op.lower()}")
        new_nodes.append(helper.make_node(op, [last, const], [out], name=matmul.name if op == "MatMul" else out))
        last = out
    index = list(g.graph.node).index(matmul)
    for n in [matmul] + absorbed:
        g.graph.node.remove(n)
    for offset, new in enumerate(new_nodes):
        g.graph.node.insert(index + offset, new)
    report.append(f"MatMul {matmul.name}: folded {', '.join(n.op_type for n in absorbed)}")
    g.reindex()
    return True


def _fold(g, report):
    changed = False
    for node in list(g.graph.node):
        if node.op_type == "MatMul" and node in g.graph.node and _fold_chain(g, node, report):
            changed = True
    return changed


# ------------------------------------------------------------------- sink
def _from_matmul(g, name):
    """True if ``name`` is computed from a constant-weight MatMul by foldable nodes only."""
    for _ in range(32):
        node = g.producer.get(name)
        if node is None:
            return False
        if node.op_type == "MatMul":
            return g.const(node.input[1]) is not None
        if node.op_type not in ("Add", "Mul", "BatchNormalization") + _ARRANGE:
            return False
        name = node.input[0] if g.const(node.input[0]) is None else node.input[1]
    return False


def _sink(g, report):
    """Swaps ``activation -> re-arrangement`` to ``re-arrangement -> activation`` where the latter then folds."""
    changed = False
    for act in list(g.graph.node):
        if act.op_type not in _UNARY or len(act.input) != 1 or len(act.output) != 1:
            continue
        nxt = g.only_consumer(act.output[0])
        if (nxt is None or nxt.op_type not in _ARRANGE or nxt.input[0] != act.output[0]
                or not _from_matmul(g, act.input[0])):
            continue
        if g.only_consumer(act.input[0]) is not act:
            continue
        x, mid, y = act.input[0], act.output[0], nxt.output[0]
        nxt.input[0], nxt.output[0] = x, mid
        act.input[0], act.output[0] = mid, y
        i = list(g.graph.node).index(act)
        g.graph.node.remove(nxt)
        g.graph.node.insert(i, nxt)  # the re-arrangement now runs first, then the activation
        report.append(f"moved {nxt.op_type} {nxt.name} before {act.op_type} {act.name}")
        g.reindex()
        changed = True
    return changed


def optimize(model, max_dense=MAX_DENSE, max_ratio=MAX_DENSE_RATIO):
    """Rewrites ``model`` (an ``onnx.ModelProto``, changed in place) as described in the module docstring.

    Args:
        model: a float32 model as tf2onnx writes it.
        max_dense: largest dense matrix (entries) a convolution may become; 0 turns densifying off.
        max_ratio: largest ratio of the dense product's multiply-adds to the convolution's.

    Returns:
        ``(model, report)``: the same proto and a list of one line per rewrite.
    """
    report = []
    g = _Graph(model)
    _densify(g, max_dense, max_ratio, report)
    for _ in range(64):
        if not (_fold(g, report) | _sink(g, report)):
            break
    g.drop_unused_constants()
    return model, report
