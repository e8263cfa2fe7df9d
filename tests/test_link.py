"""The actor/learner link over real localhost sockets, with the learner in a real separate process."""

import json
import os
import secrets
import signal
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path

import msgpack
import numpy as np
import pytest

from robolearn.link import handshake, weights as weight_frames
from robolearn.link.actor import ActorLink, control_loop
from robolearn.link.handshake import Identity
from robolearn.link.learner import LearnerServer, StreamPosition
from robolearn.link.wire import (MAX_FRAME_BYTES, PROTOCOL_VERSION, ProtocolError, decode, encode, recv_message,
                                 unpack_array)

KEY = b"0123456789abcdef0123456789abcdef"
IDENTITY = Identity(KEY, "cfg", "pendulum", "swingup")
PEER = Path(__file__).with_name("link_learner_peer.py")


def wait_for(condition, timeout=5.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.01)
    return False


@pytest.fixture
def server():
    srv = LearnerServer(IDENTITY, heartbeat_s=0.05, actor_timeout_s=0.5)
    yield srv
    srv.close()


def connected_client(srv, identity=IDENTITY):
    sock = socket.create_connection(srv.address, timeout=2)
    handshake.connect(sock, identity)
    return sock


# ---- messages ----

@pytest.mark.parametrize("body, says", [
    (msgpack.packb([1, 2, 3]), "map with a string 'type'"),
    (msgpack.packb({"type": "exec", "code": "print(1)"}), "unknown message type"),
    (msgpack.packb({"type": "transitions", "seq": "0", "count": 1, "arrays": {}}), "transitions.seq"),
    (msgpack.packb({"type": "heartbeat", "x": msgpack.ExtType(5, b"obj")}), "extension type 5"),
    (b"\xc1\xc1\xc1", "not a msgpack message"),
    (msgpack.packb({"type": "weights_end", "version": True, "mac": b""}), "weights_end.version"),
])
def test_a_message_outside_the_schema_is_refused(body, says):
    with pytest.raises(ProtocolError, match=says):
        decode(body)


def test_an_oversized_frame_is_refused_before_its_body_is_read():
    a, b = socket.socketpair()
    a.sendall(struct.pack(">I", MAX_FRAME_BYTES + 1))  # no body follows: reading it would hang
    b.settimeout(2)
    with pytest.raises(ProtocolError, match="cap"):
        recv_message(b)


def test_an_array_whose_bytes_do_not_match_its_shape_is_refused():
    with pytest.raises(ProtocolError, match="needs 12 bytes"):
        unpack_array(["float32", [3], b"\0" * 8])
    with pytest.raises(ProtocolError, match="not allowed"):
        unpack_array(["object", [1], b"\0" * 8])


# ---- weights ----

def test_weights_received_equal_weights_sent_and_a_tampered_chunk_is_refused():
    torch = pytest.importorskip("torch")
    net = torch.nn.Sequential(torch.nn.Linear(17, 256), torch.nn.ReLU(), torch.nn.Linear(256, 256),
                              torch.nn.ReLU(), torch.nn.Linear(256, 6))
    sent = weight_frames.to_numpy(net.state_dict())
    frames = weight_frames.frames(KEY, 3, sent)
    assembler = weight_frames.Assembler(KEY)
    result = [assembler.feed(decode(f[4:])) for f in frames][-1]
    assert result is not None and result[0] == 3
    assert sent.keys() == result[1].keys()
    for name in sent:
        np.testing.assert_array_equal(sent[name], result[1][name])
    clone = torch.nn.Sequential(torch.nn.Linear(17, 256), torch.nn.ReLU(), torch.nn.Linear(256, 256),
                                torch.nn.ReLU(), torch.nn.Linear(256, 6))
    from robolearn.link.actor import load_into
    load_into(clone, result[1])
    x = torch.randn(4, 17)
    assert torch.equal(net(x), clone(x))

    messages = [decode(f[4:]) for f in weight_frames.frames(KEY, 4, sent)]
    messages[1]["data"] = messages[1]["data"][:-1] + bytes([messages[1]["data"][-1] ^ 1])
    assembler = weight_frames.Assembler(KEY)
    with pytest.raises(ProtocolError, match="MAC"):
        for m in messages:
            assembler.feed(m)
    replay = weight_frames.Assembler(KEY)
    for m in [decode(f[4:]) for f in weight_frames.frames(KEY, 5, sent)]:
        replay.feed(m)
    with pytest.raises(ProtocolError, match="not newer"):
        for m in [decode(f[4:]) for f in weight_frames.frames(KEY, 5, sent)]:
            replay.feed(m)


# ---- handshake ----

