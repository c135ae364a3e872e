"""The plain-data wire format between the grader and a student worker.

A frame is ``!IQ`` (JSON length, blob length), a UTF-8 JSON document, then a
blob holding the raw bytes of every tensor in the message (a reader takes
the header, then JSON and blob in one read, never more than the frame).
Nothing is ever pickled: the grader decodes only the tags below, checks every
length, shape and dtype, and builds fresh tensors from bytes, so whatever runs
in the worker can only ever hand back numbers, never objects or code.
On the grader's side every string is kept to ``sizes.MAX_TEXT`` characters
(names, messages, reprs: whatever the worker sends), a frame larger than the
reader allows is refused from its header, before anything is allocated for it,
and a reader with a deadline gets the whole frame by then or a time-out.

Tags inside the JSON (everything else is plain JSON):
  {"$tensor": [offset, nbytes], "dtype": ..., "shape": [...], "meta": {...}}
                                              (meta: what differs from TensorMeta's defaults)
  {"$tuple": [...]}, {"$dict": [[key, value], ...]}
  {"$handle": id, "type": "module.Name"}      an object kept in the worker
  {"$ref": [...]}                             a name the worker resolves
  {"$call": [fn, args, kwargs]}               a call the worker makes as it reads the request
  {"$dtype": "float32"}, {"$device": "cpu"}, {"$float": "nan"|"inf"|"-inf"|"1e+20"} (an int too large for JSON)

This module imports torch lazily so that importing it stays cheap.
"""
from __future__ import annotations

import ctypes
import json
import math
import re
import socket
import struct
from time import monotonic as _monotonic

import orjson

from grader.transport.sizes import MAX_TEXT, clip

HEADER = struct.Struct("!IQ")
MAX_JSON = 64 * 1024 * 1024
MAX_BLOB = 2 * 1024 * 1024 * 1024

_string_at = ctypes.string_at
_memmove = ctypes.memmove

DTYPES = (
    "float16", "bfloat16", "float32", "float64", "complex64", "complex128",
    "uint8", "int8", "int16", "int32", "int64", "bool",
)


class ProtocolError(Exception):
    """The other side sent something that is not a well-formed message."""


class Handle:
    """An object that lives in the worker, named by its id there."""

    __slots__ = ("id", "type")

    def __init__(self, id: int, type: str = "object"):
        self.id = id
        self.type = type

    def attr(self, *names: str) -> "Ref":
        return Ref("handle", self.id, *names)

    def __repr__(self) -> str:
        return f"<{self.type} in the worker #{self.id}>"


class Ref:
    """A name the worker looks up: ``Ref('student', 'softmax')``,
    ``Ref('torch', 'nn', 'Linear')`` or ``Ref('handle', 3, 'forward')``."""

    __slots__ = ("parts",)

    def __init__(self, *parts):
        self.parts = parts

    def __repr__(self) -> str:
        return "Ref" + repr(self.parts)


class Call:
    """A call the worker makes while it reads a request, so that an argument
    is built in the same round trip: ``Call(Student.torch("nn.Linear"), 5, 4)``.
    Only the grader sends these; the grader's decoder refuses them."""

    __slots__ = ("fn", "args", "kwargs")

    def __init__(self, fn, *args, **kwargs):
        self.fn = fn
        self.args = list(args)
        self.kwargs = kwargs

    def __repr__(self) -> str:
        return f"Call({self.fn!r}, *{self.args!r}, **{self.kwargs!r})"


class TensorMeta:
    """What the worker said about a tensor besides its values."""

    __slots__ = ("device", "requires_grad", "grad_fn", "is_leaf", "parameter", "type")

    def __init__(self, d: dict):
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


def meta(t) -> TensorMeta:
    """The worker-side metadata of a tensor decoded from the worker."""
    return getattr(t, "_grader_meta", None) or TensorMeta({})


# --------------------------------------------------------------------------
# torch, imported on first use: the types the encoder dispatches on and, per
# dtype, its wire name and element size (tables, so that no tensor is made
# just to learn an element size)

_torch = None
_Tensor = _Parameter = _dtype = _device = _strided = None
_ENCODE: dict = {}  # torch.dtype -> (name, element size)
_DECODE: dict = {}  # name -> (torch.dtype, element size)


