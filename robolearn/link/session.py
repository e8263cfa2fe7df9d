"""What both CLI ends build the same way: the shared key, the identity both must agree on, TLS contexts.

The config hash covers every config field, so an actor and a learner started with different configs (or
different robolearn versions that changed a default) refuse each other at the handshake.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import ssl
from pathlib import Path

from robolearn.link.handshake import Identity

KEY_ENV = "ROBOLEARN_LINK_KEY"


def read_key(key_file: str | None) -> bytes:
    """The shared key (hex) from a file, or from $ROBOLEARN_LINK_KEY."""
    if key_file:
        text = Path(key_file).read_text().strip()
        source = key_file
    else:
        text = os.environ.get(KEY_ENV, "").strip()
        source = f"${KEY_ENV}"
        if not text:
            raise ValueError(f"no link key: pass --key-file FILE or set {KEY_ENV} (hex; make one with "
                             "python -c 'import secrets; print(secrets.token_hex(32))')")
    try:
        return bytes.fromhex(text)
    except ValueError:
        raise ValueError(f"the link key in {source} is not hex") from None


def config_hash(config) -> str:
    fields = dataclasses.asdict(config) if dataclasses.is_dataclass(config) else dict(config)
    return hashlib.sha256(json.dumps(fields, sort_keys=True, default=str).encode()).hexdigest()[:16]


def identity(key: bytes, config, env, task: str) -> Identity:
    """Who this side is; a robolearn task is named by its id, so `ArmReach` on one machine matches
    `robolearn/ArmReach-v0` on the other."""
    from robolearn.tasks.registry import task_entry

    robot = getattr(getattr(getattr(env.unwrapped, "robot", None), "spec", None), "name", "gym")
    try:
        task = task_entry(task).id
    except ValueError:
        pass  # a gymnasium id, compared as given
    return Identity(key, config_hash(config), robot, task)


def tls_context(server: bool, cert: str | None, key: str | None, ca: str | None) -> ssl.SSLContext | None:
    """None without certificates (the HMAC handshake still authenticates); otherwise TLS with the peer
    verified against `ca` when given."""
    if not (cert or ca):
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH if server else ssl.Purpose.SERVER_AUTH, cafile=ca)
    if cert:
        context.load_cert_chain(cert, key)
    if server and ca:
        context.verify_mode = ssl.CERT_REQUIRED
    return context


def parse_address(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) < 65536:
        raise ValueError(f"address {text!r} must be HOST:PORT, e.g. 0.0.0.0:50051")
    return host or "0.0.0.0", int(port)
