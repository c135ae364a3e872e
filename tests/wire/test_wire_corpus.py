"""The wire format byte for byte: a corpus of values of every wire type, encoded, and of
messages (well formed and not), decoded on both sides, compared with what the codec made
when the corpus was recorded (wire_corpus.json).  A change to the codec's code that changes
one byte a worker or the grader sends, or how one message is read, fails here.

Recorded with ``python tests/wire/test_wire_corpus.py > tests/wire/wire_corpus.json``,
to be rerun only for a deliberate change of the wire format."""

from __future__ import annotations

import enum
import hashlib
import json
import math
import sys
from pathlib import Path

import torch

from grader.wire import codec, message

HERE = Path(__file__).resolve().parent


class _Float(float):
    """A float subclass whose own __float__ lies: the value itself is sent."""

    def __float__(self):
        return 99.0


class _Colour(enum.IntEnum):
    RED = 1


class _Thing:
    pass


def _kept(v):
    return codec.Handle(7, f"kept.{type(v).__name__}")


def _nested(depth: int):
    v: object = 1
    for _ in range(depth):
        v = [v]
    return v


def _grad_tensor():
    x = torch.arange(3.0, requires_grad=True)
    return x * 2


def _lin_weight():
    torch.manual_seed(0)
    return torch.nn.Linear(2, 2).weight


# name -> (value maker, keep)
ENCODE_CASES = {
    "none": (lambda: None, None),
    "bools": (lambda: [True, False], None),
    "ints": (lambda: [0, -5, 2**63 - 1, -(2**63) + 1], None),
    "int_too_large": (lambda: [2**63, -(2**63), 10**30], None),
    "floats": (lambda: [1.5, -0.0, 1e308, 5e-324], None),
    "non_finite": (lambda: [math.nan, math.inf, -math.inf], None),
    "strings": (lambda: ["", "s", "é☃\U0001f600", "\ud800 lone"], None),
    "lists": (lambda: [[], [1, [2, [3]]]], None),
    "tuples": (lambda: [(), (1, "a"), ((),)], None),
    "dicts": (lambda: [{}, {"a": 1, "b": {"c": (1,)}}], None),
    "dict_int_keys": (lambda: {1: 2}, None),
    "dict_int_keys_kept": (lambda: {1: 2}, _kept),
    "tensor_f32": (lambda: torch.arange(6.0).reshape(2, 3), None),
    "tensor_every_dtype": (lambda: [torch.arange(4).to(getattr(torch, n)) for n in codec.DTYPES], None),
    "tensor_scalar_empty": (lambda: [torch.tensor(5), torch.empty(0, 3)], None),
    "tensor_view": (lambda: torch.arange(12.0).reshape(3, 4).t()[1:], None),
    "tensor_conj_neg": (
        lambda: [torch.tensor([1 + 2j, -3 - 4j]).conj(), torch._neg_view(torch.tensor([1 + 2j]))],
        None,
    ),
    "tensor_requires_grad": (lambda: [torch.ones(2, requires_grad=True), _grad_tensor()], None),
    "tensor_parameter": (_lin_weight, None),
    "tensor_meta": (lambda: torch.empty(2, 3, device="meta"), None),
    "tensor_sparse": (lambda: torch.eye(2).to_sparse(), None),
    "tensor_float8": (lambda: torch.zeros(2, dtype=torch.float8_e4m3fn), None),
    "dtype_device": (lambda: [torch.float32, torch.bfloat16, torch.device("cpu"), torch.device("cuda", 1)], None),
    "handle": (lambda: codec.Handle(3, "x.Y"), None),
    "refs": (lambda: [codec.Ref("student", "f"), codec.Ref("handle", 3, "forward")], None),
    "ref_bad_part": (lambda: codec.Ref("student", 1.5), None),
    "call": (lambda: codec.Call(codec.Ref("torch", "zeros"), 3, (2,), dtype=torch.float32), None),
    "float_subclass": (lambda: [_Float(1.25), _Float(math.nan)], None),
    "int_subclass": (lambda: _Colour.RED, None),
    "int_subclass_kept": (lambda: _Colour.RED, _kept),
    "object": (lambda: _Thing(), None),
    "object_kept": (lambda: [_Thing(), {"o": _Thing()}], _kept),
    "depth_20": (lambda: _nested(20), None),
    "depth_21": (lambda: _nested(21), None),
    "set": (lambda: {1}, None),
}