def _load_torch():
    global _torch, _Tensor, _Parameter, _dtype, _device, _strided
    import torch

    for name in DTYPES:
        dt = getattr(torch, name)
        size = torch.empty((), dtype=dt).element_size()
        _ENCODE[dt] = (name, size)
        _DECODE[name] = (dt, size)
    _Tensor, _Parameter, _dtype, _device = torch.Tensor, torch.nn.Parameter, torch.dtype, torch.device
    _strided = torch.strided
    _torch = torch


# --------------------------------------------------------------------------
# framing

JOIN_LIMIT = 1 << 20  # frames up to this size go out in one write (and are read in one), not one per part

# JSON with orjson (compact, like separators=(",", ":")). What reaches it is what pack()
# makes: exact str/int/bool/None, finite floats (non-finite ones are {"$float"}), ints
# with abs < 2**63, str keys (a field named otherwise is refused), lists and dicts, so orjson's laxer defaults (NaN -> null)
# are never reached. Anything orjson refuses (a str with a lone surrogate, which no
# strict UTF-8 reader takes) goes through the stdlib, which keeps allow_nan=False's
# refusal, with such characters replaced.
_dumps = orjson.dumps
_slow_dumps = json.JSONEncoder(separators=(",", ":"), allow_nan=False, ensure_ascii=False).encode
_loads = orjson.loads
_LONG_NUMBER = re.compile(rb"\d{19}").search  # an int orjson might have made a float


def _encode_json(obj) -> bytes:
    try:
        return _dumps(obj)
    except TypeError:
        if not all(type(k) is str for k in obj):  # the stdlib would turn them into strings
            raise ProtocolError("message fields must be named by strings") from None
        return _slow_dumps(obj).encode("utf-8", "replace")


def send(sock, obj, blobs: list) -> None:
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


def _recv_exactly(sock, n: int, deadline: float | None = None) -> bytearray:
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


def _wait_until(sock, deadline: float) -> None:
    """Make the socket's next wait end at ``deadline`` at the latest (only a system
    call when the wait it has would end more than 50 ms past it)."""
    left = deadline - _monotonic()
    if left <= 0:
        raise socket.timeout("timed out")
    current = sock.gettimeout()
    if current is None or current > left + 0.05:
        sock.settimeout(left)


def _int_in_range(text: str) -> int:
    v = int(text)
    if not -2**63 < v < 2**63:  # what an Encoder sends as an int
        raise ValueError(f"integer out of range: {text[:40]}")
    return v


def _json(data) -> object:
    """Strict: malformed JSON, invalid UTF-8 (lone surrogates too), NaN, Infinity,
    numbers that overflow a double and integers outside (-2**63, 2**63) are refused."""
    try:
        obj = _loads(data)
        if _LONG_NUMBER(data):  # rare: orjson turns ints past 64 bits into floats, the stdlib does not
            json.loads(bytes(data).decode("utf-8"), parse_int=_int_in_range)
        return obj
    except (ValueError, RecursionError) as e:  # orjson.JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise ProtocolError(f"malformed message: {e}") from None


def recv(sock, max_blob: int = MAX_BLOB, *, deadline: float | None = None, max_json: int = MAX_JSON,
         max_total: int | None = None, sizes: list | None = None):
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


# --------------------------------------------------------------------------
# encoding (both sides)

