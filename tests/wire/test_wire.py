"""The wire format: what comes back from a worker is plain data, checked strictly."""

import ctypes
import json
import socket
import struct
import threading

import pytest
import torch

from grader.wire import codec, message


def roundtrip(value):
    body, blobs = codec.pack({"v": value})
    return codec.unpack(json.loads(json.dumps(body)), bytearray(b"".join(blobs)))["v"]


@pytest.mark.parametrize("dtype", [getattr(torch, name) for name in codec.DTYPES])
def test_tensors_of_every_dtype_round_trip(dtype):
    t = (torch.randn(3, 4) * 10).to(dtype)
    got = roundtrip(t)
    assert got.dtype == dtype and got.shape == t.shape and torch.equal(got, t)
    for odd in (t.t(), t[:, ::2], t[0, 1], t[:0], t.expand(2, 3, 4)):  # views, 0-dim, empty, stride 0
        got = roundtrip(odd)
        assert got.dtype == dtype and got.shape == odd.shape and torch.equal(got, odd) and got.is_contiguous()


def test_lazy_conjugate_and_negative_views_are_resolved():
    z = torch.tensor([1 + 2j, -3 - 4j], dtype=torch.complex64)
    for t in (z.conj(), torch._neg_view(z), z.conj().imag, torch.randn(3, 2).t()):
        assert torch.equal(roundtrip(t), t.resolve_conj().resolve_neg())


def test_decoded_tensors_own_their_memory():
    x = torch.randn(3, requires_grad=True)
    body, blobs = codec.pack({"v": [x * 2, torch.tensor(5), torch.arange(4)]})
    blob = bytearray(b"".join(blobs))
    got = codec.unpack(json.loads(json.dumps(body)), blob)["v"]
    start = (ctypes.c_char * len(blob)).from_buffer(blob)
    lo = ctypes.addressof(start)
    for t in got:
        assert not lo <= t.data_ptr() < lo + len(blob) and t._base is None
        t.detach_()  # as after a real backward; a view of the message would refuse it
    del start
    blob[:] = bytes(len(blob))  # the message's buffer is reused: the tensors keep their values
    assert torch.equal(got[0], (x * 2).detach()) and got[1].item() == 5 and got[2].tolist() == [0, 1, 2, 3]
    assert got[1].shape == () and codec.unpack(body, bytes(b"".join(blobs)))["v"][1].item() == 5  # bytes, too


def test_metadata_defaults_and_parameters():
    lin = torch.nn.Linear(2, 3)
    plain, param, out = roundtrip([torch.ones(2), lin.weight, lin(torch.ones(2))])
    m = codec.meta(plain)
    assert (m.device, m.requires_grad, m.grad_fn, m.is_leaf, m.parameter) == ("cpu", False, None, True, False)
    m = codec.meta(param)
    assert m.parameter and m.requires_grad and m.is_leaf and m.grad_fn is None
    m = codec.meta(out)
    assert m.requires_grad and not m.is_leaf and m.grad_fn.endswith("Backward0") and not m.parameter


def test_other_layouts_and_dtypes():
    s = torch.eye(3).to_sparse()
    assert torch.equal(roundtrip(s), torch.eye(3))
    body, blobs = codec.pack({"v": torch.zeros(2, dtype=torch.float8_e4m3fn)})
    with pytest.raises(codec.ProtocolError):  # sent as it is called, refused by name
        codec.unpack(body, bytearray(b"".join(blobs)))


def test_views_empty_and_nested_values_round_trip():
    t = torch.arange(12.0).reshape(3, 4).t()[1:]  # a non-contiguous view of a larger storage
    value = {"a": (t, [torch.empty(0, 5), 1, 2.5, float("nan"), None, "s", True])}
    got = roundtrip(value)
    assert torch.equal(got["a"][0], t) and got["a"][1][0].shape == (0, 5)
    assert got["a"][1][1:3] == [1, 2.5] and got["a"][1][3] != got["a"][1][3]


