"""keras_gan.export._onnx_graph: each rewrite of an exported ONNX graph computes what the original graph computes.

Small hand-built graphs, run in ONNX Runtime before and after :func:`optimize` on random inputs; the
rewritten graphs must also have lost the nodes the rewrite removes (or kept them where it must not apply).
"""

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from keras_gan.export import _onnx_graph

RNG = np.random.default_rng(0)


def _const(name, value):
    return numpy_helper.from_array(np.asarray(value), name)


def _bn(prefix, channels):
    return [_const(f"{prefix}_g", RNG.uniform(0.5, 1.5, channels).astype(np.float32)),
            _const(f"{prefix}_b", RNG.normal(0, 0.3, channels).astype(np.float32)),
            _const(f"{prefix}_m", RNG.normal(0, 0.3, channels).astype(np.float32)),
            _const(f"{prefix}_v", RNG.uniform(0.5, 1.5, channels).astype(np.float32))]


def _model(nodes, inits, input_shape, outputs=("y",)):
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", *input_shape])],
        [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in outputs], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def _run(model, x):
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {"x": x})


def _check(model, input_shape, expect_ops=None, absent=()):
    before = onnx.ModelProto()
    before.CopyFrom(model)
    after, report = _onnx_graph.optimize(model)
    ops = [n.op_type for n in after.graph.node]
    for batch in (1, 5):
        x = RNG.normal(size=(batch, *input_shape)).astype(np.float32)
        for want, got in zip(_run(before, x), _run(after, x)):
            assert want.shape == got.shape
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    if expect_ops is not None:
        assert ops == expect_ops, (ops, report)
    assert not set(absent) & set(ops), (ops, report)
    return ops, report


@pytest.mark.parametrize("mode", ["DCR", "CRD"])
def test_subpixel_conv_on_a_tiny_map_becomes_one_matmul_with_its_batch_norm(mode):
    c, k = 8, 3
    nodes = [helper.make_node("Conv", ["x", "w", "bias"], ["c"], pads=[1, 1, 1, 1], kernel_shape=[3, 3]),
             helper.make_node("DepthToSpace", ["c"], ["d"], blocksize=2, mode=mode),
             helper.make_node("BatchNormalization", ["d", "bn_g", "bn_b", "bn_m", "bn_v"], ["n"], epsilon=1e-5),
             helper.make_node("Relu", ["n"], ["y"])]
    inits = [_const("w", RNG.normal(0, 0.3, (4 * k, c, 3, 3)).astype(np.float32)),
             _const("bias", RNG.normal(0, 0.3, 4 * k).astype(np.float32))] + _bn("bn", k)
    ops, report = _check(_model(nodes, inits, [c, 2, 2]), [c, 2, 2],
                         expect_ops=["Reshape", "MatMul", "Add", "Reshape", "Relu"])
    assert any("as one 32x48 MatMul" in r for r in report) and any("DepthToSpace, BatchNormalization" in r
                                                                   for r in report)


def test_transposed_conv_on_a_tiny_map_becomes_dense_and_a_large_one_stays():
    def deconv(c, h, k):
        nodes = [helper.make_node("ConvTranspose", ["x", "w"], ["y"], strides=[2, 2], pads=[1, 1, 2, 2],
                                  kernel_shape=[5, 5])]
        return _model(nodes, [_const("w", RNG.normal(0, 0.1, (c, k, 5, 5)).astype(np.float32))], [c, h, h])

    _check(deconv(16, 2, 8), [16, 2, 2], expect_ops=["Reshape", "MatMul", "Reshape"])
    _check(deconv(300, 2, 2), [300, 2, 2], expect_ops=["Reshape", "MatMul", "Reshape"])  # probed in 2 slices
    # 8x8 input: the dense matrix would cost 64 / 25 times the convolution's multiply-adds
    _check(deconv(4, 8, 3), [4, 8, 8], expect_ops=["ConvTranspose"])


def test_projection_transpose_and_batch_norm_fold_into_the_matmul():
    nodes = [helper.make_node("MatMul", ["x", "w"], ["m"]),
             helper.make_node("Reshape", ["m", "shape"], ["r"]),
             helper.make_node("Transpose", ["r"], ["t"], perm=[0, 3, 1, 2]),
             helper.make_node("BatchNormalization", ["t", "bn_g", "bn_b", "bn_m", "bn_v"], ["n"]),
             helper.make_node("Relu", ["n"], ["y"])]
    inits = [_const("w", RNG.normal(size=(6, 2 * 2 * 5)).astype(np.float32)),
             _const("shape", np.array([-1, 2, 2, 5], np.int64))] + _bn("bn", 5)
    _check(_model(nodes, inits, [6]), [6], expect_ops=["MatMul", "Add", "Reshape", "Relu"])


def test_nothing_folds_past_a_tensor_that_is_also_read_elsewhere():
    nodes = [helper.make_node("MatMul", ["x", "w"], ["m"]),
             helper.make_node("Reshape", ["m", "shape"], ["r"]),
             helper.make_node("Transpose", ["r"], ["y"], perm=[0, 3, 1, 2]),
             helper.make_node("Relu", ["r"], ["also"])]
    inits = [_const("w", RNG.normal(size=(6, 2 * 2 * 5)).astype(np.float32)),
             _const("shape", np.array([-1, 2, 2, 5], np.int64))]
    model = _model(nodes, inits, [6], outputs=("y", "also"))
    _check(model, [6], expect_ops=["MatMul", "Reshape", "Transpose", "Relu"])
    # a graph output in the middle of a chain stays as it is, too
    nodes = [helper.make_node("MatMul", ["x", "w"], ["m"]),
             helper.make_node("Reshape", ["m", "shape"], ["r"]),
             helper.make_node("Transpose", ["r"], ["y"], perm=[0, 3, 1, 2])]
    _check(_model(nodes, inits, [6], outputs=("y", "r")), [6], expect_ops=["MatMul", "Reshape", "Transpose"])
