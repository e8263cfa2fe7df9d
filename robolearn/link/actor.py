"""Actor end: never blocks the control loop. Transitions go into a bounded buffer that a background thread
sends; weights arrive in the background and wait in a slot the control loop swaps in between two ticks.

Link loss is detected by silence: the learner sends heartbeats even while it updates, so no message for
`timeout_s` (or a closed socket) means the link is down. The actor then applies its configured policy,
`continue` (keep acting with the last weights) or `stop` (the caller stops the robot), says so once in the
log, and keeps trying to reconnect in the background. Sequence numbers run on across reconnects, so the
learner can tell lost transitions from resent ones. The last `resend_window` transitions sent stay here:
a learner restarted from its checkpoint asks at the handshake for its stream from some sequence number on,
and gets what it received but never saved again.
"""

from __future__ import annotations

import logging
import os
import socket
import ssl
import threading
import time
from collections import deque
from collections.abc import Mapping
from enum import Enum

import numpy as np

from robolearn.link import handshake
from robolearn.link.handshake import Identity
from robolearn.link.weights import Assembler, Weights
from robolearn.link.wire import (MAX_FRAME_BYTES, PROTOCOL_VERSION, LinkError, ProtocolError, RefusedError, encode,
                                 pack_array, recv_message)

log = logging.getLogger(__name__)

# One frame's transitions stay under this, leaving room for msgpack's framing around the arrays.
TRANSITION_MAX_BYTES = MAX_FRAME_BYTES // 2


class OnLoss(str, Enum):
    CONTINUE = "continue"  # keep acting with the last weights received
    STOP = "stop"  # the control loop must stop the robot safely