def test_meta_tensors_carry_no_data_and_stay_on_meta():
    got = roundtrip(torch.empty(1 << 20, 1 << 20, device="meta"))  # 4 TiB, were it real
    assert got.device.type == "meta" and got.shape == (1 << 20, 1 << 20) and codec.meta(got).device == "meta"
    body, _ = codec.pack({"v": torch.empty(2, 3, device="meta")})
    body["v"]["$tensor"] = [0, 24]  # a meta tensor that claims bytes is refused
    with pytest.raises(codec.ProtocolError):
        codec.unpack(body, bytearray(24))


def test_tensor_metadata_comes_along():
    x = torch.randn(2, requires_grad=True)
    y = roundtrip(x * 2)
    m = codec.meta(y)
    assert m.requires_grad and m.grad_fn == "MulBackward0" and m.device == "cpu" and not m.parameter
    assert not y.requires_grad  # the grader's copy is plain data


def _tensor_record(**over):
    rec = {"$tensor": [0, 8], "dtype": "float32", "shape": [2], "meta": {}}
    rec.update(over)
    return {"v": rec}


@pytest.mark.parametrize(
    "record,blob",
    [
        (_tensor_record(dtype="object"), b"\0" * 8),  # unknown dtype
        (_tensor_record(shape=[3]), b"\0" * 8),  # size does not match shape
        (_tensor_record(), b"\0" * 4),  # bytes out of range
        (_tensor_record(shape=[-2]), b"\0" * 8),  # negative size
        (_tensor_record(shape=[True, 2]), b"\0" * 8),  # not an integer
        (_tensor_record(shape=(2,)), b"\0" * 8),  # not a list
        (_tensor_record(shape=[1] * 17), b"\0" * 4),  # too many dimensions
        (_tensor_record(shape=[]), b"\0" * 8),  # 0-dim: one element, 4 bytes
        (_tensor_record(shape=[0]), b"\0" * 8),  # empty, but bytes claimed
        (_tensor_record(dtype=["float32"]), b"\0" * 8),  # unhashable dtype
        (_tensor_record(dtype="Tensor"), b"\0" * 8),  # a torch name that is not a dtype
        ({"v": {"$tensor": [4, 8], "dtype": "float32", "shape": [2]}}, b"\0" * 8),  # runs past the end
        ({"v": {"$tensor": [-4, 8], "dtype": "float32", "shape": [2]}}, b"\0" * 8),  # negative offset
        ({"v": {"$tensor": [0, 8.0], "dtype": "float32", "shape": [2]}}, b"\0" * 8),  # not an integer
        ({"v": {"$tensor": [0], "dtype": "float32", "shape": [2]}}, b"\0" * 8),  # malformed
        (_tensor_record(meta=[1]), b"\0" * 8),  # metadata not an object
        ({"v": {"$pickle": "gASVAAAAAAAAAACMBXBvc2l4lIwGc3lzdGVtlJOUjAJpZJSFlFKULg=="}}, b""),  # unknown tag
        ({"v": {"$dict": [[1, 2]]}}, b""),  # non-string key
        ("not an envelope", b""),
    ],
)
def test_malformed_messages_are_rejected(record, blob):
    with pytest.raises(codec.ProtocolError):
        codec.unpack(record, bytearray(blob))


def test_objects_are_never_decoded_into_live_objects():
    handle = codec.unpack({"v": {"$handle": 3, "type": "builtins.Evil"}}, bytearray())["v"]
    assert isinstance(handle, codec.Handle) and handle.type == "builtins.Evil"
    # a $ref is only meaningful inside the worker; the grader refuses it
    with pytest.raises(codec.ProtocolError):
        codec.unpack({"v": {"$ref": ["torch", "load"]}}, bytearray())


