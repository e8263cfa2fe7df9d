"""Generate one dependency-free C file from an exported policy, for robots without onnxruntime.

The C is produced from the verified ONNX file itself (not from the torch module), so it implements exactly
what onnxruntime runs: the graph is specialised to batch 1, constant-folded, and each node is written as a
loop over static sizes. Weights become `static const float` arrays; all buffers live on the stack; no
malloc, no libraries beyond libm. Supported: MLP policies, i.e. Linear (Gemm/MatMul), ReLU, LeakyReLU,
Tanh, Sigmoid, ELU, GELU (its erf form), Softplus, LayerNorm, L2 normalisation, the observation normaliser,
clamping, slicing/splitting/concatenating feature blocks, and elementwise arithmetic. Anything else is
refused with the ONNX op and the torch layer it came from.

Entry points in the generated file::

    int robolearn_policy(const float *features, float *command);
    int robolearn_policy_action(const float *features, float *action);
    int robolearn_policy_run(const float *features, float *action, float *command);

They return 0 on success, 1 if a feature is NaN/inf, 2 if an output is not finite; on a non-zero return
the outputs are NaN, which the safety layer turns into a stop.
"""

from __future__ import annotations

import ast
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import onnx
from onnx import numpy_helper

from robolearn.export.graph import ExportError
from robolearn.export.metadata import PolicyMetadata

UNARY = {
    "Relu": "{x} > 0.0f ? {x} : 0.0f",
    "Tanh": "tanhf({x})",
    "Sigmoid": "1.0f / (1.0f + expf(-{x}))",
    "Erf": "erff({x})",
    "Sqrt": "sqrtf({x})",
    "Exp": "expf({x})",
    "Abs": "fabsf({x})",
    "Neg": "-{x}",
    "Reciprocal": "1.0f / {x}",
    "Softplus": "({x} > 20.0f ? {x} : log1pf(expf({x})))",
}
BINARY = {"Add": "{a} + {b}", "Sub": "{a} - {b}", "Mul": "{a} * {b}", "Div": "{a} / {b}",
          "Max": "fmaxf({a}, {b})", "Min": "fminf({a}, {b})", "Pow": "powf({a}, {b})"}
ALIASES = {"Identity", "Reshape", "Squeeze", "Unsqueeze", "Flatten"}
REDUCTIONS = {"ReduceL2", "ReduceSum", "ReduceMean", "ReduceMax", "ReduceSumSquare"}
OTHER = {"Gemm", "MatMul", "LeakyRelu", "Elu", "Clip", "LayerNormalization", "Expand", "Split", "Slice",
         "Concat", "Gather", "Cast", "Constant"}
SUPPORTED_OPS = sorted(set(UNARY) | set(BINARY) | ALIASES | REDUCTIONS | OTHER)


class CodegenError(ExportError):
    """The policy uses a layer or shape the C generator does not support."""


def generate_c(model: onnx.ModelProto | bytes | str | os.PathLike) -> str:
    """C source for an exported robolearn policy (a file path, bytes or ModelProto)."""
    if isinstance(model, (str, os.PathLike)):
        model = onnx.load(str(model))
    elif isinstance(model, bytes):
        model = onnx.load_from_string(model)
    props = {p.key: p.value for p in model.metadata_props}
    metadata = PolicyMetadata.from_props(props, "model")
    return _Emitter(_batch_one(model), metadata).emit()


def _batch_one(model: onnx.ModelProto) -> onnx.ModelProto:
    """The graph with batch fixed to 1, constants folded and shapes inferred, so every size is static."""
    import onnxscript

    fixed = onnx.ModelProto()
    fixed.CopyFrom(model)
    for value in (*fixed.graph.input, *fixed.graph.output):
        dim = value.type.tensor_type.shape.dim[0]
        dim.Clear()
        dim.dim_value = 1
    fixed = onnxscript.optimizer.optimize(fixed)
    return onnx.shape_inference.infer_shapes(fixed, strict_mode=True, data_prop=True)


@dataclass
class _Value:
    c_name: str
    size: int
    shape: tuple[int, ...]


