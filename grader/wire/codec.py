"""The plain-data wire format between the grader and a student worker: what a
message holds and how values become it and come back.

A message is a JSON object plus a blob holding the raw bytes of every tensor
in it, sent as one frame. ``grader.wire.message`` holds the frames
(``send``, ``recv``, ``ProtocolError``, the size caps) and the records the
tags below stand for (``Handle``, ``Ref``, ``Call``, ``TensorMeta``), all
re-exported here; this module turns values into messages and back.

Nothing is ever pickled: the grader decodes only the tags below, checks every length, shape
and dtype, and builds fresh tensors from bytes, so whatever runs in the worker
can only ever hand back numbers, never objects or code. On the grader's side
every string is kept to ``sizes.MAX_TEXT`` characters (names, messages, reprs:
whatever the worker sends).

Tags inside the JSON (everything else is plain JSON):
  {"$tensor": [offset, nbytes], "dtype": ..., "shape": [...], "meta": {...}}
                                              (meta: what differs from TensorMeta's defaults)
  {"$tuple": [...]}, {"$dict": [[key, value], ...]}
  {"$handle": id, "type": "module.Name"}      an object kept in the worker
  {"$ref": [...]}                             a name the worker resolves
  {"$call": [fn, args, kwargs]}               a call the worker makes as it reads the request
  {"$dtype": "float32"}, {"$device": "cpu"}, {"$float": "nan"|"inf"|"-inf"|"1e+20"} (an int too large for JSON)

Each side is a table: the encoder's maps a value's exact type to the function that writes
it (``_ENCODERS``; a subclass, a float of another kind or an object the worker keeps is
``Encoder._other``'s), the decoder's lists the tags in the order they are tried and the
function that reads each (``_TAGS``).  A new wire type is one function and one row in each.

This module imports torch lazily so that importing it stays cheap.
"""

from __future__ import annotations

import ctypes
import math
from collections.abc import Callable
from typing import Any

from grader.wire.message import HEADER as HEADER  # re-exported: the message's records and frames
from grader.wire.message import JOIN_LIMIT as JOIN_LIMIT
from grader.wire.message import MAX_BLOB as MAX_BLOB
from grader.wire.message import MAX_JSON as MAX_JSON
from grader.wire.message import Call as Call
from grader.wire.message import Handle as Handle
from grader.wire.message import ProtocolError as ProtocolError
from grader.wire.message import Ref as Ref
from grader.wire.message import TensorMeta as TensorMeta
from grader.wire.message import meta as meta
from grader.wire.message import recv as recv
from grader.wire.message import send as send
from grader.wire.sizes import MAX_TEXT, clip

_string_at = ctypes.string_at
_memmove = ctypes.memmove

DTYPES = (
    "float16",
    "bfloat16",
    "float32",
    "float64",
    "complex64",
    "complex128",
    "uint8",
    "int8",
    "int16",
    "int32",
    "int64",
    "bool",
)

Json = Any  # a JSON value (what orjson writes and reads): None, bool, int, float, str, list, dict
Resolve = Callable[[dict[str, Json]], Any]  # worker side: a $handle or $ref record -> its object
Place = Callable[[Any, dict[str, Json]], Any]  # worker side: (tensor, its metadata) -> the tensor on its device


# --------------------------------------------------------------------------
# torch, imported on first use: the types the encoder dispatches on and, per
# dtype, its wire name and element size (tables, so that no tensor is made
# just to learn an element size)

_torch: Any = None
_strided: Any = None
_ENCODE: dict[Any, tuple[str, int]] = {}  # torch.dtype -> (name, element size)
_DECODE: dict[str, tuple[Any, int]] = {}  # name -> (torch.dtype, element size)


def _load_torch() -> None:
    global _torch, _strided
    import torch

    for name in DTYPES:
        dt = getattr(torch, name)
        size = torch.empty((), dtype=dt).element_size()
        _ENCODE[dt] = (name, size)
        _DECODE[name] = (dt, size)
    _ENCODERS[torch.Tensor] = _tensor
    _ENCODERS[torch.nn.Parameter] = _parameter
    _ENCODERS[torch.dtype] = _dtype
    _ENCODERS[torch.device] = _device
    _strided = torch.strided
    _torch = torch


# --------------------------------------------------------------------------
# encoding (both sides)


