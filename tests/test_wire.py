"""The wire format: what comes back from a worker is plain data, checked strictly."""
import json
import socket
import struct

import pytest
import torch

from grader import wire


def roundtrip(value):
    body, blobs = wire.pack({"v": value})
    return wire.unpack(json.loads(json.dumps(body)), bytearray(b"".join(blobs)))["v"]


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32, torch.float64, torch.complex64,
                                   torch.int8, torch.uint8, torch.int32, torch.int64, torch.bool])
def test_tensors_of_every_dtype_round_trip(dtype):
    t = (torch.randn(3, 4) * 10).to(dtype)
    got = roundtrip(t)
    assert got.dtype == dtype and got.shape == t.shape and torch.equal(got, t)


def test_views_empty_and_nested_values_round_trip():
    t = torch.arange(12.0).reshape(3, 4).t()[1:]  # a non-contiguous view of a larger storage
    value = {"a": (t, [torch.empty(0, 5), 1, 2.5, float("nan"), None, "s", True])}
    got = roundtrip(value)
    assert torch.equal(got["a"][0], t) and got["a"][1][0].shape == (0, 5)
    assert got["a"][1][1:3] == [1, 2.5] and got["a"][1][3] != got["a"][1][3]


def test_meta_tensors_carry_no_data_and_stay_on_meta():
    got = roundtrip(torch.empty(1 << 20, 1 << 20, device="meta"))  # 4 TiB, were it real
    assert got.device.type == "meta" and got.shape == (1 << 20, 1 << 20) and wire.meta(got).device == "meta"
    body, _ = wire.pack({"v": torch.empty(2, 3, device="meta")})
    body["v"]["$tensor"] = [0, 24]  # a meta tensor that claims bytes is refused
    with pytest.raises(wire.ProtocolError):
        wire.unpack(body, bytearray(24))


def test_tensor_metadata_comes_along():
    x = torch.randn(2, requires_grad=True)
    y = roundtrip(x * 2)
    m = wire.meta(y)
    assert m.requires_grad and m.grad_fn == "MulBackward0" and m.device == "cpu" and not m.parameter
    assert not y.requires_grad  # the grader's copy is plain data


def _tensor_record(**over):
    rec = {"$tensor": [0, 8], "dtype": "float32", "shape": [2], "meta": {}}
    rec.update(over)
    return {"v": rec}


@pytest.mark.parametrize("record,blob", [
    (_tensor_record(dtype="object"), b"\0" * 8),                 # unknown dtype
    (_tensor_record(shape=[3]), b"\0" * 8),                      # size does not match shape
    (_tensor_record(), b"\0" * 4),                               # bytes out of range
    (_tensor_record(shape=[-2]), b"\0" * 8),                     # negative size
    ({"v": {"$pickle": "gASVAAAAAAAAAACMBXBvc2l4lIwGc3lzdGVtlJOUjAJpZJSFlFKULg=="}}, b""),  # unknown tag
    ({"v": {"$dict": [[1, 2]]}}, b""),                           # non-string key
    ("not an envelope", b""),
])
def test_malformed_messages_are_rejected(record, blob):
    with pytest.raises(wire.ProtocolError):
        wire.unpack(record, bytearray(blob))


def test_objects_are_never_decoded_into_live_objects():
    handle = wire.unpack({"v": {"$handle": 3, "type": "builtins.Evil"}}, bytearray())["v"]
    assert isinstance(handle, wire.Handle) and handle.type == "builtins.Evil"
    # a $ref is only meaningful inside the worker; the grader refuses it
    with pytest.raises(wire.ProtocolError):
        wire.unpack({"v": {"$ref": ["torch", "load"]}}, bytearray())


def test_calls_are_made_by_the_worker_and_refused_by_the_grader():
    body, blobs = wire.pack({"v": wire.Call(wire.Ref("torch", "full"), [2], 1.5, dtype=torch.float64)})
    assert body["v"]["$call"][0] == {"$ref": ["torch", "full"]}
    resolve = lambda v: torch if v["$ref"] == ["torch"] else getattr(torch, v["$ref"][-1])  # noqa: E731
    made = wire.unpack(body["v"], bytearray(b"".join(blobs)), resolve, lambda t, m: t)
    assert torch.equal(made, torch.full([2], 1.5, dtype=torch.float64))
    with pytest.raises(wire.ProtocolError):  # a worker cannot make the grader call anything
        wire.unpack(body, bytearray(b"".join(blobs)))


def test_oversized_frames_are_refused_before_reading():
    a, b = socket.socketpair()
    a.sendall(wire.HEADER.pack(wire.MAX_JSON + 1, 0))
    with pytest.raises(wire.ProtocolError):
        wire.recv(b)
    a.close(), b.close()


def test_a_truncated_frame_is_end_of_file():
    a, b = socket.socketpair()
    a.sendall(struct.pack("!IQ", 100, 0) + b"{")
    a.close()
    with pytest.raises(EOFError):
        wire.recv(b)