class _Emitter:
    def __init__(self, model: onnx.ModelProto, metadata: PolicyMetadata) -> None:
        self.model = model
        self.meta = metadata
        self.constants: dict[str, np.ndarray] = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
        self.shapes: dict[str, tuple[int, ...]] = {}
        for info in (*model.graph.value_info, *model.graph.input, *model.graph.output):
            dims = info.type.tensor_type.shape.dim
            if all(d.HasField("dim_value") for d in dims):
                self.shapes[info.name] = tuple(d.dim_value for d in dims)
        self.values: dict[str, _Value] = {}
        self.emitted_constants: dict[str, str] = {}
        self.const_lines: list[str] = []
        self.body: list[str] = []
        self.locals: list[str] = []
        self.node: onnx.NodeProto | None = None

    # -------------------------------------------------------------------------------- top level
    def emit(self) -> str:
        n_obs, n_act = self.meta.obs_dim, self.meta.action_dim
        self.values["features"] = _Value("features", n_obs, (1, n_obs))
        handlers: dict[str, Callable[[onnx.NodeProto], None]] = {op: self._unary for op in UNARY}
        handlers.update({op: self._binary for op in BINARY})
        handlers.update({op: self._alias for op in ALIASES})
        handlers.update({op: self._reduce for op in REDUCTIONS})
        handlers.update(Gemm=self._gemm, MatMul=self._matmul, LeakyRelu=self._leaky_relu, Elu=self._elu,
                        Clip=self._clip, LayerNormalization=self._layer_norm, Expand=self._expand,
                        Split=self._split, Slice=self._slice, Concat=self._concat, Gather=self._gather,
                        Cast=self._cast, Constant=self._constant)
        for node in self._live_nodes():
            self.node = node
            handler = handlers.get(node.op_type)
            if handler is None or node.domain not in ("", "ai.onnx"):
                raise self._unsupported(f"ONNX op {node.op_type}")
            handler(node)
        outputs = {}
        for name, size in (("action", n_act), ("command", n_act)):
            value = self.values.get(name)
            if value is None:
                raise CodegenError(f"the graph has no output {name!r}: it was not written by robolearn export")
            if value.size != size:
                raise CodegenError(f"graph output {name!r} has {value.size} values, the metadata says {size}")
            outputs[name] = value.c_name
        return self._assemble(outputs)

    def _live_nodes(self) -> list[onnx.NodeProto]:
        """Nodes that contribute to the outputs (e.g. not the unused log-std half of a policy head)."""
        self.live = {o.name for o in self.model.graph.output}
        kept = []
        for node in reversed(self.model.graph.node):
            if any(name in self.live for name in node.output):
                kept.append(node)
                self.live.update(name for name in node.input if name)
        return kept[::-1]

    def _assemble(self, outputs: dict[str, str]) -> str:
        meta = self.meta
        n_obs, n_act = meta.obs_dim, meta.action_dim
        layout = ", ".join(f"{name}[{size}]" for name, size in meta.feature_layout)
        head = [
            "/* Generated by robolearn export: do not edit. */",
            f"/* robot {meta.robot}, task {meta.task_id}, algo {meta.algo}, {meta.control_rate_hz:g} Hz, "
            f"{meta.command_kind.value} commands [{', '.join(meta.command_names)}] */",
            f"/* features: {layout} */",
            f"/* source checkpoint sha256 {meta.checkpoint_sha256 or 'unknown'}, robolearn "
            f"{meta.robolearn_version} */",
            "#include <math.h>",
            "",
            f"#define ROBOLEARN_OBS_DIM {n_obs}",
            f"#define ROBOLEARN_ACT_DIM {n_act}",
            f"const int robolearn_policy_obs_dim = {n_obs};",
            f"const int robolearn_policy_act_dim = {n_act};",
            "",
            "/* y = W x + b, W stored input-major [n_in][n_out]: the inner loop runs over independent outputs,",
            "   so compilers vectorise it without reassociating sums (no -ffast-math needed). */",
            "static void dense(const float *x, const float *w, const float *b, float *y, int n_in, int n_out)",
            "{",
            "    for (int j = 0; j < n_out; ++j) y[j] = b ? b[j] : 0.0f;",
            "    for (int k = 0; k < n_in; ++k) {",
            "        const float xk = x[k];",
            "        const float *row = w + k * n_out;",
            "        for (int j = 0; j < n_out; ++j) y[j] += row[j] * xk;",
            "    }",
            "}",
            "",
        ]
        body = [
            "int robolearn_policy_run(const float *features, float *action, float *command)",
            "{",
            "    int status = 0;",
            *(f"    {line}" for line in self.locals),
            f"    for (int i = 0; i < {n_obs}; ++i) if (!isfinite(features[i])) status = 1;",
            "    if (status == 0) {",
            *(f"        {line}" for line in self.body),
            f"        for (int i = 0; i < {n_act}; ++i) {{",
            f"            action[i] = {outputs['action']}[i];",
            f"            command[i] = {outputs['command']}[i];",
            "            if (!isfinite(action[i]) || !isfinite(command[i])) status = 2;",
            "        }",
            "    }",
            "    if (status != 0)",
            f"        for (int i = 0; i < {n_act}; ++i) action[i] = command[i] = NAN;",
            "    return status;",
            "}",
            "",
            "int robolearn_policy(const float *features, float *command)",
            "{",
            f"    float action[{n_act}];",
            "    return robolearn_policy_run(features, action, command);",
            "}",
            "",
            "int robolearn_policy_action(const float *features, float *action)",
            "{",
            f"    float command[{n_act}];",
            "    return robolearn_policy_run(features, action, command);",
            "}",
        ]
        return "\n".join(head + self.const_lines + [""] + body) + "\n"

    # --------------------------------------------------------------------------------- helpers
    def _unsupported(self, what: str) -> CodegenError:
        node = self.node
        layer = _layer_of(node) if node is not None else ""
        return CodegenError(
            f"C export does not support {what}{layer}; it handles MLP policies (Linear, ReLU, LeakyReLU, Tanh, "
            f"Sigmoid, ELU, GELU, Softplus, LayerNorm, L2 normalisation, the observation normaliser). Deploy this "
            f"policy with onnxruntime (PolicyRuntime) instead. Supported ONNX ops: {', '.join(SUPPORTED_OPS)}"
        )

    def _shape(self, name: str) -> tuple[int, ...]:
        if name in self.constants:
            return tuple(self.constants[name].shape)
        if name in self.values:
            return self.values[name].shape
        if name not in self.shapes:
            raise self._unsupported(f"a tensor of unknown shape ({name!r})")
        return self.shapes[name]

    def _operand(self, name: str) -> tuple[str, int]:
        """C expression of a float operand (a buffer or a weight array) and its element count."""
        if name in self.values:
            return self.values[name].c_name, self.values[name].size
        if name in self.constants:
            array = self.constants[name]
            if name not in self.emitted_constants:
                c_name = f"w{len(self.emitted_constants)}"
                self.emitted_constants[name] = c_name
                self._declare_constant(c_name, array.astype(np.float32).reshape(-1), name)
            return self.emitted_constants[name], int(array.size)
        raise self._unsupported(f"input {name!r} produced by no supported node")

    def _declare_constant(self, c_name: str, flat: np.ndarray, source: str) -> None:
        values = ", ".join(_c_float(v) for v in flat)
        self.const_lines.append(f"/* {source} */")
        self.const_lines.append(f"static const float {c_name}[{max(flat.size, 1)}] = {{{values}}};")

    def _int_constant(self, name: str) -> np.ndarray:
        if name not in self.constants:
            raise self._unsupported(f"a non-constant {name!r} where a constant is needed")
        return self.constants[name].astype(np.int64).reshape(-1)

    def _new_value(self, name: str, shape: tuple[int, ...] | None = None) -> str:
        shape = self._check_row(name, shape if shape is not None else self._shape(name))
        size = int(np.prod(shape)) if shape else 1
        c_name = f"v{len(self.values)}"
        self.values[name] = _Value(c_name, size, shape)
        self.locals.append(f"float {c_name}[{size}];")
        return c_name

    def _check_row(self, name: str, shape: tuple[int, ...]) -> tuple[int, ...]:
        """Every tensor must be one row (batch 1): all dimensions but the last equal to 1."""
        if any(d != 1 for d in shape[:-1]):
            raise self._unsupported(f"tensor {name!r} of shape {shape} (only batch-1 vectors, as in MLPs)")
        return tuple(shape)

    def _last_axis(self, axis: int, rank: int) -> None:
        if rank and axis not in (-1, rank - 1):
            raise self._unsupported(f"an operation along axis {axis} of a rank-{rank} tensor (only the feature axis)")

    def _loop(self, size: int, statement: str) -> None:
        self.body.append(f"for (int i = 0; i < {size}; ++i) {statement}")

    # ------------------------------------------------------------------------------ node kinds
    def _unary(self, node: onnx.NodeProto) -> None:
        x, _ = self._operand(node.input[0])
        out = self._new_value(node.output[0])
        self._loop(self.values[node.output[0]].size, f"{out}[i] = {UNARY[node.op_type].format(x=f'{x}[i]')};")

    def _leaky_relu(self, node: onnx.NodeProto) -> None:
        alpha = _attr(node, "alpha", 0.01)
        x, _ = self._operand(node.input[0])
        out = self._new_value(node.output[0])
        self._loop(self.values[node.output[0]].size,
                   f"{out}[i] = {x}[i] > 0.0f ? {x}[i] : {_c_float(alpha)} * {x}[i];")

    def _elu(self, node: onnx.NodeProto) -> None:
        alpha = _attr(node, "alpha", 1.0)
        x, _ = self._operand(node.input[0])
        out = self._new_value(node.output[0])
        self._loop(self.values[node.output[0]].size,
                   f"{out}[i] = {x}[i] > 0.0f ? {x}[i] : {_c_float(alpha)} * expm1f({x}[i]);")

    def _binary(self, node: onnx.NodeProto) -> None:
        out_name = node.output[0]
        out = self._new_value(out_name)
        size = self.values[out_name].size
        a = self._broadcast(node.input[0], size)
        b = self._broadcast(node.input[1], size)
        self._loop(size, f"{out}[i] = {BINARY[node.op_type].format(a=a, b=b)};")

    def _broadcast(self, name: str, size: int) -> str:
        """Index expression reading `name` broadcast onto a row of `size` elements."""
        c_name, n = self._operand(name)
        if n == size:
            return f"{c_name}[i]"
        if n == 1:
            return f"{c_name}[0]"
        raise self._unsupported(f"broadcasting {n} values of {name!r} onto {size}")

    def _clip(self, node: onnx.NodeProto) -> None:
        x, _ = self._operand(node.input[0])
        out = self._new_value(node.output[0])
        expr = f"{x}[i]"
        bounds = list(node.input[1:]) + ["", ""]
        if bounds[0]:
            expr = f"fmaxf({expr}, {self._scalar(bounds[0])})"
        if bounds[1]:
            expr = f"fminf({expr}, {self._scalar(bounds[1])})"
        self._loop(self.values[node.output[0]].size, f"{out}[i] = {expr};")

    def _scalar(self, name: str) -> str:
        if name in self.constants and self.constants[name].size == 1:
            return _c_float(float(self.constants[name].reshape(-1)[0]))
        raise self._unsupported(f"a clamp bound that is not a constant scalar ({name!r})")

    def _gemm(self, node: onnx.NodeProto) -> None:
        if _attr(node, "transA", 0):
            raise self._unsupported("Gemm with transA=1")
        weight = self._weight(node.input[1]) * _attr(node, "alpha", 1.0)
        if not _attr(node, "transB", 0):
            weight = weight.T
        bias = None
        if len(node.input) > 2 and node.input[2]:
            if node.input[2] not in self.constants:
                raise self._unsupported("Gemm with a computed bias")
            bias = np.broadcast_to(self.constants[node.input[2]].astype(np.float64).reshape(-1),
                                   (weight.shape[0],)) * _attr(node, "beta", 1.0)
        self._dense(node, weight, bias)

    def _matmul(self, node: onnx.NodeProto) -> None:
        self._dense(node, self._weight(node.input[1]).T, None)

    def _weight(self, name: str) -> np.ndarray:
        if name not in self.constants or self.constants[name].ndim != 2:
            raise self._unsupported(f"a matrix product with a non-constant or non-2-D right operand ({name!r})")
        return self.constants[name].astype(np.float64)

    def _dense(self, node: onnx.NodeProto, weight: np.ndarray, bias: np.ndarray | None) -> None:
        """y = W x + b; `weight` is [out][in], written transposed for `dense`."""
        x, n_in = self._operand(node.input[0])
        n_out = weight.shape[0]
        if weight.shape[1] != n_in:
            raise self._unsupported(f"a matrix product of {n_in} inputs with a {weight.shape} weight")
        w_name = f"w{len(self.emitted_constants)}"
        self.emitted_constants[f"{node.output[0]}/weight"] = w_name
        self._declare_constant(w_name, weight.T.astype(np.float32).reshape(-1), f"{node.input[1]} [{n_in}][{n_out}]")
        b_name = "0"
        if bias is not None:
            b_name = f"w{len(self.emitted_constants)}"
            self.emitted_constants[f"{node.output[0]}/bias"] = b_name
            self._declare_constant(b_name, bias.astype(np.float32), f"{node.input[2]}")
        out = self._new_value(node.output[0], (1, n_out))
        self.body.append(f"dense({x}, {w_name}, {b_name}, {out}, {n_in}, {n_out});")

    def _layer_norm(self, node: onnx.NodeProto) -> None:
        rank = len(self._shape(node.input[0]))
        self._last_axis(_attr(node, "axis", -1), rank)
        if any(name for name in node.output[1:]):
            raise self._unsupported("LayerNormalization with mean/inv-std outputs in use")
        x, n = self._operand(node.input[0])
        scale = self._broadcast(node.input[1], n)
        bias = self._broadcast(node.input[2], n) if len(node.input) > 2 and node.input[2] else "0.0f"
        eps = _c_float(_attr(node, "epsilon", 1e-5))
        out = self._new_value(node.output[0])
        self.body += [
            "{",
            "    float mean = 0.0f, var = 0.0f;",
            f"    for (int i = 0; i < {n}; ++i) mean += {x}[i];",
            f"    mean /= {n}.0f;",
            f"    for (int i = 0; i < {n}; ++i) var += ({x}[i] - mean) * ({x}[i] - mean);",
            f"    const float inv = 1.0f / sqrtf(var / {n}.0f + {eps});",
            f"    for (int i = 0; i < {n}; ++i) {out}[i] = ({x}[i] - mean) * inv * {scale} + {bias};",
            "}",
        ]

    def _reduce(self, node: onnx.NodeProto) -> None:
        rank = len(self._shape(node.input[0]))
        axes = (self._int_constant(node.input[1]) if len(node.input) > 1 and node.input[1]
                else np.asarray(_attr(node, "axes", [-1])))
        if axes.size != 1:
            raise self._unsupported(f"{node.op_type} over axes {axes.tolist()}")
        self._last_axis(int(axes[0]), rank)
        x, n = self._operand(node.input[0])
        out = self._new_value(node.output[0])
        if self.values[node.output[0]].size != 1:
            raise self._unsupported(f"{node.op_type} with keepdims producing {self.values[node.output[0]].size} values")
        init, step, final = {
            "ReduceL2": ("0.0f", f"acc += {x}[i] * {x}[i];", "sqrtf(acc)"),
            "ReduceSumSquare": ("0.0f", f"acc += {x}[i] * {x}[i];", "acc"),
            "ReduceSum": ("0.0f", f"acc += {x}[i];", "acc"),
            "ReduceMean": ("0.0f", f"acc += {x}[i];", f"acc / {n}.0f"),
            "ReduceMax": ("-INFINITY", f"acc = fmaxf(acc, {x}[i]);", "acc"),
        }[node.op_type]
        self.body.append(f"{{ float acc = {init}; for (int i = 0; i < {n}; ++i) {step} {out}[0] = {final}; }}")

    def _expand(self, node: onnx.NodeProto) -> None:
        out = self._new_value(node.output[0])
        size = self.values[node.output[0]].size
        self._loop(size, f"{out}[i] = {self._broadcast(node.input[0], size)};")

    def _copy_indices(self, out: str, source: str, indices: np.ndarray) -> None:
        """out[i] = source[indices[i]], as one offset loop when the indices are a contiguous run."""
        if len(indices) and np.array_equal(indices, np.arange(indices[0], indices[0] + len(indices))):
            self._loop(len(indices), f"{out}[i] = {source}[i + {int(indices[0])}];")
        else:
            table = f"idx{len(self.const_lines)}"
            self.const_lines.append(f"static const int {table}[{len(indices)}] = "
                                    f"{{{', '.join(str(int(i)) for i in indices)}}};")
            self._loop(len(indices), f"{out}[i] = {source}[{table}[i]];")

    def _split(self, node: onnx.NodeProto) -> None:
        rank = len(self._shape(node.input[0]))
        self._last_axis(_attr(node, "axis", 0), rank)
        x, _ = self._operand(node.input[0])
        start = 0
        for name in node.output:
            size = int(np.prod(self._shape(name)))
            if name in self.live:
                self._copy_indices(self._new_value(name), x, np.arange(start, start + size))
            start += size

    def _slice(self, node: onnx.NodeProto) -> None:
        shape = self._shape(node.input[0])
        starts, ends = self._int_constant(node.input[1]), self._int_constant(node.input[2])
        axes = self._int_constant(node.input[3]) if len(node.input) > 3 and node.input[3] else np.array([0])
        steps = self._int_constant(node.input[4]) if len(node.input) > 4 and node.input[4] else np.array([1])
        index = np.arange(int(np.prod(shape))).reshape(shape)
        slicer = [slice(None)] * len(shape)
        for start, end, axis, step in zip(starts, ends, axes, steps):
            slicer[int(axis)] = slice(int(start), int(end), int(step))
        picked = index[tuple(slicer)]
        x, _ = self._operand(node.input[0])
        self._copy_indices(self._new_value(node.output[0], picked.shape), x, picked.reshape(-1))

    def _gather(self, node: onnx.NodeProto) -> None:
        shape = self._shape(node.input[0])
        self._last_axis(_attr(node, "axis", 0), len(shape))
        picked = np.arange(shape[-1])[self._int_constant(node.input[1])]
        x, _ = self._operand(node.input[0])
        self._copy_indices(self._new_value(node.output[0]), x, picked)

    def _concat(self, node: onnx.NodeProto) -> None:
        self._last_axis(_attr(node, "axis", 0), len(self._shape(node.output[0])))
        out = self._new_value(node.output[0])
        offset = 0
        for name in node.input:
            src, n = self._operand(name)
            self._loop(n, f"{out}[i + {offset}] = {src}[i];")
            offset += n

    def _alias(self, node: onnx.NodeProto) -> None:
        # Same elements in the same order: the output is a new name for the input's buffer.
        src, n = self._operand(node.input[0])
        shape = self._check_row(node.output[0], self._shape(node.output[0]))
        self.values[node.output[0]] = _Value(src, n, shape)

    def _cast(self, node: onnx.NodeProto) -> None:
        if _attr(node, "to", 0) != onnx.TensorProto.FLOAT:
            raise self._unsupported("a Cast to a type other than float")
        self._alias(node)

    def _constant(self, node: onnx.NodeProto) -> None:
        for attr in node.attribute:
            if attr.name == "value":
                self.constants[node.output[0]] = numpy_helper.to_array(attr.t)
                return
            if attr.name in ("value_float", "value_floats", "value_int", "value_ints"):
                self.constants[node.output[0]] = np.asarray(onnx.helper.get_attribute_value(attr))
                return
        raise self._unsupported("a Constant node of an unsupported kind")


