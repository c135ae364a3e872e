"""A message between the grader and a worker: the records its tags stand for
(``Handle``, ``Ref``, ``Call``, ``TensorMeta``) and its frame on the socket.

A frame is ``!IQ`` (JSON length, blob length), a UTF-8 JSON document, then a
blob holding the raw bytes of every tensor in the message (a reader takes
the header, then JSON and blob in one read, never more than the frame).
A frame larger than the reader allows is refused from its header, before
anything is allocated for it, and a reader with a deadline gets the whole
frame by then or a time-out. The JSON is strict both ways (no NaN, no lone
surrogates, no integer past 64 bits). What the JSON and blob hold, and how
values become them, is ``grader.wire.codec``'s business (the tags are
listed there); it re-exports the names here. Imported by the worker: the
standard library and orjson only.
"""

from __future__ import annotations

import json
import re
import socket
import struct
from time import monotonic as _monotonic
from typing import Any

import orjson

HEADER = struct.Struct("!IQ")
MAX_JSON = 64 * 1024 * 1024
MAX_BLOB = 2 * 1024 * 1024 * 1024


class ProtocolError(Exception):
    """The other side sent something that is not a well-formed message."""


class Handle:
    """An object that lives in the worker, named by its id there."""

    __slots__ = ("id", "type")

    def __init__(self, id: int, type: str = "object") -> None:
        self.id = id
        self.type = type

    def attr(self, *names: str) -> Ref:
        return Ref("handle", self.id, *names)

    def __repr__(self) -> str:
        return f"<{self.type} in the worker #{self.id}>"


class Ref:
    """A name the worker looks up: ``Ref('student', 'softmax')``,
    ``Ref('torch', 'nn', 'Linear')`` or ``Ref('handle', 3, 'forward')``."""

    __slots__ = ("parts",)

    def __init__(self, *parts: Any) -> None:  # names and ids (the encoder refuses anything else)
        self.parts = parts

    def __repr__(self) -> str:
        return "Ref" + repr(self.parts)


class Call:
    """A call the worker makes while it reads a request, so that an argument
    is built in the same round trip: ``Call(Student.torch("nn.Linear"), 5, 4)``.
    Only the grader sends these; the grader's decoder refuses them."""

    __slots__ = ("fn", "args", "kwargs")

    def __init__(self, fn: Any, *args: Any, **kwargs: Any) -> None:
        self.fn = fn
        self.args = list(args)
        self.kwargs = kwargs

    def __repr__(self) -> str:
        return f"Call({self.fn!r}, *{self.args!r}, **{self.kwargs!r})"


class TensorMeta:
    """What the worker said about a tensor besides its values."""

    __slots__ = ("device", "requires_grad", "grad_fn", "is_leaf", "parameter", "type")

    def __init__(self, d: dict[str, Any]) -> None:
        if not d:  # the common case: all defaults (the encoder sends only what differs)
            self.device, self.requires_grad, self.grad_fn = "cpu", False, None
            self.is_leaf, self.parameter, self.type = True, False, "torch.Tensor"
            return
        self.device = str(d.get("device", "cpu"))
        self.requires_grad = bool(d.get("requires_grad", False))
        self.grad_fn = d.get("grad_fn")
        self.is_leaf = bool(d.get("is_leaf", True))
        self.parameter = bool(d.get("parameter", False))
        self.type = str(d.get("type", "torch.Tensor"))


def meta(t: Any) -> TensorMeta:
    """The worker-side metadata of a tensor decoded from the worker."""
    return getattr(t, "_grader_meta", None) or TensorMeta({})


# --------------------------------------------------------------------------
# framing


JOIN_LIMIT = 1 << 20  # frames up to this size go out in one write (and are read in one), not one per part

# JSON with orjson (compact, like separators=(",", ":")). What reaches it is what pack()
# makes: exact str/int/bool/None, finite floats (non-finite ones are {"$float"}), ints
# with abs < 2**63, str keys (a field named otherwise is refused), lists and dicts, so orjson's
# laxer defaults (NaN -> null) are never reached. Anything orjson refuses (a str with a lone surrogate, which no
# strict UTF-8 reader takes) goes through the stdlib, which keeps allow_nan=False's
# refusal, with such characters replaced.
_dumps = orjson.dumps
_slow_dumps = json.JSONEncoder(separators=(",", ":"), allow_nan=False, ensure_ascii=False).encode
_loads = orjson.loads
_LONG_NUMBER = re.compile(rb"\d{19}").search  # an int orjson might have made a float


