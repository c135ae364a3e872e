"""The plain-data wire format between the grader and a student worker.

A frame is ``!IQ`` (JSON length, blob length), a UTF-8 JSON document, then a
blob holding the raw bytes of every tensor in the message.  Nothing is ever
pickled: the grader decodes only the tags below, checks every length, shape
and dtype, and builds fresh tensors from bytes, so whatever runs in the
worker can only ever hand back numbers, never objects or code.

Tags inside the JSON (everything else is plain JSON):
  {"$tensor": [offset, nbytes], "dtype": ..., "shape": [...], "meta": {...}}
  {"$tuple": [...]}, {"$dict": [[key, value], ...]}
  {"$handle": id, "type": "module.Name"}      an object kept in the worker
  {"$ref": [...]}                             a name the worker resolves
  {"$call": [fn, args, kwargs]}               a call the worker makes as it reads the request
  {"$dtype": "float32"}, {"$device": "cpu"}, {"$float": "nan"|"inf"|"-inf"}

This module imports torch lazily so that importing it stays cheap.
"""
from __future__ import annotations

import ctypes
import json
import math
import struct

HEADER = struct.Struct("!IQ")
MAX_JSON = 64 * 1024 * 1024
MAX_BLOB = 2 * 1024 * 1024 * 1024

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
# framing

JOIN_LIMIT = 1 << 20  # frames up to this size go out in one write: one wake-up of the reader, not one per part


def send(sock, obj, blobs: list) -> None:
    body = json.dumps(obj, separators=(",", ":"), allow_nan=False).encode()
    total = sum(len(b) for b in blobs)
    head = HEADER.pack(len(body), total) + body
    if total + len(head) <= JOIN_LIMIT:
        sock.sendall(b"".join([head, *blobs]))
        return
    sock.sendall(head)
    for b in blobs:
        if len(b):
            sock.sendall(b)


def _recv_exactly(sock, n: int) -> bytearray:
    buf = bytearray(n)
    view = memoryview(buf)
    got = 0
    while got < n:
        k = sock.recv_into(view[got:], n - got)
        if k == 0:
            raise EOFError("the worker closed the connection")
        got += k
    return buf