def _attr(node: onnx.NodeProto, name: str, default):
    for attr in node.attribute:
        if attr.name == name:
            return onnx.helper.get_attribute_value(attr)
    return default


def _layer_of(node: onnx.NodeProto) -> str:
    """' (from torch layer X at 'path')' using the exporter's node annotations, when present."""
    props = {p.key: p.value for p in node.metadata_props}
    try:
        classes = ast.literal_eval(props.get("pkg.torch.onnx.class_hierarchy", "[]"))
        scopes = ast.literal_eval(props.get("pkg.torch.onnx.name_scopes", "[]"))
    except (ValueError, SyntaxError):
        classes, scopes = [], []
    modules = [c for c in classes if not re.match(r"^aten\.|^prims\.", c)]
    if modules:
        path = scopes[-2] if len(scopes) >= 2 and scopes[-2] else "<root>"  # innermost module's path
        return f" (from layer {modules[-1]} at '{path}', node {node.name})"
    return f" (node {node.name})"


def _c_float(value: float) -> str:
    value = float(np.float32(value))
    if np.isnan(value):
        return "NAN"
    if np.isinf(value):
        return "INFINITY" if value > 0 else "-INFINITY"
    return f"{value:.9g}f" if ("." in f"{value:.9g}" or "e" in f"{value:.9g}") else f"{value:.9g}.0f"


def write_c(model: onnx.ModelProto | bytes | str | os.PathLike, path: str | os.PathLike) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(generate_c(model))
    return path