def test_an_int_too_large_for_json_arrives_as_a_float():
    body, blobs = codec.pack({"v": 2**70, "w": -(2**64), "x": float("-inf")})
    assert codec.unpack(body, bytearray(b"".join(blobs))) == {"v": float(2**70), "w": -float(2**64), "x": float("-inf")}
    with pytest.raises(codec.ProtocolError):
        codec.unpack({"v": {"$float": "not a number"}}, bytearray())


def test_calls_are_made_by_the_worker_and_refused_by_the_grader():
    body, blobs = codec.pack({"v": codec.Call(codec.Ref("torch", "full"), [2], 1.5, dtype=torch.float64)})
    assert body["v"]["$call"][0] == {"$ref": ["torch", "full"]}
    resolve = lambda v: torch if v["$ref"] == ["torch"] else getattr(torch, v["$ref"][-1])  # noqa: E731
    made = codec.unpack(body["v"], bytearray(b"".join(blobs)), resolve, lambda t, m: t)
    assert torch.equal(made, torch.full([2], 1.5, dtype=torch.float64))
    with pytest.raises(codec.ProtocolError):  # a worker cannot make the grader call anything
        codec.unpack(body, bytearray(b"".join(blobs)))


def test_oversized_frames_are_refused_before_reading():
    a, b = socket.socketpair()
    a.sendall(codec.HEADER.pack(codec.MAX_JSON + 1, 0))
    with pytest.raises(codec.ProtocolError):
        codec.recv(b)
    a.close(), b.close()


def test_a_truncated_frame_is_end_of_file():
    a, b = socket.socketpair()
    a.sendall(struct.pack("!IQ", 100, 0) + b"{")
    a.close()
    with pytest.raises(EOFError):
        codec.recv(b)


def _frame(body: bytes, blob: bytes = b"", n_json=None, n_blob=None) -> bytes:
    return (
        struct.pack("!IQ", len(body) if n_json is None else n_json, len(blob) if n_blob is None else n_blob)
        + body
        + blob
    )


def test_frames_are_read_one_at_a_time():
    a, b = socket.socketpair()
    small = {"v": [torch.arange(6.0).reshape(2, 3), 7]}
    large = {"v": torch.randn(600, 600)}  # over JOIN_LIMIT: sent and read in parts
    sender = threading.Thread(target=lambda: [codec.send(a, *codec.pack(m)) for m in (small, large, small)])
    sender.start()
    got = [codec.unpack(*codec.recv(b)) for _ in range(3)]  # back to back: nothing of the next is read
    sender.join()
    assert torch.equal(got[0]["v"][0], small["v"][0]) and got[0]["v"][1] == 7
    assert torch.equal(got[1]["v"], large["v"]) and torch.equal(got[2]["v"][0], small["v"][0])
    a.sendall(_frame(b'{"x":1}') + _frame(b'{"y":2}', b"ab"))
    assert codec.recv(b) == ({"x": 1}, bytearray()) and codec.recv(b) == ({"y": 2}, bytearray(b"ab"))
    a.close(), b.close()


@pytest.mark.parametrize(
    "data",
    [
        b"",  # nothing at all
        b"\0\0\0",  # part of a header
        _frame(b'{"v":1}', b"abcd")[:-1],  # the blob cut short
        _frame(b'{"v":1}', n_blob=10_000),  # a header that claims more than comes
        _frame(b'{"v":1}', n_json=50),  # JSON shorter than claimed
    ],
)
def test_truncated_or_lying_frames_are_end_of_file(data):
    a, b = socket.socketpair()
    a.sendall(data)
    a.close()
    with pytest.raises(EOFError):
        codec.recv(b)
    b.close()