class Encoder:
    """Turns values into JSON plus blobs. ``keep`` is called for values that
    are not plain data and must return a Handle (the worker keeps them)."""

    def __init__(self, keep=None):
        self.blobs: list = []
        self.offset = 0
        self.keep = keep
        if _torch is None:
            _load_torch()

    def tensor(self, t, extra: dict | None = None) -> dict:
        # only what differs from TensorMeta's defaults goes along
        m = {} if extra is None else dict(extra)
        if t.requires_grad:
            fn = t.grad_fn
            m["requires_grad"] = True
            if fn is not None:
                m["grad_fn"] = type(fn).__name__
                m["is_leaf"] = False
        known = _ENCODE.get(t.dtype)
        raw = None
        if (known is not None and t.is_cpu and t.layout is _strided and t.is_contiguous()
                and not t.is_conj() and not t.is_neg()):
            # the common case: the bytes are already laid out as sent
            try:
                ptr = t.data_ptr()
            except RuntimeError:  # a tensor without storage of its own (a wrapper): the general path
                pass
            else:
                name, shape = known[0], list(t.shape)
                n = t.numel() * known[1]
                raw = _string_at(ptr, n) if n else b""
        if raw is None:
            name, shape, raw, device = self._other_tensor(t)
            if device != "cpu":
                m["device"] = device
        rec = {"$tensor": [self.offset, len(raw)], "dtype": name, "shape": shape}
        if m:
            rec["meta"] = m
        self.blobs.append(raw)
        self.offset += len(raw)
        return rec

    @staticmethod
    def _other_tensor(t):
        """A tensor off the common path: another device, layout or dtype, a view
        with gaps, or a lazily conjugated or negated one → (dtype, shape, bytes, device)."""
        torch = _torch
        d = t.detach()
        device = str(d.device)
        if d.device.type == "meta":  # PyTorch's data-free device: shape, dtype and device only
            c, raw = d, b""
        else:
            if d.is_sparse or d.layout != torch.strided:
                d = d.to_dense()
            if d.is_conj():
                d = d.resolve_conj()
            if d.is_neg():
                d = d.resolve_neg()
            c = d.to("cpu").clone(memory_format=torch.contiguous_format)
            raw = _string_at(c.data_ptr(), c.numel() * c.element_size()) if c.numel() else b""
        return str(c.dtype).replace("torch.", ""), list(c.shape), raw, device

    def encode(self, v, depth: int = 0):
        if depth > 20:
            raise ProtocolError("value nested too deeply")
        tv = type(v)
        if tv is _Tensor:
            return self.tensor(v)
        if tv is list:
            return [self.encode(x, depth + 1) for x in v]
        if tv is int:
            return v if -2**63 < v < 2**63 else {"$float": repr(float(v))}
        if v is None or tv is str or tv is bool:
            return v
        if tv is float:
            return v if math.isfinite(v) else {"$float": repr(v)}
        if tv is dict and all(type(k) is str for k in v):
            return {"$dict": [[k, self.encode(x, depth + 1)] for k, x in v.items()]}
        if tv is tuple:
            return {"$tuple": [self.encode(x, depth + 1) for x in v]}
        if tv is _Parameter:
            return self.tensor(v, {"parameter": True})
        if tv is _dtype:
            return {"$dtype": str(v).replace("torch.", "")}
        if tv is _device:
            return {"$device": str(v)}
        if isinstance(v, Handle):
            return {"$handle": v.id, "type": v.type}
        if isinstance(v, Ref):
            for p in v.parts:  # names and handle ids only: nothing the serializer could bend
                if type(p) is not str and type(p) is not int:
                    raise ProtocolError(f"a reference is made of names and ids, not {type(p).__name__}")
            return {"$ref": list(v.parts)}
        if isinstance(v, Call):
            return {"$call": [self.encode(v.fn, depth + 1), self.encode(v.args, depth + 1),
                              self.encode(v.kwargs, depth + 1)]}
        if self.keep is not None:
            h = self.keep(v)
            return {"$handle": h.id, "type": h.type}
        raise ProtocolError(f"cannot send a {tv.__name__}")


def pack(obj, keep=None):
    """Encode ``obj`` (a dict whose values may hold tensors) → (json, blobs)."""
    enc = Encoder(keep)
    return {k: enc.encode(v) for k, v in obj.items()}, enc.blobs


# --------------------------------------------------------------------------
# decoding (strict on the grader's side)