def _error(e: Exception) -> str:
    return f"{type(e).__name__}: {e}"


def encoded(name: str) -> dict:
    make, keep = ENCODE_CASES[name]
    try:
        body, blobs = codec.pack({"v": make()}, keep)
        data = message._encode_json(body)
    except codec.ProtocolError as e:
        return {"error": _error(e)}
    blob = b"".join(blobs)
    return {
        "json": data.decode("utf-8"),
        "blob": blob.hex() if len(blob) <= 64 else hashlib.sha256(blob).hexdigest(),
        "parts": [len(b) for b in blobs],
    }


# -------------------------------------------------------------------------- decoding

F32 = bytes(range(8))  # the blob of the decode cases: two float32s (or anything of 8 bytes)


def _rec(**over):
    rec = {"$tensor": [0, 8], "dtype": "float32", "shape": [2]}
    rec.update(over)
    return rec


# name -> message (a JSON value, decoded as one field's value)
DECODE_CASES = {
    "plain": [None, True, 1, -2.5, "s", [1, [2]]],
    "long_string": "x" * 2500,
    "long_key": {"$dict": [["k" * 2500, 1]]},
    "tensor": _rec(),
    "tensor_meta": _rec(meta={"requires_grad": True, "grad_fn": "MulBackward0", "is_leaf": False}),
    "tensor_meta_device": {"$tensor": [0, 0], "dtype": "float32", "shape": [2, 3], "meta": {"device": "meta"}},
    "tensor_meta_bytes": {"$tensor": [0, 8], "dtype": "float32", "shape": [2], "meta": {"device": "meta"}},
    "tensor_meta_huge": {"$tensor": [0, 0], "dtype": "float64", "shape": [2**39, 2**39], "meta": {"device": "meta"}},
    "tensor_empty": _rec(**{"$tensor": [8, 0], "shape": [0, 4]}),
    "tensor_bad_dtype": _rec(dtype="object"),
    "tensor_bad_shape": _rec(shape=[3]),
    "tensor_shape_bool": _rec(shape=[True, 2]),
    "tensor_shape_17": _rec(shape=[1] * 17),
    "tensor_out_of_range": _rec(**{"$tensor": [4, 8]}),
    "tensor_malformed": {"$tensor": [0], "dtype": "float32", "shape": [2]},
    "tensor_no_dtype": {"$tensor": [0, 8], "shape": [2]},
    "tensor_bad_meta": _rec(meta=[1]),
    "tensor_with_tuple": dict(_rec(), **{"$tuple": [1]}),
    "tuple": {"$tuple": [1, {"$tuple": []}]},
    "tuple_not_list": {"$tuple": 5},
    "tuple_not_list_dict": {"$tuple": 5, "$dict": [["a", 1]]},
    "dict": {"$dict": [["a", 1], ["b", {"$tuple": [2]}]]},
    "dict_bad_pair": {"$dict": [["a", 1, 2]]},
    "dict_int_key": {"$dict": [[1, 2]]},
    "dict_and_float": {"$dict": "no", "$float": "inf"},
    "floats": [{"$float": "nan"}, {"$float": "-inf"}, {"$float": "1e+20"}],
    "float_bad": {"$float": "abc"},
    "float_bad_then_dtype": {"$float": "abc", "$dtype": "float32"},
    "float_too_long": {"$float": "1" * 40},
    "float_not_str": {"$float": 1.5},
    "dtype": [{"$dtype": "float32"}, {"$dtype": "bool"}],
    "dtype_unknown": {"$dtype": "float99"},
    "dtype_list": {"$dtype": ["float32"]},
    "device": {"$device": "cuda:1"},
    "device_not_str": {"$device": 1},
    "handle": {"$handle": 3, "type": "builtins.Evil"},
    "handle_no_type": {"$handle": 4},
    "handle_long_type": {"$handle": 5, "type": "t" * 300},
    "handle_type_int": {"$handle": 5, "type": 12},
    "handle_str_id": {"$handle": "3"},
    "ref": {"$ref": ["student", "f"]},
    "call": {"$call": [{"$ref": ["torch", "zeros"]}, [3], {"$dict": [["k", 1]]}]},
    "call_short": {"$call": [{"$ref": ["torch", "zeros"]}, [3]]},
    "empty_object": {},
    "unknown_tag": {"$pickle": "gASV"},
    "unknown_field": {"foo": 1},
    "depth_40": _nested(40),
    "depth_41": _nested(41),
    "deep_tuples": json.loads('{"$tuple": [' * 21 + "1" + "]}" * 21),
}