class ActorLink:
    def __init__(self, identity: Identity, host: str, port: int, on_loss: OnLoss | str = OnLoss.CONTINUE,
                 timeout_s: float = 1.0, buffer_transitions: int = 10_000, batch_max: int = 256,
                 send_interval_s: float = 0.02, reconnect_s: float = 0.5, protocol: int = PROTOCOL_VERSION,
                 ssl_context: ssl.SSLContext | None = None, server_hostname: str | None = None,
                 resend_window: int | None = None):
        try:
            self.on_loss = OnLoss(on_loss)
        except ValueError:
            raise ValueError(f"on_loss must be one of {[p.value for p in OnLoss]}, got {on_loss!r}") from None
        self.identity, self.address, self.timeout_s = identity, (host, port), timeout_s
        self.batch_max, self.send_interval_s, self.reconnect_s = batch_max, send_interval_s, reconnect_s
        self._protocol, self._ssl, self._server_hostname = protocol, ssl_context, server_hostname or host
        self._buffer: deque[tuple[int, dict[str, np.ndarray]]] = deque(maxlen=buffer_transitions)
        self._lock = threading.Lock()
        self._next_seq = 0
        self._stream = os.urandom(16)  # this actor's transition stream, named at every handshake
        self._sent: deque[tuple[int, dict[str, np.ndarray]]] = deque(
            maxlen=buffer_transitions if resend_window is None else resend_window)
        self.resent = 0  # transitions sent again because a restarted learner asked for them
        self.dropped = 0  # transitions pushed out of the full buffer before they could be sent
        self._pending: tuple[int, Weights] | None = None
        self.weights_version = 0
        self._last_rx = 0.0
        self._up = False
        self._loss_reported = False
        self.refused: str | None = None
        self.learner_stopped: str | None = None  # the reason the learner gave when it said goodbye
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="link-actor", daemon=True)
        self._thread.start()

    # ---- called from the control loop: constant time, no I/O ----
    def send_transition(self, **arrays: np.ndarray) -> None:
        arrays = {k: np.asarray(v) for k, v in arrays.items()}
        size = sum(a.nbytes for a in arrays.values())
        if size > TRANSITION_MAX_BYTES:  # camera frames: a frame must hold at least one whole transition
            raise ProtocolError(f"a transition of {size} bytes exceeds the link's {TRANSITION_MAX_BYTES}-byte cap; "
                                "send smaller camera frames (lower the camera resolution)")
        with self._lock:
            if len(self._buffer) == self._buffer.maxlen:
                self.dropped += 1
            self._buffer.append((self._next_seq, arrays))
            self._next_seq += 1

    def take_weights(self) -> tuple[int, Weights] | None:
        """The newest complete weight set received since the last call, or None; swap it in between ticks."""
        with self._lock:
            pending, self._pending = self._pending, None
        if pending is not None:
            self.weights_version = pending[0]
        return pending

    @property
    def pending(self) -> int:
        """Transitions buffered, not sent yet."""
        with self._lock:
            return len(self._buffer)

    def wait_ready(self, timeout_s: float) -> bool:
        """Wait until connected (True) or refused/unreachable (False, with `refused` set when refused)."""
        end = time.monotonic() + timeout_s
        while time.monotonic() < end and not self.link_up and self.refused is None:
            time.sleep(0.01)
        return self.link_up

    @property
    def ever_connected(self) -> bool:
        return self._last_rx > 0

    @property
    def link_up(self) -> bool:
        return self._up and time.monotonic() - self._last_rx < self.timeout_s

    def must_stop(self) -> bool:
        """True when the link is down (or never came up) and the configured policy is to stop the robot;
        logged once per loss."""
        if self.link_up:
            self._loss_reported = False
            return False
        if not self._loss_reported:
            self._loss_reported = True
            action = ("stopping the robot" if self.on_loss is OnLoss.STOP
                      else f"continuing with weights version {self.weights_version}")
            log.warning("link: %s: %s", self.loss, action)
        return self.on_loss is OnLoss.STOP

    @property
    def loss(self) -> str:
        """Why the link is down, in words."""
        if self.learner_stopped is not None:
            return f"the learner stopped ({self.learner_stopped})"
        if self.ever_connected:
            return f"no message from the learner for over {self.timeout_s:.2f} s"
        return f"not connected to a learner ({self.refused or 'not reached yet'})"

    # ---- background thread ----
    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._session()
            except RefusedError as exc:
                self.refused = str(exc)
                log.error("link: %s", exc)
                return  # a refusal will not change by retrying
            except (LinkError, OSError) as exc:
                if self._up:
                    log.warning("link: connection to the learner lost: %s", exc)
            self._up = False
            self._stop.wait(self.reconnect_s)

    def _session(self) -> None:
        raw = socket.create_connection(self.address, timeout=self.timeout_s)
        sock = self._ssl.wrap_socket(raw, server_hostname=self._server_hostname) if self._ssl else raw
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.settimeout(self.timeout_s)
            _, resume_from = handshake.connect(sock, self.identity, self._protocol, self._stream)
            self._rewind(resume_from)
            self._last_rx, self._up, self.learner_stopped = time.monotonic(), True, None
            log.info("link: connected to the learner at %s:%d", *self.address)
            done = threading.Event()
            receiver = threading.Thread(target=self._receive, args=(sock, done), name="link-actor-rx", daemon=True)
            receiver.start()
            self._send_loop(sock, done)
        finally:
            sock.close()

    def _rewind(self, resume_from: int) -> None:
        """Queue everything from `resume_from` on that is still here; what the learner has is forgotten."""
        with self._lock:
            again = [item for item in self._sent if item[0] >= resume_from]
            waiting = [item for item in self._buffer if item[0] >= resume_from]
            self._sent.clear()
            self._buffer.clear()
            overflow = len(again) + len(waiting) - self._buffer.maxlen
            if overflow > 0:
                self.dropped += overflow
            self._buffer.extend(again + waiting)
            self.resent += len(again)
        if again:
            log.info("link: the learner resumes at transition %d: sending %d again", resume_from, len(again))

    def _receive(self, sock: socket.socket, done: threading.Event) -> None:
        assembler = Assembler(self.identity.key)
        try:
            while not done.is_set():
                message = recv_message(sock)
                self._last_rx = time.monotonic()
                if message["type"].startswith("weights_"):
                    complete = assembler.feed(message)
                    if complete is not None:
                        with self._lock:
                            self._pending = complete
                elif message["type"] == "bye":
                    self.learner_stopped = str(message["reason"])
                    log.info("link: the learner is stopping: %s", self.learner_stopped)
                    break
        except (TimeoutError, socket.timeout):
            log.warning("link: the learner sent nothing for %.2f s", self.timeout_s)
        except ProtocolError as exc:
            log.error("link: refused a message from the learner, disconnecting: %s", exc)
        except (LinkError, OSError) as exc:
            log.warning("link: %s", exc)
        finally:
            self._up = False
            done.set()

    def _send_loop(self, sock: socket.socket, done: threading.Event) -> None:
        heartbeat = encode("heartbeat")
        while not done.is_set() and not self._stop.is_set():
            with self._lock:
                batch = [self._buffer.popleft() for _ in range(min(self.batch_max, len(self._buffer)))]
            if batch:
                try:
                    for frame in self._batch_frames(batch):
                        self._send_all(sock, frame)
                except (OSError, LinkError):
                    with self._lock:  # not acknowledged: put them back so they are resent (duplicates are counted)
                        self._buffer.extendleft(reversed(batch))
                    raise
                with self._lock:
                    self._sent.extend(batch)
            else:
                self._send_all(sock, heartbeat)
            done.wait(self.send_interval_s)
        if self._stop.is_set():
            try:
                sock.sendall(encode("bye", reason="actor stopping"))
            except OSError:
                pass
        raise LinkError("receiver ended")

    @staticmethod
    def _batch_frames(batch: list[tuple[int, dict[str, np.ndarray]]]) -> list[bytes]:
        # one frame per run of consecutive sequence numbers (a buffer overflow leaves a hole), split where
        # the run would outgrow the frame cap (camera frames are large)
        runs: list[list[tuple[int, dict[str, np.ndarray]]]] = []
        run_bytes = 0
        for item in batch:
            size = sum(a.nbytes for a in item[1].values())
            if runs and item[0] == runs[-1][-1][0] + 1 and run_bytes + size <= TRANSITION_MAX_BYTES:
                runs[-1].append(item)
                run_bytes += size
            else:
                runs.append([item])
                run_bytes = size
        return [encode("transitions", seq=run[0][0], count=len(run),
                       arrays={name: pack_array(np.stack([t[name] for _, t in run])) for name in run[0][1]})
                for run in runs]

    def _send_all(self, sock: socket.socket, data: bytes) -> None:
        # a slow learner pushes back through TCP; that is not a lost link as long as its heartbeats arrive
        view, sent = memoryview(data), 0
        while sent < len(view):
            try:
                sent += sock.send(view[sent:])
            except (TimeoutError, socket.timeout):
                if not self.link_up or self._stop.is_set():
                    raise LinkError("the learner stopped reading") from None

    def flush(self, timeout_s: float) -> bool:
        """Wait (after the control loop ended) until every buffered transition went out to a connected learner."""
        end = time.monotonic() + timeout_s
        while time.monotonic() < end and self.refused is None:
            if not self.pending and self.link_up:
                return True
            time.sleep(0.02)
        return False

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2 * self.timeout_s)