@pytest.mark.parametrize("identity, protocol, says", [
    (Identity(b"another key, 16+ bytes", "cfg", "pendulum", "swingup"), PROTOCOL_VERSION, "authentication failed"),
    (Identity(KEY, "other-cfg", "pendulum", "swingup"), PROTOCOL_VERSION, "config_hash mismatch"),
    (Identity(KEY, "cfg", "so101_arm", "swingup"), PROTOCOL_VERSION, "robot mismatch"),
    (IDENTITY, PROTOCOL_VERSION - 1, f"protocol {PROTOCOL_VERSION - 1} is not supported"),
])
def test_a_wrong_key_config_robot_or_protocol_is_refused_with_a_message_and_no_motion(server, identity, protocol,
                                                                                        says):
    steps = []
    actor = ActorLink(identity, *server.address, on_loss="stop", timeout_s=0.3, protocol=protocol)
    try:
        assert wait_for(lambda: actor.refused is not None)
        assert says in actor.refused
        assert any(says in r for r in server.stats.refused)
        # the control loop never got a link, so a `stop` actor must not move
        stopped = []
        report = control_loop(lambda: steps.append(1), 0.01, 5, actor, stop_robot=stopped.append)
        assert not actor.link_up and steps == [] and stopped == [f"not connected to a learner ({actor.refused})"]
        assert server.stats.received == 0 and report.weight_swaps == []
    finally:
        actor.close()


def test_a_short_key_is_refused_with_a_hint():
    with pytest.raises(ValueError, match="at least 16 bytes"):
        Identity(b"short", "cfg", "pendulum", "swingup")


def test_a_port_in_use_is_a_clear_error(server):
    from robolearn.link.wire import LinkError
    with pytest.raises(LinkError, match="choose another --port"):
        LearnerServer(IDENTITY, port=server.address[1])


# ---- transitions ----

def test_sequence_numbers_drop_duplicates_and_count_gaps(server):
    sock = connected_client(server)
    try:
        def send(seq, count):
            obs = np.arange(seq, seq + count, dtype=np.float32)[:, None]
            sock.sendall(encode("transitions", seq=seq, count=count, arrays={"obs": [
                "float32", [count, 1], obs.tobytes()]}))

        send(0, 4)
        send(2, 4)  # 2, 3 resent after a reconnect: dropped; 4, 5 new
        send(9, 1)  # 6, 7, 8 never arrived
        seen = []
        assert wait_for(lambda: (b := server.get_transitions(0.05)) is not None and seen.extend(b["obs"][:, 0])
                        or len(seen) == 7)
        assert seen == [0, 1, 2, 3, 4, 5, 9]
        assert (server.stats.received, server.stats.duplicates, server.stats.gaps) == (7, 2, 3)
    finally:
        sock.close()


def drain(srv, until_seq):
    seen = []
    assert wait_for(lambda: (b := srv.get_transitions(0.05)) is not None and seen.extend(b["obs"][:, 0])
                    or (seen and seen[-1] >= until_seq)), seen
    return seen


def test_a_learner_restarted_from_its_checkpoint_gets_what_it_never_saved_and_nothing_twice():
    first = LearnerServer(IDENTITY, heartbeat_s=0.05, actor_timeout_s=0.5)
    port = first.address[1]
    actor = ActorLink(IDENTITY, "127.0.0.1", port, timeout_s=0.3, reconnect_s=0.05)
    try:
        for i in range(10):
            actor.send_transition(obs=np.float32([i]))
        assert drain(first, 9) == list(range(10))
        saved = StreamPosition(first.consumed.stream, 6)  # its checkpoint holds 0..5; 6..9 died with it
        first.close()
        assert wait_for(lambda: not actor.link_up)
        for i in range(10, 13):  # the control loop goes on while the learner is away
            actor.send_transition(obs=np.float32([i]))
        second = LearnerServer(IDENTITY, port=port, heartbeat_s=0.05, actor_timeout_s=0.5, resume=saved)
        try:
            assert drain(second, 12) == list(range(6, 13))
            assert (second.stats.received, second.stats.duplicates, second.stats.gaps) == (7, 0, 0)
            assert actor.resent == 4 and second.consumed.next_seq == 13
        finally:
            second.close()
    finally:
        actor.close()
        first.close()


def test_a_new_actor_process_starts_its_own_stream_at_zero(server):
    one = ActorLink(IDENTITY, *server.address, timeout_s=0.3)
    one.send_transition(obs=np.float32([1]))
    assert drain(server, 1) == [1]
    one.close()
    two = ActorLink(IDENTITY, *server.address, timeout_s=0.3)
    try:
        two.send_transition(obs=np.float32([2]))
        assert drain(server, 2) == [2]
        assert server.stats.duplicates == 0 and server.consumed.next_seq == 1
    finally:
        two.close()


