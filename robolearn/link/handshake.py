"""Mutual HMAC challenge-response over a shared key, plus the checks that both ends run the same thing.

The learner sends a random nonce; the actor answers with HMAC(key, learner nonce + its own fields) and a
nonce of its own; the learner checks it (constant-time), then the protocol version, robot, task and config
hash, and proves it holds the key too by MAC'ing the actor's nonce. A refusal carries the reason and
nothing else happens on that connection (the actor has sent no transition and received no weights).

The actor names its transition stream (random per actor process); the welcome tells it the first sequence
number of that stream the learner still needs, so after a learner restart from its checkpoint the actor
resends exactly what the checkpoint lacks.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass

from robolearn.link.wire import PROTOCOL_VERSION, ProtocolError, RefusedError, encode, recv_message

NONCE_BYTES = 32


@dataclass(frozen=True)
class Identity:
    """What both ends must agree on before any data flows."""

    key: bytes
    config_hash: str
    robot: str
    task: str

    def __post_init__(self) -> None:
        if len(self.key) < 16:
            raise ValueError("the link key must be at least 16 bytes; generate one with `python -c "
                             "'import secrets; print(secrets.token_hex(32))'`")


def _mac(key: bytes, *parts: bytes) -> bytes:
    h = hmac.new(key, digestmod=hashlib.sha256)
    for part in parts:
        h.update(len(part).to_bytes(8, "big"))  # length-prefixed so parts cannot be re-split
        h.update(part)
    return h.digest()


def _hello_parts(nonce: bytes, hello: dict) -> tuple[bytes, ...]:
    return (nonce, hello["nonce"], str(hello["protocol"]).encode(), hello["config_hash"].encode(),
            hello["robot"].encode(), hello["task"].encode(), hello["stream"])


def accept(sock: socket.socket, identity: Identity, heartbeat_s: float,
           resume_from: Callable[[bytes], int] = lambda stream: 0) -> dict:
    """Learner side. Returns the actor's hello; raises RefusedError (after telling the actor why).
    `resume_from(stream)`: the first sequence number of that stream the learner has not learned from."""
    nonce = os.urandom(NONCE_BYTES)
    sock.sendall(encode("challenge", protocol=PROTOCOL_VERSION, nonce=nonce))
    hello = recv_message(sock)
    if hello["type"] != "hello":
        raise ProtocolError(f"expected hello, got {hello['type']}")

    def refuse(reason: str) -> RefusedError:
        sock.sendall(encode("refuse", reason=reason))
        return RefusedError(reason)

    if hello["protocol"] != PROTOCOL_VERSION:  # first: an older hello is MAC'd differently
        raise refuse(f"protocol {hello['protocol']} is not supported; the learner speaks {PROTOCOL_VERSION}: "
                     "install the same robolearn version on both machines")
    if not isinstance(hello.get("stream"), bytes):
        raise ProtocolError("hello: field 'stream' is missing or not bytes")
    if not hmac.compare_digest(hello["mac"], _mac(identity.key, *_hello_parts(nonce, hello))):
        raise refuse("authentication failed: the actor's key does not match the learner's")
    for field in ("robot", "task", "config_hash"):
        if hello[field] != getattr(identity, field):
            raise refuse(f"{field} mismatch: actor has {hello[field]!r}, learner has {getattr(identity, field)!r}")
    start = int(resume_from(hello["stream"]))
    sock.sendall(encode("welcome", mac=_mac(identity.key, b"learner", hello["nonce"], str(start).encode()),
                        heartbeat_s=heartbeat_s, resume_from=start))
    return hello


def connect(sock: socket.socket, identity: Identity, protocol: int = PROTOCOL_VERSION,
            stream: bytes = b"") -> tuple[float, int]:
    """Actor side. Returns the learner's heartbeat interval and the sequence number to resume `stream` from;
    raises RefusedError with the learner's reason."""
    challenge = recv_message(sock)
    if challenge["type"] != "challenge":
        raise ProtocolError(f"expected challenge, got {challenge['type']}")
    hello = {"protocol": protocol, "nonce": os.urandom(NONCE_BYTES), "config_hash": identity.config_hash,
             "robot": identity.robot, "task": identity.task, "stream": stream}
    mac = _mac(identity.key, *_hello_parts(challenge["nonce"], hello))
    sock.sendall(encode("hello", mac=mac, **hello))
    reply = recv_message(sock)
    if reply["type"] == "refuse":
        raise RefusedError(f"the learner refused the connection: {reply['reason']}")
    if reply["type"] != "welcome":
        raise ProtocolError(f"expected welcome, got {reply['type']}")
    if not hmac.compare_digest(reply["mac"], _mac(identity.key, b"learner", hello["nonce"],
                                                  str(reply["resume_from"]).encode())):
        raise RefusedError("the learner could not prove it holds the key: not connecting to it")
    return float(reply["heartbeat_s"]), int(reply["resume_from"])


def weights_mac(key: bytes, version: int, manifest: list, payload: bytes) -> bytes:
    """MAC over a weight set, so a chunk altered or replayed from another version is refused."""
    described = ";".join(f"{n}:{d}:{'x'.join(map(str, s))}" for n, d, s in manifest).encode()
    return _mac(key, b"weights", str(version).encode(), described, payload)