def load_into(module, weights: Mapping[str, np.ndarray]) -> None:
    """Copy received arrays into a torch module (strict: names and shapes must match)."""
    import torch

    module.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in weights.items()}, strict=True)


class LoopReport:
    """What a control loop did: tick start lateness against the schedule, missed deadlines, why it ended."""

    def __init__(self, period_s: float):
        self.period_s = period_s
        self.lateness_s: list[float] = []
        self.missed = 0
        self.weight_swaps: list[int] = []
        self.stopped_because: str | None = None

    def p99_lateness_s(self) -> float:
        return float(np.percentile(self.lateness_s, 99)) if self.lateness_s else 0.0


def control_loop(step, period_s: float, ticks: int, link: ActorLink | None = None, apply_weights=None,
                 stop_robot=None) -> LoopReport:
    """Run `step()` every `period_s` on an absolute schedule for `ticks` ticks.

    Between ticks it swaps in new weights (`apply_weights(version, weights)`) and checks the link; when the
    link is lost and the policy is `stop`, it calls `stop_robot(reason)` and returns.
    """
    if period_s <= 0:
        raise ValueError(f"period_s must be positive, got {period_s}")
    report = LoopReport(period_s)
    start = time.monotonic()
    for k in range(ticks):
        deadline = start + k * period_s
        delay = deadline - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        lateness = time.monotonic() - deadline
        report.lateness_s.append(lateness)
        if lateness > period_s:
            report.missed += 1
        if link is not None:
            if link.must_stop():
                report.stopped_because = link.loss
                if stop_robot is not None:
                    stop_robot(report.stopped_because)
                return report
            new = link.take_weights()
            if new is not None:
                report.weight_swaps.append(new[0])
                if apply_weights is not None:
                    apply_weights(*new)
        step()
    return report