@pytest.mark.parametrize(
    "data",
    [
        _frame(b'{"v":'),  # malformed JSON
        _frame(b"\xff\xfe{}"),  # not UTF-8
        _frame(b'{"v":1}', n_blob=codec.MAX_BLOB + 1),  # too large, refused before reading (nothing follows)
        _frame(b"[]" * (codec.JOIN_LIMIT // 2), n_blob=10),  # a large frame's JSON is checked before its blob
    ],
)
def test_malformed_frames_are_refused(data):
    a, b = socket.socketpair()
    b.settimeout(10)
    sender = threading.Thread(target=a.sendall, args=(data,))
    sender.start()
    with pytest.raises(codec.ProtocolError):
        codec.recv(b)
    b.close(), sender.join(), a.close()


@pytest.mark.parametrize(
    "body",
    [
        b'{"v":NaN}',
        b'{"v":Infinity}',
        b'{"v":-Infinity}',  # not JSON
        b'{"v":1e400}',  # overflows a double
        b'{"v":9223372036854775808}',  # ints outside (-2**63, 2**63): an Encoder never sends them
        b'{"v":-9223372036854775808}',
        b'{"v":184467440737095516160}',  # (orjson alone would make these floats)
        b'{"v":"\xed\xa0\x80"}',  # a surrogate in UTF-8
        b'{"v":"\\ud800"}',  # a lone surrogate, escaped
        b'\xef\xbb\xbf{"v":1}',  # a byte order mark
        b'{"v":1} {}',
        b'{"v":"a\x01"}',
        b"",  # trailing data, a control character, nothing
        b"[" * 5000 + b"]" * 5000,  # nested too deeply for any parser
    ],
)
def test_malformed_json_is_refused(body):
    a, b = socket.socketpair()
    a.sendall(_frame(body))
    with pytest.raises(codec.ProtocolError):
        codec.recv(b)
    a.close(), b.close()


def test_long_numbers_in_range_and_digits_in_strings_are_kept():
    a, b = socket.socketpair()
    body = b'{"v":[9223372036854775807,-9223372036854775807,"12345678901234567890123",1.2345678901234567e+300]}'
    a.sendall(_frame(body))
    assert codec.recv(b)[0] == {"v": [2**63 - 1, -(2**63 - 1), "12345678901234567890123", 1.2345678901234567e300]}
    a.close(), b.close()


def test_sent_json_is_compact_and_never_carries_nan():
    a, b = socket.socketpair()
    value = [float("nan"), float("inf"), -float("inf"), 2**63, -(2**63), 2**63 - 1, 0.1, "é", (1, {"k": None})]
    codec.send(a, *codec.pack({"v": value}))
    head = b.recv(codec.HEADER.size, socket.MSG_WAITALL)
    body = b.recv(codec.HEADER.unpack(head)[0], socket.MSG_WAITALL)
    assert json.loads(body) == json.loads(
        json.dumps(codec.pack({"v": value})[0], separators=(",", ":"), allow_nan=False)
    )
    assert b" " not in body and b"NaN" not in body and b"Infinity" not in body and b"null,{" not in body
    a.close(), b.close()
    got = roundtrip(value[:3] + value[5:])
    assert str(got[:3]) == "[nan, inf, -inf]" and got[3:] == [2**63 - 1, 0.1, "é", (1, {"k": None})]


def test_what_the_serializer_would_bend_is_refused_or_replaced():
    a, b = socket.socketpair()
    with pytest.raises(codec.ProtocolError):
        codec.send(a, *codec.pack({1: "a field named by an int"}))
    with pytest.raises(codec.ProtocolError):
        codec.pack({"v": codec.Ref("torch", float("nan"))})
    with pytest.raises(ValueError):  # a NaN the Encoder did not see is refused, never sent as null
        message._encode_json({"v": float("nan"), "s": "\ud800"})
    codec.send(a, *codec.pack({"v": "lone \ud800 surrogate"}))  # no strict reader takes one: replaced
    assert codec.unpack(*codec.recv(b))["v"] == "lone ? surrogate"
    a.close(), b.close()


def test_a_timeout_while_waiting_is_raised():
    a, b = socket.socketpair()
    b.settimeout(0.05)
    a.sendall(_frame(b'{"v":1}', b"ab")[:-1])  # the last byte never comes
    with pytest.raises(socket.timeout):
        codec.recv(b)
    a.close(), b.close()
