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

This module imports torch lazily so that importing it stays cheap.
"""
from __future__ import annotations

import ctypes
import math

from grader.wire.message import (  # noqa: F401  (re-exported: the message's records and frames)
    HEADER,
    JOIN_LIMIT,
    MAX_BLOB,
    MAX_JSON,
    Call,
    Handle,
    ProtocolError,
    Ref,
    TensorMeta,
    meta,
    recv,
    send,
)
from grader.wire.sizes import MAX_TEXT, clip

_string_at = ctypes.string_at
_memmove = ctypes.memmove

DTYPES = (
    "float16", "bfloat16", "float32", "float64", "complex64", "complex128",
    "uint8", "int8", "int16", "int32", "int64", "bool",
)


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

    def encode(self, v, depth: int = 0):  # noqa: C901 (one branch per wire type; a tag-to-handler table is still to come)
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
        if isinstance(v, float) and not isinstance(v, _Tensor):  # numpy.float64 is a float: send its value
            f = float.__float__(v)  # the value itself, whatever the subclass overrides
            return f if math.isfinite(f) else {"$float": repr(f)}
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

    def decode(self, v, depth: int = 0):  # noqa: C901 (one branch per wire type; a tag-to-handler table is still to come)
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
