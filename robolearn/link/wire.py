"""Frames and messages: a 4-byte big-endian length, then one msgpack map whose `type` names a schema.

Nothing received is trusted: the length is checked against a cap before the body is read, msgpack is
decoded without extension types (so no object is ever constructed from the wire), and every message is
checked field by field against its schema before any caller sees it.
"""

from __future__ import annotations

import socket
import struct
from typing import Any

import msgpack
import numpy as np

PROTOCOL_VERSION = 2  # 2: the actor names its transition stream; the learner says where to resume it
MAX_FRAME_BYTES = 4 * 1024 * 1024
WEIGHT_CHUNK_BYTES = 1024 * 1024  # well under MAX_FRAME_BYTES once the map around it is added
_LENGTH = struct.Struct(">I")

# dtypes an array may have on the wire; anything else (object, void, ...) is refused
ARRAY_DTYPES = frozenset({"float32", "float64", "float16", "int64", "int32", "int16", "int8", "uint8", "bool"})


class LinkError(RuntimeError):
    """The link failed (peer gone, socket error, timeout)."""


class ProtocolError(LinkError):
    """The peer sent something that is not this protocol: refused before anything was executed."""


class RefusedError(LinkError):
    """The handshake was refused (wrong key, protocol version, config hash, robot or task)."""


_ARRAY = "array"  # [dtype, shape, bytes]
SCHEMAS: dict[str, dict[str, Any]] = {
    "challenge": {"protocol": int, "nonce": bytes},
    # protocol >= 2 adds "stream": bytes, checked in handshake after the version (so an old peer hears why)
    "hello": {"protocol": int, "nonce": bytes, "mac": bytes, "config_hash": str, "robot": str, "task": str},
    "welcome": {"mac": bytes, "heartbeat_s": float, "resume_from": int},
    "refuse": {"reason": str},
    "heartbeat": {},
    "transitions": {"seq": int, "count": int, "arrays": {str: _ARRAY}},
    "weights_begin": {"version": int, "size": int, "chunks": int, "tensors": [(str, str, [int])]},
    "weights_chunk": {"version": int, "index": int, "data": bytes},
    "weights_end": {"version": int, "mac": bytes},
    "bye": {"reason": str},
}


def _check(value: Any, spec: Any, where: str) -> None:
    if spec is _ARRAY:
        ok = (isinstance(value, list) and len(value) == 3 and isinstance(value[0], str)
              and isinstance(value[1], list) and all(isinstance(d, int) and d >= 0 for d in value[1])
              and isinstance(value[2], bytes))
        if not ok:
            raise ProtocolError(f"{where}: expected [dtype, shape, bytes], got {type(value).__name__}")
        return
    if isinstance(spec, dict):
        if not isinstance(value, dict):
            raise ProtocolError(f"{where}: expected a map, got {type(value).__name__}")
        if len(spec) == 1 and next(iter(spec)) is str:  # a map of names to one kind of value
            inner = next(iter(spec.values()))
            for key, item in value.items():
                if not isinstance(key, str):
                    raise ProtocolError(f"{where}: keys must be strings")
                _check(item, inner, f"{where}.{key}")
            return
        for key, inner in spec.items():
            if key not in value:
                raise ProtocolError(f"{where}: field {key!r} is missing")
            _check(value[key], inner, f"{where}.{key}")
        return
    if isinstance(spec, tuple):  # fixed positions
        if not isinstance(value, list) or len(value) != len(spec):
            raise ProtocolError(f"{where}: expected a list of {len(spec)} items")
        for i, (item, inner) in enumerate(zip(value, spec)):
            _check(item, inner, f"{where}[{i}]")
        return
    if isinstance(spec, list):  # any length, one kind of item
        if not isinstance(value, list):
            raise ProtocolError(f"{where}: expected a list, got {type(value).__name__}")
        for i, item in enumerate(value):
            _check(item, spec[0], f"{where}[{i}]")
        return
    if spec is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ProtocolError(f"{where}: expected a number, got {type(value).__name__}")
        return
    if spec is int and isinstance(value, bool) or not isinstance(value, spec):
        raise ProtocolError(f"{where}: expected {spec.__name__}, got {type(value).__name__}")