class Decoder:
    def __init__(self, blob, resolve=None, place=None):
        if type(blob) is not bytearray:
            blob = bytearray(blob)
        self.blob = blob
        self.base = None        # the blob's address, once a tensor needs it
        self._anchor = None     # what holds the blob still (not resized or freed) while its address is used
        self.resolve = resolve  # worker side: turns $handle / $ref into objects
        self.place = place      # worker side: moves tensors to their device
        self.metas = 0          # meta tensors decoded
        if _torch is None:
            _load_torch()

    def tensor(self, d: dict):
        try:
            off, n = d["$tensor"]
            dtype = d["dtype"]
            shape = d["shape"]
            m = d.get("meta") or {}
        except (KeyError, TypeError, ValueError):
            raise ProtocolError("malformed tensor record") from None
        known = _DECODE.get(dtype) if type(dtype) is str else None
        if known is None:
            raise ProtocolError(f"unknown dtype {dtype!r}")
        if not (type(shape) is list and len(shape) <= 16):
            raise ProtocolError("malformed tensor shape")
        for s in shape:
            if not (type(s) is int and 0 <= s < 2**40):
                raise ProtocolError("malformed tensor shape")
        if not (type(off) is int and type(n) is int and 0 <= off and 0 <= n and off + n <= len(self.blob)):
            raise ProtocolError("tensor bytes out of range")
        if type(m) is not dict:
            raise ProtocolError("malformed tensor metadata")
        tdtype, itemsize = known
        dims = tuple(shape)
        if m.get("device") == "meta":  # no data: nothing is allocated for it, on either side
            if n != 0:
                raise ProtocolError("a meta tensor carries no bytes")
            if math.prod(dims) * itemsize >= 2**62:  # torch could not even count its bytes
                raise ProtocolError("a meta tensor of an impossible size")
            self.metas += 1
            t = _torch.empty(size=dims, dtype=tdtype, device="meta")
        else:
            if math.prod(dims) * itemsize != n:
                raise ProtocolError("tensor size does not match its shape")
            # a tensor of its own (not a view of the message, which detach_() and friends
            # refuse): one allocation, one copy
            t = _torch.empty(size=dims, dtype=tdtype)
            if n:
                base = self.base
                if base is None:
                    self._anchor = ctypes.c_char.from_buffer(self.blob)
                    base = self.base = ctypes.addressof(self._anchor)
                _memmove(t.data_ptr(), base + off, n)
        if self.place is not None:
            return self.place(t, m)
        t._grader_meta = TensorMeta(m)
        return t

    def decode(self, v, depth: int = 0):
        if depth > 40:
            raise ProtocolError("value nested too deeply")
        tv = type(v)
        if tv is dict and "$tensor" in v:
            return self.tensor(v)
        if tv is list:
            return [self.decode(x, depth + 1) for x in v]
        if tv is str:  # on the grader's side, a string from the worker is kept to MAX_TEXT characters
            return v if len(v) <= MAX_TEXT or self.resolve is not None else clip(v)
        if v is None or tv is int or tv is float or tv is bool:
            return v
        if tv is not dict or len(v) == 0:
            raise ProtocolError(f"unexpected value of type {tv.__name__}")
        if "$tuple" in v and type(v["$tuple"]) is list:
            return tuple(self.decode(x, depth + 1) for x in v["$tuple"])
        if "$dict" in v and type(v["$dict"]) is list:
            out = {}
            for pair in v["$dict"]:
                if not (type(pair) is list and len(pair) == 2 and type(pair[0]) is str):
                    raise ProtocolError("malformed dict")
                out[self.decode(pair[0]) if len(pair[0]) > MAX_TEXT else pair[0]] = self.decode(pair[1], depth + 1)
            return out
        if "$float" in v and type(v["$float"]) is str and len(v["$float"]) <= 32:
            try:
                return float(v["$float"])
            except ValueError:
                pass
        if "$dtype" in v and v["$dtype"] in DTYPES:
            return getattr(_torch, v["$dtype"])
        if "$device" in v and type(v["$device"]) is str:
            return _torch.device(v["$device"]) if self.resolve else v["$device"]
        if "$handle" in v and type(v["$handle"]) is int:
            if self.resolve is not None:
                return self.resolve(v)
            return Handle(v["$handle"], str(v.get("type", "object"))[:200])
        if "$ref" in v and self.resolve is not None:
            return self.resolve(v)
        if "$call" in v and self.resolve is not None and type(v["$call"]) is list and len(v["$call"]) == 3:
            fn, args, kwargs = (self.decode(x, depth + 1) for x in v["$call"])
            return fn(*args, **kwargs)
        raise ProtocolError("unknown tag in message")


def unpack(obj, blob, resolve=None, place=None, decoders: list | None = None):
    """Decode one value (worker side) or, given a message envelope (a JSON
    object of fields, as ``pack`` makes), each of its fields. ``decoders``: the
    Decoder used is appended to it (what it counted: ``metas``)."""
    dec = Decoder(blob, resolve, place)
    if decoders is not None:
        decoders.append(dec)
    if resolve is None:
        if type(obj) is not dict:
            raise ProtocolError("a message must be a JSON object")
        return {clip(str(k)): dec.decode(v) for k, v in obj.items()}
    return dec.decode(obj)