class _Resolved:
    """What the worker's resolver makes of a $handle or $ref: callable, for $call."""

    def __init__(self, record):
        self.record = record

    def __call__(self, *args, **kwargs):
        return ("called", self.record, args, kwargs)


def _place(t, m):
    return ("placed", t, m)


def describe(v) -> object:
    """A decoded value as JSON: its Python types and values spelled out."""
    if isinstance(v, torch.Tensor):
        m = getattr(v, "_grader_meta", None)
        return {
            "tensor": str(v.dtype),
            "shape": list(v.shape),
            "device": v.device.type,
            "bytes": bytes(v.untyped_storage()).hex() if v.device.type != "meta" else None,
            "meta": None if m is None else {s: getattr(m, s) for s in type(m).__slots__},
        }
    if type(v) is tuple:
        return {"tuple": [describe(x) for x in v]}
    if type(v) is list:
        return [describe(x) for x in v]
    if type(v) is dict:
        return {"dict": [[describe(k), describe(x)] for k, x in v.items()]}
    if isinstance(v, codec.Handle):
        return {"Handle": [v.id, v.type]}
    if isinstance(v, _Resolved):
        return {"resolved": v.record}
    if isinstance(v, (torch.dtype, torch.device)):
        return {type(v).__name__: str(v)}
    if type(v) is float and not math.isfinite(v):
        return {"float": repr(v)}
    return v


def decoded(name: str, side: str) -> object:
    """One case decoded on the grader's side (``grader``), or the worker's (``worker``:
    with a resolver, and a placer for tensors)."""
    value = DECODE_CASES[name]
    blob = bytearray(F32)
    try:
        if side == "grader":
            got = codec.unpack({"v": value}, blob)["v"]
        else:
            got = codec.unpack(value, blob, resolve=_Resolved, place=_place)
    except codec.ProtocolError as e:
        return {"error": _error(e)}
    return describe(got)


def record() -> dict:
    return {
        "encode": {name: encoded(name) for name in ENCODE_CASES},
        "decode": {name: {side: decoded(name, side) for side in ("grader", "worker")} for name in DECODE_CASES},
    }


EXPECTED = (
    json.loads((HERE / "wire_corpus.json").read_text(encoding="utf-8"))
    if (HERE / "wire_corpus.json").exists()
    else {"encode": {}, "decode": {}}
)


def test_the_corpus_covers_every_wire_tag():
    recorded = json.dumps(EXPECTED)
    for tag in ("$tensor", "$tuple", "$dict", "$handle", "$ref", "$call", "$dtype", "$device", "$float", "meta"):
        assert f'\\"{tag}\\"' in recorded, tag
    assert set(EXPECTED["encode"]) == set(ENCODE_CASES) and set(EXPECTED["decode"]) == set(DECODE_CASES)


def test_every_value_is_encoded_byte_for_byte_as_recorded():
    got = {name: encoded(name) for name in ENCODE_CASES}
    assert got == EXPECTED["encode"]


def test_every_message_is_decoded_on_both_sides_as_recorded():
    got = {name: {side: decoded(name, side) for side in ("grader", "worker")} for name in DECODE_CASES}
    assert json.loads(json.dumps(got)) == EXPECTED["decode"]


if __name__ == "__main__":
    json.dump(record(), sys.stdout, indent=1, sort_keys=True, ensure_ascii=True)
    sys.stdout.write("\n")
