"""Learner end: listens for one actor at a time, counts transitions by sequence number, publishes weights.

The learning itself stays outside: `serve(on_transitions)` hands each batch to a callback that may return
new weights, so any learner's update can sit behind the link. Heartbeats go out from their own thread, so a
slow update never looks like a dead link to the actor; an actor silent for `actor_timeout_s` is dropped
and the next connection is accepted. Sequence counters live on the server, not the connection, so a
reconnecting actor's resent transitions are counted as duplicates and never learned from twice.

Each actor process numbers its own stream. `consumed` is the position (stream, next sequence number) up to
which batches were handed to the learner; a learner saves it with its checkpoint and passes it back as
`resume` after a restart, and the handshake then asks the actor to resend from there: nothing the checkpoint
holds is learned twice, and what the learner received but never saved is sent again.
"""

from __future__ import annotations

import logging
import queue
import socket
import ssl
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

from robolearn.link import handshake, weights as weight_frames
from robolearn.link.handshake import Identity
from robolearn.link.wire import LinkError, ProtocolError, RefusedError, encode, recv_message, unpack_array

log = logging.getLogger(__name__)

Batch = dict[str, np.ndarray]
OnTransitions = Callable[[Batch], "Mapping[str, np.ndarray] | None"]


@dataclass(frozen=True)
class StreamPosition:
    """The next sequence number wanted from one actor's transition stream."""

    stream: bytes = b""
    next_seq: int = 0


@dataclass
class LearnerStats:
    received: int = 0  # transitions accepted (each sequence number once)
    duplicates: int = 0  # transitions dropped because their sequence number was already accepted
    gaps: int = 0  # sequence numbers never received (lost on the actor side or in a dropped link)
    refused: list[str] = field(default_factory=list)  # handshake refusals and protocol errors, with reasons
    actors_lost: int = 0
    weights_sent: int = 0
    connections: int = 0  # actors accepted so far (a new one needs the current weights)


class TransitionSequence:
    """One actor's stream of `transitions` messages: each sequence number is learned from at most once.

    The counter outlives a connection, so a reconnecting actor's resent transitions count as duplicates;
    numbers skipped count as gaps (lost on the actor side or in a dropped link). Several streams (the Ray
    workers in robolearn.scale) each keep their own sequence and may share one `LearnerStats`.
    """

    def __init__(self, stats: LearnerStats, next_seq: int = 0) -> None:
        self.stats = stats
        self.next_seq = next_seq  # a restarted learner starts where its checkpoint's stream position says

    def accept(self, message: dict) -> Batch | None:
        """The new transitions of a checked `transitions` message as arrays with a leading batch axis, or
        None when all of them were already accepted."""
        seq, count = message["seq"], message["count"]
        arrays = {name: unpack_array(packed, f"transitions.{name}") for name, packed in message["arrays"].items()}
        for name, array in arrays.items():
            if array.ndim == 0 or array.shape[0] != count:
                raise ProtocolError(f"transitions.{name} has leading size {array.shape[:1]}, the batch says {count}")
        if seq > self.next_seq:
            self.stats.gaps += seq - self.next_seq
        skip = max(0, self.next_seq - seq)
        self.stats.duplicates += min(skip, count)
        self.next_seq = max(self.next_seq, seq + count)
        if skip >= count:
            return None
        self.stats.received += count - skip
        return {name: array[skip:] for name, array in arrays.items()}


