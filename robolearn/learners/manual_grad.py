"""Hand-written forward and backward passes of the MLPs in networks.py, without an autograd graph.

Why: an SAC update at batch 256 on a CPU is bound by its matrix products; what autograd adds on top
(graph bookkeeping, fresh buffers for every activation and gradient) is a few percent of the update
(bench/bench_sac.py part (a) times both paths in the same rounds). The backward here does only the
products and the elementwise passes the chain rule needs, works in place where it can, and computes no
gradient nobody uses (parameters of a critic that only passes a gradient to the action).

`forward` returns the network's output and a tape of what `backward` needs. `backward` overwrites each
parameter's `.grad` (like zero_grad() followed by loss.backward(), reusing the buffer) and returns the
gradient with respect to the input when asked. Both work in place only on buffers they made themselves.
A 2-D input to an ensemble is shared by every member, so its gradient is summed over members, as autograd
does for the broadcast. Parity with autograd, layer by layer and for whole SAC updates, is tested in
tests/test_manual_grad.py.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from robolearn.learners.networks import EnsembleLayerNorm, EnsembleLinear

SUPPORTED_LAYERS = (nn.Linear, EnsembleLinear, nn.LayerNorm, EnsembleLayerNorm, nn.ReLU, nn.Tanh)


def supports(net: nn.Sequential) -> bool:
    """Whether every layer of `net` has a hand-written backward here (other activations: use autograd)."""
    return isinstance(net, nn.Sequential) and all(type(layer) in SUPPORTED_LAYERS for layer in net)


@torch.no_grad()
def forward(net: nn.Sequential, x: torch.Tensor) -> tuple[torch.Tensor, list[Any]]:
    tape: list[Any] = []
    for index, layer in enumerate(net):
        if isinstance(layer, (nn.LayerNorm, EnsembleLayerNorm)):
            affine = isinstance(layer, nn.LayerNorm)
            shape = list(layer.normalized_shape) if affine else [layer.dim]
            normed, mean, rstd = torch.native_layer_norm(x, shape, layer.weight if affine else None,
                                                         layer.bias if affine else None, layer.eps)
            tape.append((x, mean, rstd, None if affine else normed))
            x = normed if affine else torch.addcmul(layer.bias, normed, layer.weight)
        elif isinstance(layer, (nn.ReLU, nn.Tanh)):
            # In place (one buffer fewer per layer) on the previous layer's fresh output, never on the
            # caller's input; both derivatives are functions of the activation's output alone.
            relu = isinstance(layer, nn.ReLU)
            if index == 0:
                x = torch.relu(x) if relu else torch.tanh(x)
            else:
                x = x.relu_() if relu else x.tanh_()
            tape.append(x)
        else:
            tape.append(x)
            x = layer(x)
    return x, tape


@torch.no_grad()
def backward(net: nn.Sequential, tape: list[Any], grad: torch.Tensor, param_grads: bool = True,
             input_grad: bool = False) -> torch.Tensor | None:
    layers = list(net)
    if isinstance(layers[-1], (nn.ReLU, nn.Tanh)):
        grad = grad.clone()  # activations work on `grad` in place; the caller's stays as it was
    for index in reversed(range(len(layers))):
        need_input_grad = index > 0 or input_grad
        grad = _layer_backward(layers[index], tape[index], grad, param_grads, need_input_grad)
    return grad if input_grad else None


def _layer_backward(layer: nn.Module, saved: Any, grad: torch.Tensor, param_grads: bool,
                    need_input_grad: bool) -> torch.Tensor | None:
    # Activations overwrite `grad`, which is always the fresh input gradient of the layer above.
    if isinstance(layer, nn.ReLU):
        return torch.ops.aten.threshold_backward.grad_input(grad, saved, 0, grad_input=grad)
    if isinstance(layer, nn.Tanh):
        return torch.ops.aten.tanh_backward.grad_input(grad, saved, grad_input=grad)
    if isinstance(layer, nn.Linear):
        if param_grads:
            torch.mm(grad.t(), saved, out=_grad_buffer(layer.weight))
            torch.sum(grad, 0, out=_grad_buffer(layer.bias))
        return grad @ layer.weight if need_input_grad else None
    if isinstance(layer, EnsembleLinear):
        return _ensemble_linear_backward(layer, saved, grad, param_grads, need_input_grad)
    if isinstance(layer, nn.LayerNorm):
        x, mean, rstd, _ = saved
        mask = [need_input_grad, param_grads, param_grads]
        grad_x, grad_w, grad_b = torch.ops.aten.native_layer_norm_backward(
            grad, x, list(layer.normalized_shape), mean, rstd, layer.weight, layer.bias, mask)
        if param_grads:
            layer.weight.grad, layer.bias.grad = grad_w, grad_b
        return grad_x
    if isinstance(layer, EnsembleLayerNorm):
        x, mean, rstd, normed = saved
        if param_grads:
            torch.sum(grad * normed, -2, keepdim=True, out=_grad_buffer(layer.weight))
            torch.sum(grad, -2, keepdim=True, out=_grad_buffer(layer.bias))
        if not need_input_grad:
            return None
        return torch.ops.aten.native_layer_norm_backward(grad * layer.weight, x, [layer.dim], mean, rstd, None,
                                                          None, [True, False, False])[0]
    raise TypeError(f"no hand-written backward for {type(layer).__name__}; check manual_grad.supports first")


def _grad_buffer(param: nn.Parameter) -> torch.Tensor:
    """`param.grad`, allocated once and then overwritten in every update."""
    if param.grad is None or param.grad.shape != param.shape:
        param.grad = torch.empty_like(param, memory_format=torch.contiguous_format)
    return param.grad


def _ensemble_linear_backward(layer: EnsembleLinear, x: torch.Tensor, grad: torch.Tensor, param_grads: bool,
                              need_input_grad: bool) -> torch.Tensor | None:
    shared = x.dim() == 2  # one input [B, in] broadcast to every member
    if param_grads:
        weight_grad = _grad_buffer(layer.weight)
        if layer.out_dim == 1:  # a Q head: one row of gradients per member times its inputs
            members_x = x.unsqueeze(0).expand(layer.members, -1, -1) if shared else x
            torch.bmm(grad.transpose(1, 2), members_x, out=weight_grad.view(layer.members, 1, -1))
        else:
            torch.matmul(x.t() if shared else x.transpose(1, 2), grad, out=weight_grad)
        torch.sum(grad, -2, keepdim=True, out=_grad_buffer(layer.bias))
    if not need_input_grad:
        return None
    if layer.out_dim == 1:
        grad_x = grad * layer.weight.transpose(1, 2)
    else:
        grad_x = torch.bmm(grad, layer.weight.transpose(1, 2))
    return grad_x.sum(0) if shared else grad_x