def test_a_batch_whose_arrays_disagree_with_its_count_disconnects_the_actor(server):
    sock = connected_client(server)
    try:
        sock.sendall(encode("transitions", seq=0, count=3, arrays={"obs": ["float32", [2], b"\0" * 8]}))
        assert wait_for(lambda: any("leading size" in r for r in server.stats.refused))
        assert server.stats.received == 0
    finally:
        sock.close()


def test_the_learner_drops_a_silent_actor(server):
    sock = connected_client(server)
    try:
        assert server.wait_connected(2)
        assert wait_for(lambda: server.stats.actors_lost == 1, 3)
        assert not server.connected
    finally:
        sock.close()


# ---- two processes ----

def start_learner(update_s: float):
    proc = subprocess.Popen([sys.executable, str(PEER), "--key", KEY.hex(), "--update-s", str(update_s),
                             "--heartbeat-s", "0.05"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True, env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    line = proc.stdout.readline()
    assert line.startswith("PORT "), line
    return proc, int(line.split()[1])


def test_a_slow_learner_in_another_process_does_not_stretch_the_control_period_and_weights_arrive():
    period = 0.02
    proc, port = start_learner(update_s=5 * period)  # each update lasts five control periods
    actor = ActorLink(IDENTITY, "127.0.0.1", port, timeout_s=0.5)
    rng = np.random.default_rng(0)
    true_w = np.array([[0.5], [-1.0], [2.0]], np.float32)
    policy = {"w": np.zeros((3, 1), np.float32)}

    def step():
        obs = rng.normal(size=3).astype(np.float32)
        actor.send_transition(obs=obs, target=obs @ true_w)

    try:
        assert wait_for(lambda: actor.link_up)
        report = control_loop(step, period, 150, actor, apply_weights=lambda v, w: policy.update(w))
    finally:
        actor.close()
        proc.stdin.close()
        stats = json.loads(proc.stdout.readlines()[-1])
        proc.wait(10)
    # in-loop, every tick would last >= 5 periods; apart, ticks keep their schedule
    assert report.missed <= 0.05 * len(report.lateness_s), report.lateness_s
    assert np.median(report.lateness_s) < 0.25 * period
    assert report.weight_swaps and report.weight_swaps == sorted(report.weight_swaps)
    assert stats["weights_sent"] < 150 / 5 + 2  # the learner really was slow: one update per five ticks at most
    assert stats["received"] > 0 and stats["duplicates"] == 0
    # the weights that arrived are the learner's: they moved toward the regression target
    assert np.abs(policy["w"] - true_w).sum() < np.abs(true_w).sum()


@pytest.mark.parametrize("how", ["killed", "paused"])
@pytest.mark.parametrize("on_loss", ["stop", "continue"])
def test_a_lost_learner_is_detected_within_the_timeout_and_the_policy_applies(on_loss, how):
    period, timeout = 0.01, 0.3
    proc, port = start_learner(update_s=0.0)
    actor = ActorLink(IDENTITY, "127.0.0.1", port, on_loss=on_loss, timeout_s=timeout, reconnect_s=0.1)
    lost_at, events = [], []

    def step():
        actor.send_transition(obs=np.zeros(3, np.float32), target=np.zeros(1, np.float32))
        if not lost_at and actor.weights_version > 0:
            # killed: the kernel closes its socket; paused: it just goes silent (only the heartbeat tells)
            proc.send_signal(signal.SIGKILL if how == "killed" else signal.SIGSTOP)
            lost_at.append(time.monotonic())
        elif lost_at and not actor.link_up and len(events) == 0:
            events.append(("noticed", time.monotonic()))

    try:
        assert wait_for(lambda: actor.link_up)
        report = control_loop(step, period, int(3 * timeout / period) + 100, actor,
                              stop_robot=lambda why: events.append((why, time.monotonic())))
    finally:
        actor.close()
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    assert lost_at and events
    detection = events[0][1] - lost_at[0]
    assert detection <= timeout + 5 * period
    if how == "paused":  # heartbeats kept the link up until the learner went silent
        assert detection >= 0.5 * timeout
    if on_loss == "stop":
        assert "no message from the learner" in events[-1][0] and report.stopped_because == events[-1][0]
    else:
        assert report.stopped_because is None and len(report.lateness_s) == int(3 * timeout / period) + 100
        assert not actor.link_up and actor.weights_version > 0  # kept acting with the last weights
        assert report.missed <= 0.05 * len(report.lateness_s)  # and kept its period through the loss