class Encoder:
    """Turns values into JSON plus blobs. ``keep`` is called for values that
    are not plain data and must return a Handle (the worker keeps them)."""

    def __init__(self, keep: Callable[[Any], Handle] | None = None):
        self.blobs: list[bytes] = []
        self.offset = 0
        self.keep = keep
        if _torch is None:
            _load_torch()

    def tensor(self, t: Any, extra: dict[str, Json] | None = None) -> dict[str, Json]:
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
        if (
            known is not None
            and t.is_cpu
            and t.layout is _strided
            and t.is_contiguous()
            and not t.is_conj()
            and not t.is_neg()
        ):
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
        rec: dict[str, Json] = {"$tensor": [self.offset, len(raw)], "dtype": name, "shape": shape}
        if m:
            rec["meta"] = m
        self.blobs.append(raw)
        self.offset += len(raw)
        return rec

    @staticmethod
    def _other_tensor(t: Any) -> tuple[str, list[int], bytes, str]:
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

    def encode(self, v: Any, depth: int = 0) -> Json:
        if depth > 20:
            raise ProtocolError("value nested too deeply")
        handler = _ENCODERS.get(type(v))  # by exact type: a subclass is not taken for its base
        if handler is None:
            return self._other(v, depth)
        return handler(self, v, depth)

    def _other(self, v: Any, depth: int) -> Json:
        """A value of no type of the table: a subclass of the records, a float of another
        kind (numpy.float64), or an object the worker keeps (else refused)."""
        if isinstance(v, Handle):
            return _handle(self, v, depth)
        if isinstance(v, Ref):
            return _ref(self, v, depth)
        if isinstance(v, Call):
            return _call(self, v, depth)
        if isinstance(v, float) and not isinstance(v, _torch.Tensor):  # numpy.float64 is a float: its value
            return _float(self, float.__float__(v), depth)  # the value itself, whatever the subclass overrides
        if self.keep is not None:
            return _handle(self, self.keep(v), depth)
        raise ProtocolError(f"cannot send a {type(v).__name__}")


# One function per wire type, called with (encoder, value, depth): the value's JSON.


def _same(enc: Encoder, v: Any, depth: int) -> Json:  # None, str, bool: JSON as they are
    return v


def _int(enc: Encoder, v: int, depth: int) -> Json:  # an int too large for JSON goes as a float
    return v if -(2**63) < v < 2**63 else {"$float": repr(float(v))}


def _float(enc: Encoder, v: float, depth: int) -> Json:
    return v if math.isfinite(v) else {"$float": repr(v)}


def _list(enc: Encoder, v: list[Any], depth: int) -> Json:
    return [enc.encode(x, depth + 1) for x in v]


def _tuple(enc: Encoder, v: tuple[Any, ...], depth: int) -> Json:
    return {"$tuple": [enc.encode(x, depth + 1) for x in v]}


def _dict(enc: Encoder, v: dict[Any, Any], depth: int) -> Json:
    if not all(type(k) is str for k in v):  # keys other than strings: not plain data
        return enc._other(v, depth)
    return {"$dict": [[k, enc.encode(x, depth + 1)] for k, x in v.items()]}


def _tensor(enc: Encoder, v: Any, depth: int) -> Json:
    return enc.tensor(v)


def _parameter(enc: Encoder, v: Any, depth: int) -> Json:
    return enc.tensor(v, {"parameter": True})


def _dtype(enc: Encoder, v: Any, depth: int) -> Json:
    return {"$dtype": str(v).replace("torch.", "")}


def _device(enc: Encoder, v: Any, depth: int) -> Json:
    return {"$device": str(v)}


def _handle(enc: Encoder, v: Handle, depth: int) -> Json:
    return {"$handle": v.id, "type": v.type}


def _ref(enc: Encoder, v: Ref, depth: int) -> Json:
    for p in v.parts:  # names and handle ids only: nothing the serializer could bend
        if type(p) is not str and type(p) is not int:
            raise ProtocolError(f"a reference is made of names and ids, not {type(p).__name__}")
    return {"$ref": list(v.parts)}


def _call(enc: Encoder, v: Call, depth: int) -> Json:
    return {"$call": [enc.encode(v.fn, depth + 1), enc.encode(v.args, depth + 1), enc.encode(v.kwargs, depth + 1)]}


# exact type -> its wire form (torch's types are added as torch is loaded)
_ENCODERS: dict[type[Any], Callable[[Encoder, Any, int], Json]] = {
    type(None): _same,
    str: _same,
    bool: _same,
    int: _int,
    float: _float,
    list: _list,
    tuple: _tuple,
    dict: _dict,
    Handle: _handle,
    Ref: _ref,
    Call: _call,
}


def pack(obj: dict[str, Any], keep: Callable[[Any], Handle] | None = None) -> tuple[dict[str, Json], list[bytes]]:
    """Encode ``obj`` (a dict whose values may hold tensors) → (json, blobs)."""
    enc = Encoder(keep)
    return {k: enc.encode(v) for k, v in obj.items()}, enc.blobs


# --------------------------------------------------------------------------
# decoding (strict on the grader's side)