def recv(sock, max_blob: int = MAX_BLOB):
    """One frame: (json object, blob). Raises EOFError, ProtocolError, socket.timeout."""
    head = _recv_exactly(sock, HEADER.size)
    n_json, n_blob = HEADER.unpack(bytes(head))
    if n_json > MAX_JSON or n_blob > max_blob:
        raise ProtocolError(f"message too large ({n_json} + {n_blob} bytes)")
    try:
        obj = json.loads(bytes(_recv_exactly(sock, n_json)).decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise ProtocolError(f"malformed message: {e}") from None
    return obj, _recv_exactly(sock, n_blob)


# --------------------------------------------------------------------------
# encoding (both sides)

class Encoder:
    """Turns values into JSON plus blobs. ``keep`` is called for values that
    are not plain data and must return a Handle (the worker keeps them)."""

    def __init__(self, keep=None):
        self.blobs: list = []
        self.offset = 0
        self.keep = keep

    def tensor(self, t, extra: dict | None = None) -> dict:
        import torch

        d = t.detach()
        m = {"device": str(d.device), "requires_grad": bool(t.requires_grad),
             "grad_fn": type(t.grad_fn).__name__ if t.grad_fn is not None else None,
             "is_leaf": bool(t.is_leaf)}
        if extra:
            m.update(extra)
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
            raw = ctypes.string_at(c.data_ptr(), c.numel() * c.element_size()) if c.numel() else b""
        rec = {"$tensor": [self.offset, len(raw)], "dtype": str(c.dtype).replace("torch.", ""),
               "shape": list(c.shape), "meta": m}
        self.blobs.append(raw)
        self.offset += len(raw)
        return rec

    def encode(self, v, depth: int = 0):
        import torch

        if depth > 20:
            raise ProtocolError("value nested too deeply")
        if v is None or type(v) in (bool, str):
            return v
        if type(v) is int:
            return v if abs(v) < 2**63 else {"$float": repr(float(v))}
        if type(v) is float:
            return v if math.isfinite(v) else {"$float": repr(v)}
        if type(v) is torch.Tensor:
            return self.tensor(v)
        if type(v) is torch.nn.Parameter:
            return self.tensor(v, {"parameter": True})
        if type(v) is torch.dtype:
            return {"$dtype": str(v).replace("torch.", "")}
        if type(v) is torch.device:
            return {"$device": str(v)}
        if type(v) is list:
            return [self.encode(x, depth + 1) for x in v]
        if type(v) is tuple:
            return {"$tuple": [self.encode(x, depth + 1) for x in v]}
        if type(v) is dict and all(type(k) is str for k in v):
            return {"$dict": [[k, self.encode(x, depth + 1)] for k, x in v.items()]}
        if isinstance(v, Handle):
            return {"$handle": v.id, "type": v.type}
        if isinstance(v, Ref):
            return {"$ref": list(v.parts)}
        if isinstance(v, Call):
            return {"$call": [self.encode(v.fn, depth + 1), self.encode(v.args, depth + 1),
                              self.encode(v.kwargs, depth + 1)]}
        if self.keep is not None:
            h = self.keep(v)
            return {"$handle": h.id, "type": h.type}
        raise ProtocolError(f"cannot send a {type(v).__name__}")


def pack(obj, keep=None):
    """Encode ``obj`` (a dict whose values may hold tensors) → (json, blobs)."""
    enc = Encoder(keep)
    return {k: enc.encode(v) for k, v in obj.items()}, enc.blobs


# --------------------------------------------------------------------------
# decoding (strict on the grader's side)

class Decoder:
    def __init__(self, blob, resolve=None, place=None):
        self.blob = blob
        self.resolve = resolve  # worker side: turns $handle / $ref into objects
        self.place = place      # worker side: moves tensors to their device

    def tensor(self, d: dict):
        import torch

        try:
            off, n = d["$tensor"]
            dtype = d["dtype"]
            shape = d["shape"]
            m = d.get("meta") or {}
        except (KeyError, TypeError, ValueError):
            raise ProtocolError("malformed tensor record") from None
        if dtype not in DTYPES:
            raise ProtocolError(f"unknown dtype {dtype!r}")
        if not (isinstance(shape, list) and len(shape) <= 16
                and all(type(s) is int and 0 <= s < 2**40 for s in shape)):
            raise ProtocolError("malformed tensor shape")
        if not (type(off) is int and type(n) is int and 0 <= off and 0 <= n and off + n <= len(self.blob)):
            raise ProtocolError("tensor bytes out of range")
        if not isinstance(m, dict):
            raise ProtocolError("malformed tensor metadata")
        tdtype = getattr(torch, dtype)
        meta_device = m.get("device") == "meta"  # no data: nothing is allocated for it, on either side
        if meta_device and n != 0:
            raise ProtocolError("a meta tensor carries no bytes")
        if not meta_device and math.prod(shape) * torch.empty((), dtype=tdtype).element_size() != n:
            raise ProtocolError("tensor size does not match its shape")
        if meta_device:
            t = torch.empty(shape, dtype=tdtype, device="meta")
        elif n == 0:
            t = torch.empty(shape, dtype=tdtype)
        else:
            # a tensor of its own (not a view of the message, which detach_() and friends refuse)
            t = torch.frombuffer(memoryview(self.blob)[off:off + n], dtype=tdtype).reshape(shape).clone()
        if self.place is not None:
            return self.place(t, m)
        t._grader_meta = TensorMeta(m)
        return t

    def decode(self, v, depth: int = 0):
        import torch

        if depth > 40:
            raise ProtocolError("value nested too deeply")
        if v is None or type(v) in (bool, int, float, str):
            return v
        if type(v) is list:
            return [self.decode(x, depth + 1) for x in v]
        if type(v) is not dict or len(v) == 0:
            raise ProtocolError(f"unexpected value of type {type(v).__name__}")
        if "$tensor" in v:
            return self.tensor(v)
        if "$tuple" in v and type(v["$tuple"]) is list:
            return tuple(self.decode(x, depth + 1) for x in v["$tuple"])
        if "$dict" in v and type(v["$dict"]) is list:
            out = {}
            for pair in v["$dict"]:
                if not (type(pair) is list and len(pair) == 2 and type(pair[0]) is str):
                    raise ProtocolError("malformed dict")
                out[pair[0]] = self.decode(pair[1], depth + 1)
            return out
        if "$float" in v and v["$float"] in ("nan", "inf", "-inf"):
            return float(v["$float"])
        if "$dtype" in v and v["$dtype"] in DTYPES:
            return getattr(torch, v["$dtype"])
        if "$device" in v and type(v["$device"]) is str:
            return torch.device(v["$device"]) if self.resolve else v["$device"]
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


def unpack(obj, blob, resolve=None, place=None):
    """Decode one value (worker side) or, given a message envelope (a JSON
    object of fields, as ``pack`` makes), each of its fields."""
    dec = Decoder(blob, resolve, place)
    if resolve is None:
        if type(obj) is not dict:
            raise ProtocolError("a message must be a JSON object")
        return {str(k): dec.decode(v) for k, v in obj.items()}
    return dec.decode(obj)
