"""Image encoders for pixel-based learners: a small conv net, random-shift augmentation, an optional
self-supervised pretraining on simulator frames, and loading a user's weights file (nothing is downloaded).

Images arrive as uint8 [B, H, W, C] (how buffers store them) and are scaled to [0, 1] inside the encoder, so
the exported policy takes the camera frame as it is.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from robolearn.files import save_torch_atomically
from robolearn.learners.networks import make_adam


def to_float_chw(images: torch.Tensor) -> torch.Tensor:
    """uint8 [B, H, W, C] -> float [B, C, H, W] in [0, 1]."""
    if images.dim() != 4:
        raise ValueError(f"images must be [B, H, W, C], got shape {tuple(images.shape)}")
    return images.permute(0, 3, 1, 2).float().div_(255.0)


def random_shift(images: torch.Tensor, pad: int = 4, generator: torch.Generator | None = None) -> torch.Tensor:
    """DrQ augmentation: replicate-pad by `pad` pixels and crop back at a random offset per image.

    Works on float [B, C, H, W]; the offsets are integers, so no interpolation blurs the frame.
    """
    if pad <= 0:
        return images
    b, _, h, w = images.shape
    padded = F.pad(images, (pad, pad, pad, pad), mode="replicate")
    offsets = torch.randint(0, 2 * pad + 1, (2, b), generator=generator, device=images.device)
    rows = (offsets[0, :, None] + torch.arange(h, device=images.device))[:, None, :, None]  # [B,1,H,1]
    cols = (offsets[1, :, None] + torch.arange(w, device=images.device))[:, None, None, :]  # [B,1,1,W]
    batch = torch.arange(b, device=images.device)[:, None, None, None]
    channels = torch.arange(images.shape[1], device=images.device)[None, :, None, None]
    return padded[batch, channels, rows, cols]


class ConvEncoder(nn.Module):
    """DrQ-style conv stack (3x3 convs, the first with stride 2) -> Linear -> LayerNorm -> tanh."""

    def __init__(self, image_shape: Sequence[int], feature_dim: int = 50, channels: int = 32,
                 layers: int = 4) -> None:
        super().__init__()
        if len(image_shape) != 3:
            raise ValueError(f"image_shape must be (H, W, C), got {tuple(image_shape)}")
        h, w, c = image_shape
        convs: list[nn.Module] = []
        in_ch = c
        for i in range(layers):
            convs += [nn.Conv2d(in_ch, channels, 3, stride=2 if i == 0 else 1), nn.ReLU()]
            in_ch = channels
        self.convs = nn.Sequential(*convs, nn.Flatten())
        with torch.no_grad():
            flat = self.convs(torch.zeros(1, c, h, w)).shape[1]
        self.head = nn.Sequential(nn.Linear(flat, feature_dim), nn.LayerNorm(feature_dim), nn.Tanh())
        self.image_shape = tuple(image_shape)
        self.feature_dim = feature_dim

    def forward(self, images: torch.Tensor, augment_pad: int = 0) -> torch.Tensor:
        """uint8 [B, H, W, C] -> features [B, feature_dim]; random shift by up to `augment_pad` pixels."""
        x = to_float_chw(images)
        if augment_pad:
            x = random_shift(x, augment_pad)
        return self.head(self.convs(x))


def load_encoder_weights(encoder: nn.Module, path: str | os.PathLike) -> None:
    """Load a state_dict file saved by `save_encoder_weights` (or any matching torch state_dict)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"encoder weights {path} do not exist; train some with "
                                f"robolearn.learners.encoders.pretrain_encoder or drop the setting")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ValueError(f"{path} is not a torch state_dict file ({type(exc).__name__}: {exc})") from exc
    try:
        encoder.load_state_dict(state)
    except RuntimeError as exc:
        raise ValueError(f"{path} does not fit this encoder (image shape {getattr(encoder, 'image_shape', '?')}, "
                         f"features {getattr(encoder, 'feature_dim', '?')}): {exc}") from exc


def save_encoder_weights(encoder: nn.Module, path: str | os.PathLike) -> None:
    save_torch_atomically(path, encoder.state_dict())


def pretrain_encoder(encoder: ConvEncoder, images: np.ndarray, iterations: int = 500, batch_size: int = 64,
                     lr: float = 1e-3, augment_pad: int = 4, seed: int = 0) -> list[float]:
    """Self-supervised pretraining on (simulator) frames: reconstruct a 16x16 thumbnail of each frame from
    the features of a randomly shifted copy. Gives a frozen encoder features that track the scene layout
    without any labels or downloads. Returns the loss per iteration."""
    images = np.asarray(images)
    if images.ndim != 4 or images.dtype != np.uint8 or images.shape[1:] != encoder.image_shape:
        raise ValueError(f"pretraining images must be uint8 [N, {', '.join(map(str, encoder.image_shape))}], "
                         f"got {images.dtype} {images.shape}")
    rng = np.random.default_rng(seed)
    channels = encoder.image_shape[2]
    decoder = nn.Linear(encoder.feature_dim, channels * 16 * 16)
    optimiser = make_adam(list(encoder.parameters()) + list(decoder.parameters()), lr)
    losses = []
    for _ in range(iterations):
        batch = torch.from_numpy(images[rng.integers(0, len(images), batch_size)])
        target = F.adaptive_avg_pool2d(to_float_chw(batch), 16).flatten(1)
        loss = F.mse_loss(decoder(encoder(batch, augment_pad)), target)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        losses.append(float(loss.detach()))
    return losses