def _encode_json(obj: dict[str, Any]) -> bytes:
    try:
        return _dumps(obj)
    except TypeError:
        if not all(type(k) is str for k in obj):  # the stdlib would turn them into strings
            raise ProtocolError("message fields must be named by strings") from None
        return _slow_dumps(obj).encode("utf-8", "replace")


def send(sock: socket.socket, obj: dict[str, Any], blobs: list[bytes]) -> None:
    body = _encode_json(obj)
    total = sum(map(len, blobs))
    head = HEADER.pack(len(body), total) + body
    if total + len(head) <= JOIN_LIMIT:
        sock.sendall(b"".join([head, *blobs]) if blobs else head)
        return
    sock.sendall(head)
    for b in blobs:
        if len(b):
            sock.sendall(b)


def _recv_exactly(sock: socket.socket, n: int, deadline: float | None = None) -> bytearray:
    """``n`` bytes. With a ``deadline`` (``time.monotonic()``), the whole read must end
    by then: each wait gets what is left of the time (``socket.timeout`` once it is
    past), so that a sender dripping a byte at a time cannot stretch the read."""
    buf = bytearray(n)
    got = 0
    if deadline is not None:
        _wait_until(sock, deadline)
    while got < n:  # most often all of it comes in the first read
        k = sock.recv_into(memoryview(buf)[got:] if got else buf, n - got)
        if k == 0:
            raise EOFError("the worker closed the connection")
        got += k
        if deadline is not None and got < n:
            _wait_until(sock, deadline)
    return buf


def _wait_until(sock: socket.socket, deadline: float) -> None:
    """Make the socket's next wait end at ``deadline`` at the latest (only a system
    call when the wait it has would end more than 50 ms past it)."""
    left = deadline - _monotonic()
    if left <= 0:
        raise TimeoutError("timed out")
    current = sock.gettimeout()
    if current is None or current > left + 0.05:
        sock.settimeout(left)


def _int_in_range(text: str) -> int:
    v = int(text)
    if not -(2**63) < v < 2**63:  # what an Encoder sends as an int
        raise ValueError(f"integer out of range: {text[:40]}")
    return v


def _json(data: bytes | bytearray) -> Any:
    """Strict: malformed JSON, invalid UTF-8 (lone surrogates too), NaN, Infinity,
    numbers that overflow a double and integers outside (-2**63, 2**63) are refused."""
    try:
        obj = _loads(data)
        if _LONG_NUMBER(data):  # rare: orjson turns ints past 64 bits into floats, the stdlib does not
            json.loads(bytes(data).decode("utf-8"), parse_int=_int_in_range)
        return obj
    except (ValueError, RecursionError) as e:  # orjson.JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise ProtocolError(f"malformed message: {e}") from None


def recv(
    sock: socket.socket,
    max_blob: int = MAX_BLOB,
    *,
    deadline: float | None = None,
    max_json: int = MAX_JSON,
    max_total: int | None = None,
    sizes: list[int] | None = None,
) -> tuple[Any, bytearray]:
    """One frame: (json object, blob). Raises EOFError, ProtocolError, socket.timeout.

    A frame whose header announces more than ``max_json`` bytes of JSON, ``max_blob``
    of blob or ``max_total`` in all is refused before anything is allocated for it;
    with a ``deadline`` (``time.monotonic()``) the whole frame must arrive by then.
    ``sizes``: the frame's size is appended to it (for a budget of bytes)."""
    head = _recv_exactly(sock, HEADER.size, deadline)
    n_json, n_blob = HEADER.unpack(head)
    if n_json > max_json or n_blob > max_blob or (max_total is not None and n_json + n_blob > max_total):
        raise ProtocolError(f"message too large ({n_json} + {n_blob} bytes)")
    if sizes is not None:
        sizes.append(HEADER.size + n_json + n_blob)
    if n_json + n_blob > JOIN_LIMIT:  # a large frame: its JSON is checked before room is made for the blob
        return _json(_recv_exactly(sock, n_json, deadline)), _recv_exactly(sock, n_blob, deadline)
    buf = _recv_exactly(sock, n_json + n_blob, deadline)  # JSON and blob in one read
    obj = _json(buf[:n_json])
    del buf[:n_json]  # the blob, without a copy (bytearray drops a prefix in place)
    return obj, buf