class LearnerServer:
    def __init__(self, identity: Identity, host: str = "127.0.0.1", port: int = 0, heartbeat_s: float = 0.1,
                 actor_timeout_s: float = 1.0, queue_batches: int = 64, ssl_context: ssl.SSLContext | None = None,
                 resume: StreamPosition | None = None):
        if actor_timeout_s <= heartbeat_s:
            raise ValueError(f"actor_timeout_s ({actor_timeout_s}) must exceed heartbeat_s ({heartbeat_s})")
        self.identity, self.heartbeat_s, self.actor_timeout_s = identity, heartbeat_s, actor_timeout_s
        self.stats = LearnerStats()
        self._ssl = ssl_context
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        # a restarted learner takes its port back at once (the old connection may linger in TIME_WAIT);
        # a port another process listens on is still refused
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self._listener.bind((host, port))
        except OSError as exc:
            self._listener.close()
            raise LinkError(f"cannot listen on {host}:{port}: {exc.strerror}; choose another --port "
                            "or stop the process that holds it") from None
        self._listener.listen(1)
        self.address = self._listener.getsockname()
        # bounded: a full queue stops the receiver reading, TCP pushes back and the actor drops its oldest
        self._batches: queue.Queue[tuple[StreamPosition, Batch]] = queue.Queue(maxsize=queue_batches)
        self.consumed = resume or StreamPosition()
        self._stream = self.consumed.stream
        self._sequence = TransitionSequence(self.stats, self.consumed.next_seq)
        self._conn: socket.socket | None = None
        self._send_lock = threading.Lock()
        self._stop = threading.Event()
        self._version = 0
        self._connected = threading.Event()
        threading.Thread(target=self._accept_loop, name="link-learner-accept", daemon=True).start()
        threading.Thread(target=self._heartbeat_loop, name="link-learner-heartbeat", daemon=True).start()

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def wait_connected(self, timeout: float) -> bool:
        return self._connected.wait(timeout)

    def _accept_loop(self) -> None:
        self._listener.settimeout(0.2)
        while not self._stop.is_set():
            try:
                raw, peer = self._listener.accept()
            except (TimeoutError, socket.timeout):
                continue
            except OSError:
                return
            conn = self._ssl.wrap_socket(raw, server_side=True) if self._ssl else raw
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn.settimeout(self.actor_timeout_s)
            try:
                hello = handshake.accept(conn, self.identity, self.heartbeat_s, self._resume_from)
            except (LinkError, OSError) as exc:
                self.stats.refused.append(str(exc))
                log.warning("link: refused actor %s: %s", peer, exc)
                conn.close()
                continue
            log.info("link: actor %s connected (robot %s, task %s)", peer, hello["robot"], hello["task"])
            self._conn = conn
            self.stats.connections += 1
            self._connected.set()
            self._receive(conn)
            self._connected.clear()
            self._conn = None
            conn.close()

    def _resume_from(self, stream: bytes) -> int:
        if stream != self._stream:  # another actor process: its stream starts at 0
            self._stream, self._sequence.next_seq = stream, 0
        return self._sequence.next_seq

    def _receive(self, conn: socket.socket) -> None:
        while not self._stop.is_set():
            try:
                message = recv_message(conn)
            except (TimeoutError, socket.timeout):
                self.stats.actors_lost += 1
                log.warning("link: no message from the actor for %.2f s: dropping it", self.actor_timeout_s)
                return
            except ProtocolError as exc:
                self.stats.refused.append(str(exc))
                log.warning("link: actor broke the protocol, disconnecting: %s", exc)
                return
            except (LinkError, OSError) as exc:
                self.stats.actors_lost += 1
                log.warning("link: actor gone: %s", exc)
                return
            if message["type"] == "transitions":
                try:
                    batch = self._sequence.accept(message)
                except ProtocolError as exc:
                    self.stats.refused.append(str(exc))
                    log.warning("link: bad transitions, disconnecting: %s", exc)
                    return
                while batch and not self._stop.is_set():
                    try:
                        self._batches.put((StreamPosition(self._stream, self._sequence.next_seq), batch), timeout=0.1)
                        break
                    except queue.Full:
                        continue
            elif message["type"] == "bye":
                log.info("link: actor said goodbye: %s", message["reason"])
                return

    def _heartbeat_loop(self) -> None:
        frame = encode("heartbeat")
        while not self._stop.wait(self.heartbeat_s):
            self._send([frame])

    def _send(self, frames: list[bytes]) -> bool:
        conn = self._conn
        if conn is None:
            return False
        try:
            with self._send_lock:
                for frame in frames:
                    conn.sendall(frame)
            return True
        except OSError:
            return False

    def get_transitions(self, timeout: float) -> Batch | None:
        """The next batch (None if none came within `timeout`); `consumed` then covers it."""
        try:
            position, batch = self._batches.get(timeout=timeout)
        except queue.Empty:
            return None
        self.consumed = position
        return batch

    def publish(self, weights: Mapping[str, np.ndarray]) -> int | None:
        """Send a new weight version to the actor; returns the version, or None when no actor is connected."""
        version = self._version + 1
        if not self._send(weight_frames.frames(self.identity.key, version, weight_frames.to_numpy(weights))):
            return None
        self._version = version
        self.stats.weights_sent += 1
        return version

    def serve(self, on_transitions: OnTransitions, until: Callable[[], bool] = lambda: False) -> None:
        """Feed every batch to `on_transitions`; publish what it returns; stop when `until()` is true."""
        while not until() and not self._stop.is_set():
            batch = self.get_transitions(timeout=0.05)
            if batch is None:
                continue
            new_weights = on_transitions(batch)
            if new_weights is not None:
                self.publish(new_weights)

    def close(self) -> None:
        self._stop.set()
        self._send([encode("bye", reason="learner stopping")])
        self._listener.close()
        conn = self._conn
        if conn is not None:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


__all__ = ["LearnerServer", "LearnerStats", "StreamPosition", "TransitionSequence", "Identity", "RefusedError"]