class Decoder:
    def __init__(self, blob: bytes | bytearray, resolve: Resolve | None = None, place: Place | None = None):
        if type(blob) is not bytearray:
            blob = bytearray(blob)
        self.blob = blob
        self.base: int | None = None  # the blob's address, once a tensor needs it
        # what holds the blob still (not resized or freed) while its address is used
        self._anchor: ctypes.c_char | None = None
        self.resolve = resolve  # worker side: turns $handle / $ref into objects
        self.place = place  # worker side: moves tensors to their device
        self.metas = 0  # meta tensors decoded
        if _torch is None:
            _load_torch()

    def tensor(self, d: dict[str, Json]) -> Any:
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

    def decode(self, v: Json, depth: int = 0) -> Any:
        if depth > 40:
            raise ProtocolError("value nested too deeply")
        tv = type(v)
        if tv is dict:
            return self._tagged(v, depth)
        if tv is list:
            return [self.decode(x, depth + 1) for x in v]
        if tv is str:  # on the grader's side, a string from the worker is kept to MAX_TEXT characters
            return v if len(v) <= MAX_TEXT or self.resolve is not None else clip(v)
        if v is None or tv is int or tv is float or tv is bool:
            return v
        raise ProtocolError(f"unexpected value of type {tv.__name__}")

    def _tagged(self, v: dict[str, Json], depth: int) -> Any:
        """A JSON object: a tensor, or the first tag of ``_TAGS`` it holds in the form that tag takes."""
        if "$tensor" in v:
            return self.tensor(v)
        if not v:
            raise ProtocolError("unexpected value of type dict")
        for tag, handler in _TAGS:
            if tag in v:
                got = handler(self, v, depth)
                if got is not _NOT_THIS:
                    return got
        raise ProtocolError("unknown tag in message")


# One function per tag, called with (decoder, the JSON object, depth): the value, or
# _NOT_THIS when the object does not hold the tag in its form (the next tag is tried).

_NOT_THIS: Any = object()


def _to_tuple(dec: Decoder, v: dict[str, Json], depth: int) -> Any:
    items = v["$tuple"]
    if type(items) is not list:
        return _NOT_THIS
    return tuple(dec.decode(x, depth + 1) for x in items)


def _to_dict(dec: Decoder, v: dict[str, Json], depth: int) -> Any:
    pairs = v["$dict"]
    if type(pairs) is not list:
        return _NOT_THIS
    out = {}
    for pair in pairs:
        if not (type(pair) is list and len(pair) == 2 and type(pair[0]) is str):
            raise ProtocolError("malformed dict")
        out[dec.decode(pair[0]) if len(pair[0]) > MAX_TEXT else pair[0]] = dec.decode(pair[1], depth + 1)
    return out


def _to_float(dec: Decoder, v: dict[str, Json], depth: int) -> Any:
    text = v["$float"]
    if type(text) is str and len(text) <= 32:
        try:
            return float(text)
        except ValueError:
            pass
    return _NOT_THIS


def _to_dtype(dec: Decoder, v: dict[str, Json], depth: int) -> Any:
    name = v["$dtype"]
    return getattr(_torch, name) if name in DTYPES else _NOT_THIS


def _to_device(dec: Decoder, v: dict[str, Json], depth: int) -> Any:
    name = v["$device"]
    if type(name) is not str:
        return _NOT_THIS
    return _torch.device(name) if dec.resolve else name


def _to_handle(dec: Decoder, v: dict[str, Json], depth: int) -> Any:
    if type(v["$handle"]) is not int:
        return _NOT_THIS
    if dec.resolve is not None:
        return dec.resolve(v)
    return Handle(v["$handle"], str(v.get("type", "object"))[:200])


def _to_ref(dec: Decoder, v: dict[str, Json], depth: int) -> Any:  # worker side only
    return _NOT_THIS if dec.resolve is None else dec.resolve(v)


def _to_call(dec: Decoder, v: dict[str, Json], depth: int) -> Any:  # worker side only: the grader refuses it
    parts = v["$call"]
    if dec.resolve is None or type(parts) is not list or len(parts) != 3:
        return _NOT_THIS
    fn, args, kwargs = (dec.decode(x, depth + 1) for x in parts)
    return fn(*args, **kwargs)


# the tags in the order they are tried (an object holding several is read as the first that fits)
_TAGS: tuple[tuple[str, Callable[[Decoder, dict[str, Json], int], Any]], ...] = (
    ("$tuple", _to_tuple),
    ("$dict", _to_dict),
    ("$float", _to_float),
    ("$dtype", _to_dtype),
    ("$device", _to_device),
    ("$handle", _to_handle),
    ("$ref", _to_ref),
    ("$call", _to_call),
)


def unpack(
    obj: Json,
    blob: bytes | bytearray,
    resolve: Resolve | None = None,
    place: Place | None = None,
    decoders: list[Decoder] | None = None,
) -> Any:
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