def _no_extensions(code: int, data: bytes) -> Any:
    raise ProtocolError(f"msgpack extension type {code} is not part of this protocol")


def encode(kind: str, **fields: Any) -> bytes:
    """One frame (length prefix included) for message `kind`; the fields are checked like received ones."""
    message = {"type": kind, **fields}
    validate(message)
    body = msgpack.packb(message, use_bin_type=True)
    if len(body) > MAX_FRAME_BYTES:
        raise ProtocolError(f"a {kind} message of {len(body)} bytes exceeds the {MAX_FRAME_BYTES}-byte frame cap")
    return _LENGTH.pack(len(body)) + body


def validate(message: Any) -> dict[str, Any]:
    if not isinstance(message, dict) or not isinstance(message.get("type"), str):
        raise ProtocolError("a message must be a map with a string 'type'")
    schema = SCHEMAS.get(message["type"])
    if schema is None:
        raise ProtocolError(f"unknown message type {message['type']!r}; this peer speaks protocol {PROTOCOL_VERSION}")
    _check(message, schema, message["type"])
    return message


def decode(body: bytes) -> dict[str, Any]:
    try:
        message = msgpack.unpackb(body, raw=False, strict_map_key=True, ext_hook=_no_extensions)
    except ProtocolError:
        raise
    except Exception as exc:  # msgpack raises several types for garbage; all mean the same here
        raise ProtocolError(f"not a msgpack message: {exc}") from None
    return validate(message)


def decode_frame(frame: bytes) -> dict[str, Any]:
    """One whole frame (length prefix included) already in memory, checked like one read from a socket."""
    if len(frame) < _LENGTH.size:
        raise ProtocolError(f"a frame of {len(frame)} bytes has no length prefix")
    (length,) = _LENGTH.unpack_from(frame)
    if length > MAX_FRAME_BYTES:
        raise ProtocolError(f"a frame announces {length} bytes; the cap is {MAX_FRAME_BYTES} bytes")
    if length != len(frame) - _LENGTH.size:
        raise ProtocolError(f"a frame announces {length} bytes but carries {len(frame) - _LENGTH.size}")
    return decode(frame[_LENGTH.size:])


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    buffer = bytearray(n)
    view, got = memoryview(buffer), 0
    while got < n:
        part = sock.recv_into(view[got:])
        if not part:
            raise LinkError("the peer closed the connection")
        got += part
    return bytes(buffer)


def recv_message(sock: socket.socket) -> dict[str, Any]:
    """Read one frame; refuses an oversized length before reading its body."""
    (length,) = _LENGTH.unpack(_recv_exact(sock, _LENGTH.size))
    if length > MAX_FRAME_BYTES:
        raise ProtocolError(f"the peer announced a {length}-byte message; the cap is {MAX_FRAME_BYTES} bytes")
    return decode(_recv_exact(sock, length))


def pack_array(array: np.ndarray) -> list[Any]:
    array = np.ascontiguousarray(array)
    if array.dtype.name not in ARRAY_DTYPES:
        raise ProtocolError(f"dtype {array.dtype} cannot travel on the link; use one of {sorted(ARRAY_DTYPES)}")
    return [array.dtype.name, list(array.shape), array.tobytes()]


def unpack_array(packed: list[Any], where: str = "array") -> np.ndarray:
    dtype, shape, data = packed
    if dtype not in ARRAY_DTYPES:
        raise ProtocolError(f"{where}: dtype {dtype!r} is not allowed on the link")
    expected = int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize
    if expected != len(data):
        raise ProtocolError(f"{where}: shape {shape} of {dtype} needs {expected} bytes, got {len(data)}")
    return np.frombuffer(data, dtype=dtype).reshape(shape).copy()
