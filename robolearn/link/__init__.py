"""Actor/learner link: the actor (policy at the control rate, on the robot) streams transitions to a learner
in another process or on another machine, and receives its weights back, over one authenticated TCP stream.

Why msgpack over a plain socket (not gRPC/protobuf, not pickle): msgpack decodes to plain maps, lists,
numbers and bytes only, so a received message can never run code; a length prefix with a size cap bounds
memory before anything is parsed; the schema check in `wire` is a few lines we own; and it needs one small
wheel on the robot instead of a code generator. Arrays travel as raw bytes with dtype and shape.

Layers, each importing only the ones above it: `wire` (framing, schema, arrays), `handshake` (HMAC
challenge-response), `weights` (chunked, versioned, MAC'd parameters), `actor` and `learner` (the two ends).
"""

from robolearn.link.wire import PROTOCOL_VERSION, LinkError, ProtocolError, RefusedError

__all__ = ["PROTOCOL_VERSION", "LinkError", "ProtocolError", "RefusedError"]
