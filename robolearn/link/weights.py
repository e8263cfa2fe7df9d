"""Weights as named raw arrays: split into chunks under the frame cap, reassembled and checked on arrival.

Never `torch.load` or pickle: the manifest lists name, dtype and shape, the payload is their bytes back to
back, and a MAC over all of it (version included) must match before the actor may use them.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from typing import Any

import numpy as np

from robolearn.link.handshake import weights_mac
from robolearn.link.wire import ARRAY_DTYPES, WEIGHT_CHUNK_BYTES, ProtocolError, encode

Weights = dict[str, np.ndarray]


def to_numpy(state: Mapping[str, Any]) -> Weights:
    """A torch state_dict (or any name->array map) as contiguous numpy arrays."""
    out = {}
    for name, value in state.items():
        array = value.detach().cpu().numpy() if hasattr(value, "detach") else np.asarray(value)
        out[name] = np.ascontiguousarray(array)
    return out


def frames(key: bytes, version: int, weights: Mapping[str, np.ndarray]) -> list[bytes]:
    """The frames that carry one weight set: begin, chunks, end (with the MAC)."""
    manifest, parts = [], []
    for name, array in weights.items():
        array = np.ascontiguousarray(array)
        if array.dtype.name not in ARRAY_DTYPES:
            raise ProtocolError(f"weight {name!r} has dtype {array.dtype}, which cannot travel on the link")
        manifest.append([name, array.dtype.name, list(array.shape)])
        parts.append(array.tobytes())
    payload = b"".join(parts)
    chunks = [payload[i:i + WEIGHT_CHUNK_BYTES] for i in range(0, len(payload), WEIGHT_CHUNK_BYTES)] or [b""]
    out = [encode("weights_begin", version=version, size=len(payload), chunks=len(chunks), tensors=manifest)]
    out += [encode("weights_chunk", version=version, index=i, data=c) for i, c in enumerate(chunks)]
    out.append(encode("weights_end", version=version, mac=weights_mac(key, version, manifest, payload)))
    return out


class Assembler:
    """Receives begin/chunk/end messages; yields a checked weight set when one is complete."""

    def __init__(self, key: bytes, max_bytes: int = 1 << 30):
        self._key, self._max_bytes = key, max_bytes
        self._begin: dict | None = None
        self._chunks: list[bytes] = []
        self.last_version = -1

    def feed(self, message: dict) -> tuple[int, Weights] | None:
        kind = message["type"]
        if kind == "weights_begin":
            if message["size"] > self._max_bytes:
                raise ProtocolError(f"a weight set of {message['size']} bytes exceeds the {self._max_bytes} cap")
            self._begin, self._chunks = message, []
            return None
        begin = self._begin
        if begin is None or message["version"] != begin["version"]:
            raise ProtocolError(f"{kind} for version {message['version']} without its weights_begin")
        if kind == "weights_chunk":
            if message["index"] != len(self._chunks) or len(self._chunks) >= begin["chunks"]:
                raise ProtocolError(f"weight chunk {message['index']} out of order")
            self._chunks.append(message["data"])
            if sum(map(len, self._chunks)) > begin["size"]:
                raise ProtocolError("weight chunks exceed the announced size")
            return None
        self._begin = None  # weights_end
        payload = b"".join(self._chunks)
        if len(self._chunks) != begin["chunks"] or len(payload) != begin["size"]:
            raise ProtocolError("weight set incomplete at weights_end")
        expected = weights_mac(self._key, begin["version"], begin["tensors"], payload)
        if not hmac.compare_digest(expected, message["mac"]):
            raise ProtocolError(f"weights version {begin['version']} failed their MAC check: discarded")
        if begin["version"] <= self.last_version:
            raise ProtocolError(f"weights version {begin['version']} is not newer than {self.last_version}")
        weights, offset = {}, 0
        for name, dtype, shape in begin["tensors"]:
            if dtype not in ARRAY_DTYPES:
                raise ProtocolError(f"weight {name!r}: dtype {dtype!r} is not allowed")
            n = int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize
            if offset + n > len(payload):
                raise ProtocolError("weight manifest describes more bytes than were sent")
            weights[name] = np.frombuffer(payload, dtype=dtype, count=n // np.dtype(dtype).itemsize,
                                          offset=offset).reshape(shape).copy()
            offset += n
        if offset != len(payload):
            raise ProtocolError("weight manifest describes fewer bytes than were sent")
        self.last_version = begin["version"]
        return begin["version"], weights
