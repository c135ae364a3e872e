"""Report quality: a visible test's reproducer, and the student's report as a browser shows it.

A reproducer must run as pasted in the student's folder and be faithful: with
the model answer in that folder it prints exactly the ``# expected:`` value it
shows.  Hidden tests never get one.
"""

from __future__ import annotations

import json
import os
import re
import struct
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import reference
from grader.exercises import lookup
from grader.feedback.records import TestResult
from grader.feedback.report import failure_groups, render
from grader.feedback.reproducers import reproducer
from grader.transport.limits import Limits
from grader.transport.student import Call, Handle, Ref, Student, StudentError
from grader.verdicts.checks import Failure, assert_close, assert_unchanged
from grader.verdicts.rules import Rules
from tests.conftest import CHROMIUM, ROOT, exercise_of, run_cli, screenshot

SOLUTIONS = ROOT / "solutions"
CORPUS = ROOT / "tests" / "corpus"
BUGGY_SOFTMAX = CORPUS / "exercise1" / "bug_no_max_subtraction.py"  # exp() overflows: nan at ±1000
FAR_APART = [[0.0, -1000.0, -1000.0], [1000.0, 0.0, -1000.0], [-1000.0, -1000.0, -1000.0]]


def run_scripts(folder: Path, codes) -> list:
    """Run each script as `python script.py` would in ``folder`` (one interpreter for all
    of them, to start torch once); returns what each printed, as plain tensors (no grad_fn=<...>)."""
    paths = []
    for k, code in enumerate(codes):
        paths.append(folder / f"repro_{k}.py")
        paths[-1].write_text(code)
    driver = (
        "import runpy, sys\nfor p in sys.argv[1:]:\n    print('=====', flush=True)\n"
        "    runpy.run_path(p, run_name='__main__')\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # a student has no grader on the path
    r = subprocess.run(
        [sys.executable, "-c", driver, *map(str, paths)],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert r.returncode == 0, r.stderr
    plain = lambda out: re.sub(r", grad_fn=<\w+>|, requires_grad=True|Parameter containing:\n", "", out)  # noqa: E731
    return [plain(out) for out in r.stdout.split("=====\n")[1:]]


def expected_block(code: str) -> str:
    """What a reproducer says the call should print (its `# expected:` comment)."""
    lines = code.splitlines()
    start = next(k for k, line in enumerate(lines) if line.startswith("# expected"))
    return "\n".join(line[2:] for line in lines[start + 1 :]) + "\n"


def copy_solution(folder: Path, number: int) -> None:
    ex = lookup(str(number))
    (folder / ex.file).write_text((SOLUTIONS / ex.file).read_text())


def fake_trace(*requests) -> list:
    """A trace as Student records it: requests (op, fields, reply fields)."""
    s = Student.__new__(Student)
    s.trace = []
    for seed, (op, fields, reply) in enumerate(requests, 1):
        rec = s._record(op, **fields)
        rec.update(done=True, seed=seed, **reply)
    return s.trace


@pytest.fixture
def student(zygote, tmp_path):
    """student(number) → a Student for that exercise's file in tmp_path/sub (as a test sees it)."""
    made = []

    def make(number: int) -> Student:
        s = Student(lookup(str(number)), tmp_path / "sub", zygote, Limits(), tmp_path / "work", rules=Rules())
        s.begin_test("test_something")
        made.append(s)
        return s

    (tmp_path / "sub").mkdir()
    yield make
    for s in made:
        s.close()


# ---------------------------------------------------------------------------
# reproducers from real requests: they run, and they are faithful


@pytest.mark.slow
def test_reproducers_run_and_are_faithful(student, tmp_path):
    """Recorded from real calls into a worker: a function, a module with its construction
    (seeded, since the expected value depends on the layer's random weight), an in-place
    change, a gradient, and an optimizer step on parameters found through inspect.  Each
    runs as pasted; with the model answers in the folder each prints exactly the expected
    value it shows."""
    sub = tmp_path / "sub"
    for number, source in (
        (1, BUGGY_SOFTMAX),
        (4, SOLUTIONS / "exercise4_linear.py"),
        (5, CORPUS / "exercise5" / "bug_masked_assign_in_place.py"),
        (7, CORPUS / "exercise7" / "bug_sign.py"),
        (8, CORPUS / "exercise8" / "bug_sign.py"),
    ):
        (sub / lookup(str(number)).file).write_text(source.read_text())
    codes = []

    # softmax on the far-apart rows, float32: the unstable softmax gives nan
    s = student(1)
    x = torch.tensor(FAR_APART)
    got = s.call(s.ref("softmax"), x)
    with pytest.raises(Failure) as e:
        assert_close(got, reference.softmax(x.double()), what="softmax(x)", dtype=x.dtype)
    codes.append(reproducer(s.trace, e.value, "exercise1_softmax"))
    assert codes[-1] == (
        "import torch\nfrom exercise1_softmax import softmax\n\n"
        "x = torch.tensor([[0.0, -1000.0, -1000.0],\n"
        "                  [1000.0, 0.0, -1000.0],\n"
        "                  [-1000.0, -1000.0, -1000.0]])\n"
        "print(softmax(x))\n"
        "# expected:\n"
        "# tensor([[1.0000, 0.0000, 0.0000],\n"
        "#         [1.0000, 0.0000, 0.0000],\n"
        "#         [0.3333, 0.3333, 0.3333]])"
    )

    # Linear(3, 2) (the model answer) with a bias set under no_grad and its weight read
    # back: the expected value X @ weight + bias depends on the random weight
    s = student(4)
    lin = s.call(s.ref("Linear"), 3, 2)
    s.inspect(s.ref("Linear"))
    b = torch.tensor([0.5, -1.25])
    s.call(lin.attr("bias", "copy_"), b, _grad="no_grad")
    W = s.getattr(lin, "weight")
    X = torch.tensor([[1.0, 2.0, 3.0], [-1.0, 0.5, 0.25]])
    got = s.call(lin, X)
    expected = (X.double() @ W.double() + b.double()).float()
    assert reproducer(s.trace, Failure("off", expected=expected, got=got * 2), "exercise4_linear") is None
    codes.append(reproducer(s.trace, Failure("off", expected=expected, got=got), "exercise4_linear"))
    assert "from exercise4_linear import Linear\n\ntorch.manual_seed(" in codes[-1]
    assert (
        "  # as the grader did\nlinear = Linear(3, 2)\nbias = torch.tensor([0.5, -1.25])\n"
        "with torch.no_grad():\n    linear.bias.copy_(bias)\n" in codes[-1]
    )
    assert "\nprint(linear(X))\n" in codes[-1]

    # an in-place ReLU: the reproducer prints the input after the call
    s = student(5)
    relu = s.call(s.ref("ReLU"))
    x = torch.tensor([-1.5, 0.0, 2.0])
    _, args = s.call_and_args(relu, x)
    with pytest.raises(Failure) as e:
        assert_unchanged(args[0], x, what="ReLU()(x)")
    codes.append(reproducer(s.trace, e.value, "exercise5_relu"))
    assert (
        "relu(X)\nprint(X)  # after the call\n# expected (unchanged):\n# tensor([-1.5000,  0.0000,  2.0000])"
        in codes[-1]
    )

    # MatMul's backward has the wrong sign: the gradient for X, through backward()
    s = student(8)
    X = torch.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], dtype=torch.float64)
    Y = torch.tensor([[1.0, -1.0, 0.5], [2.0, 0.0, -2.0]], dtype=torch.float64)
    G = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]], dtype=torch.float64)
    _out, grads, _ = s.vjp(s.ref("MatMul", "apply"), [X, Y], grad_output=G, wrt=(0, 1))
    with pytest.raises(Failure) as e:
        assert_close(grads[0], G @ Y.T, what="the gradient for X")
    codes.append(reproducer(s.trace, e.value, "exercise8_matmul"))
    assert "requires_grad=True" in codes[-1] and "(out * grad_output).sum().backward()\nprint(X.grad)\n" in codes[-1]

    # SGD (a sign error) on torch's layer whose parameters the test set, found through inspect
    s = student(7)
    model = s.call(Student.torch("nn.Linear"), 2, 1)
    s.call(model.attr("load_state_dict"), {"weight": torch.tensor([[1.0, -2.0]]), "bias": torch.tensor([0.5])})
    handles = [h for _n, _t, h in s.inspect(model)["params"]]
    opt = s.call(s.ref("SGD"), handles, lr=0.5)
    for h, g in zip(handles, (torch.tensor([[0.5, 1.0]]), torch.tensor([-1.0]))):
        s.setattr(h, "grad", g)
    s.call(opt.attr("step"))
    weight = s.inspect(model)["params"][0][1]
    with pytest.raises(Failure) as e:
        assert_close(weight, torch.tensor([[0.75, -2.5]]), what="weight after step()")
    codes.append(reproducer(s.trace, e.value, "exercise7_sgd"))
    assert "manual_seed" not in codes[-1]  # every parameter was set by the test
    assert (
        "weight = linear.weight\nbias = linear.bias\nsgd = SGD([weight, bias], lr=0.5)\n"
        "weight.grad = torch.tensor([[0.5, 1.0]])\nbias.grad = torch.tensor([-1.0])\nsgd.step()\n"
        "print(linear.weight)\n" in codes[-1]
    )

    for code in codes:
        compile(code, "reproducer", "exec")
    printed = run_scripts(sub, codes)
    assert "nan" in printed[0]
    assert printed[2].strip().splitlines()[-1] == "tensor([0., 0., 2.])"  # changed in place
    # with the model answers the reproducers print exactly their expected values
    for n in (1, 4, 5, 7, 8):
        copy_solution(sub, n)
    assert run_scripts(sub, codes) == [expected_block(c) for c in codes]


@pytest.mark.slow
def test_a_model_built_in_one_round_trip_is_reproduced(student, tmp_path):
    """Layers made by ``Call``s inside one request, read back by ``call_and_inspect`` in the same
    round trip: the reproducer writes the nested construction out and runs as pasted."""
    sub = tmp_path / "sub"
    (sub / lookup("7").file).write_text((CORPUS / "exercise7" / "bug_sign.py").read_text())
    s = student(7)
    layers = [Call(Student.torch("nn.Linear"), 2, 2), Call(Student.torch("nn.Linear"), 2, 1)]
    model, info = s.call_and_inspect(Student.torch("nn.Sequential"), *layers)
    assert isinstance(model, Handle) and [n for n, _t, _h in info["params"]] == [
        "0.weight",
        "0.bias",
        "1.weight",
        "1.bias",
    ]
    state = {
        "0.weight": torch.tensor([[1.0, 0.0], [0.0, 1.0]]),
        "0.bias": torch.tensor([0.0, 0.5]),
        "1.weight": torch.tensor([[1.0, -2.0]]),
        "1.bias": torch.tensor([0.5]),
    }
    s.call(model.attr("load_state_dict"), state)
    handles = [h for _n, _t, h in info["params"]]
    opt = s.call(s.ref("SGD"), handles, lr=0.5)
    # the gradients by backward, after a zero_grad made first in the same request (_before)
    s.call(
        Student.torch("autograd.backward"),
        handles,
        [torch.ones_like(t) for t in state.values()],
        _before=[Call(model.attr("zero_grad"), set_to_none=True)],
    )
    s.call(opt.attr("step"))
    weight = s.inspect(model)["params"][2][1]
    with pytest.raises(Failure) as e:
        assert_close(weight, torch.tensor([[0.5, -2.5]]), what="1.weight after step()")
    code = reproducer(s.trace, e.value, "exercise7_sgd")
    assert "sequential = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Linear(2, 1))\n" in code
    assert "manual_seed" not in code  # every parameter was set by the test
    assert "\nsequential.zero_grad(set_to_none=True)\ntorch.autograd.backward(" in code
    copy_solution(sub, 7)
    assert run_scripts(sub, [code]) == [expected_block(code)]


@pytest.mark.slow
def test_a_step_and_the_model_read_after_it_in_one_round_trip_are_reproduced(student, tmp_path):
    """``call_and_inspect(..., _of=<another object>)``: the object is inspected after the call, in the same
    request; the trace shows it as an inspect of its own, so the reproducer still prints the parameter."""
    sub = tmp_path / "sub"
    (sub / lookup("7").file).write_text((CORPUS / "exercise7" / "bug_sign.py").read_text())
    s = student(7)
    model = s.call(Student.torch("nn.Linear"), 2, 1)
    s.call(model.attr("load_state_dict"), {"weight": torch.tensor([[1.0, -2.0]]), "bias": torch.tensor([0.5])})
    handles = [h for _n, _t, h in s.inspect(model)["params"]]
    opt = s.call(s.ref("SGD"), handles, lr=0.5)
    s.call(
        Student.torch("autograd.backward"),
        handles,
        [torch.tensor([[0.5, 1.0]]), torch.tensor([-1.0])],
        retain_graph=Call(model.attr("zero_grad"), set_to_none=True),
    )
    calls = s.calls
    value, info = s.call_and_inspect(opt.attr("step"), _of=model)
    assert s.calls == calls + 1 and value is None and info["type"] == "torch.nn.modules.linear.Linear"
    weight = info["params"][0][1]
    with pytest.raises(Failure) as e:
        assert_close(weight, torch.tensor([[0.75, -2.5]]), what="weight after step()")
    code = reproducer(s.trace, e.value, "exercise7_sgd")
    assert code and "zero_grad(set_to_none=True)" in code
    copy_solution(sub, 7)
    assert run_scripts(sub, [code]) == [expected_block(code)]


@pytest.mark.slow
def test_several_vector_jacobian_products_in_one_round_trip(student, tmp_path):
    """``vjps``: one forward, the student's backward once per vector, the same numbers as one
    ``vjp`` each; a test whose trace holds it still gets its reproducer."""
    sub = tmp_path / "sub"
    (sub / lookup("8").file).write_text((CORPUS / "exercise8" / "bug_sign.py").read_text())
    s = student(8)
    fn = s.ref("MatMul", "apply")
    X = torch.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], dtype=torch.float64)
    Y = torch.tensor([[1.0, -1.0, 0.5], [2.0, 0.0, -2.0]], dtype=torch.float64)
    G = [torch.arange(9, dtype=torch.float64).reshape(3, 3), torch.zeros(3, 3, dtype=torch.float64)]
    calls = s.calls
    out, every = s.vjps(fn, [X, Y], G, wrt=(0, 1))
    assert s.calls == calls + 1 and len(every) == 2 and torch.equal(out, X @ Y)
    for g, grads in reversed(list(zip(G, every))):  # G[0] last: its vjp is the one reproduced
        _out, one, _ = s.vjp(fn, [X, Y], grad_output=g, wrt=(0, 1))
        assert len(grads) == 2 and all(torch.equal(a, b) for a, b in zip(grads, one))
    with pytest.raises(Failure) as e:
        assert_close(one[0], G[0] @ Y.T, what="the gradient for X")
    code = reproducer(s.trace, e.value, "exercise8_matmul")
    assert code and "(out * grad_output).sum().backward()\nprint(X.grad)\n" in code
    copy_solution(sub, 8)
    assert run_scripts(sub, [code]) == [expected_block(code)]


@pytest.mark.slow
def test_a_student_exception_is_reproduced(student, tmp_path):
    (tmp_path / "sub" / "exercise1_softmax.py").write_text(
        "import torch\n\ndef softmax(x):\n    return torch.exp(x) / torch.exp(x).sum(1, keepdim=True)\n"
    )
    s = student(1)
    x = torch.tensor([0.5, 1.5, -2.0])
    with pytest.raises(StudentError) as e:
        s.call(s.ref("softmax"), x, _what="softmax(x)")
    code = reproducer(s.trace, e.value, "exercise1_softmax")
    assert code.endswith("x = torch.tensor([0.5, 1.5, -2.0])\nprint(softmax(x))\n# expected: no error")
    r = subprocess.run([sys.executable, "-c", code], cwd=tmp_path / "sub", capture_output=True, text=True, timeout=60)
    assert "IndexError" in r.stderr and "Dimension out of range" in r.stderr


# ---------------------------------------------------------------------------
# what gets no reproducer


def _softmax_failure(x, got):
    try:
        assert_close(got, reference.softmax(x.double()), what="softmax(x)", dtype=x.dtype)
    except Failure as f:
        return f
    raise AssertionError("no failure")


def test_no_reproducer_where_it_would_be_long_or_unfaithful():
    small = torch.tensor([1.0, 2.0])
    big = torch.zeros(65)
    for x in (small, big):
        got = torch.full_like(x, 0.25)
        trace = fake_trace(
            ("call", {"fn": Ref("student", "softmax"), "args": [x], "kwargs": {}, "grad": "enable"}, {"value": got})
        )
        code = reproducer(trace, _softmax_failure(x, got), "exercise1_softmax")
        assert (code is not None) == (x is small), code  # more than 64 entries: none

    # an object the script cannot make (handed out by the worker in a way not recorded)
    h = Handle(7, "exercise5_relu.ReLU")
    got = torch.tensor([0.0, 3.0])
    trace = fake_trace(("call", {"fn": h, "args": [small], "kwargs": {}, "grad": "enable"}, {"value": got}))
    assert reproducer(trace, Failure("off", expected=small, got=got), "exercise5_relu") is None

    # a stateful call that raised half-way before the failing one: its effects are unknown
    trace = fake_trace(
        ("call", {"fn": Ref("student", "ReLU"), "args": [], "kwargs": {}, "grad": "enable"}, {"value": h}),
        ("call", {"fn": h.attr("reset"), "args": [], "kwargs": {}, "grad": "enable"}, {}),
        ("call", {"fn": h, "args": [small], "kwargs": {}, "grad": "enable"}, {"value": got}),
    )
    assert reproducer(trace, Failure("off", expected=small, got=got), "exercise5_relu") is not None
    trace[1]["done"] = False
    assert reproducer(trace, Failure("off", expected=small, got=got), "exercise5_relu") is None

    # a failure that knows no expected value, or another check's message, or a trace that overflowed
    assert reproducer(trace[2:], Failure("off"), "exercise5_relu") is None
    assert reproducer(None, Failure("off", expected=small, got=got), "exercise5_relu") is None
    try:
        try:
            raise Failure("off", expected=small, got=got)
        except Failure:
            raise Failure("something else", "a hint")  # noqa: B904 (the test: a failure raised while handling another)
    except Failure as f:
        assert (
            reproducer(
                fake_trace(("call", {"fn": h, "args": [small], "kwargs": {}, "grad": "enable"}, {"value": got})),
                f,
                "exercise5_relu",
            )
            is None
        )


def test_a_wrong_type_or_a_suite_explained_exception_is_reproduced():
    x = torch.tensor([1.0, 2.0])
    as_list = [0.25, 0.75]
    trace = fake_trace(
        ("call", {"fn": Ref("student", "softmax"), "args": [x], "kwargs": {}, "grad": "enable"}, {"value": None}),
        ("call", {"fn": Ref("student", "softmax"), "args": [x], "kwargs": {}, "grad": "enable"}, {"value": as_list}),
    )
    with pytest.raises(Failure) as e:
        assert_close(as_list, reference.softmax(x.double()), what="softmax(x)", dtype=x.dtype)
    assert "returned list" in e.value.message
    assert reproducer(trace, e.value, "exercise1_softmax").endswith(
        "print(softmax(x))\n# expected:\n# tensor([0.2689, 0.7311])"
    )
    # a function that returns a Python number: its expected value may be one too
    assert reproducer(trace, Failure("off", expected=0.5, got=as_list), "exercise1_softmax").endswith(
        "print(softmax(x))\n# expected: 0.5"
    )
    with pytest.raises(Failure) as e:  # None: only the latest reply could be it
        assert_close(None, reference.softmax(x.double()), what="softmax(x)", dtype=x.dtype)
    assert reproducer(trace, e.value, "exercise1_softmax") is None

    # the student's code raised; the suite explains it in a Failure that starts with its message
    trace[-1]["done"] = False
    error = StudentError("exception", "softmax(x) raised IndexError: ...", request=trace[-1])
    with pytest.raises(Failure) as e:
        try:
            raise error
        except StudentError as err:
            raise Failure(err.message + "\n  and the suite's explanation") from None
    assert reproducer(trace, e.value, "exercise1_softmax").endswith("print(softmax(x))\n# expected: no error")
    with pytest.raises(Failure) as e:
        try:
            raise error
        except StudentError:
            raise Failure("another check") from None
    assert reproducer(trace, e.value, "exercise1_softmax") is None


def test_a_failure_re_raised_with_a_sharper_hint_keeps_its_reproducer():
    x = torch.tensor([[1.0, 2.0], [3.0, 5.0]], dtype=torch.float64)
    got = x.clone()
    trace = fake_trace(
        (
            "call",
            {"fn": Ref("student", "softmax"), "args": [x.clone()], "kwargs": {}, "grad": "enable"},
            {"value": torch.zeros(2)},
        ),  # an earlier, independent call: left out
        ("call", {"fn": Ref("student", "softmax"), "args": [x], "kwargs": {}, "grad": "enable"}, {"value": got}),
    )
    with pytest.raises(Failure) as e:
        try:
            assert_close(got, reference.softmax(x), what="softmax(x)")
        except Failure as f:
            raise Failure(f.message, "the named bug") from None  # as grader.suites.common.compare does
    code = reproducer(trace, e.value, "exercise1_softmax")
    assert code.count("softmax(") == 1 and "dtype=torch.float64" in code
    assert "x = torch.tensor([[1.0, 2.0], [3.0, 5.0]], dtype=torch.float64)\nprint(softmax(x))\n" in code
    x[0, 0] = 9.0  # the suite changing its tensor later does not change what was sent
    assert reproducer(trace, e.value, "exercise1_softmax") == code


def test_seeds_only_where_the_expected_value_may_depend_on_random_weights():
    lin, w = Handle(1, "exercise4_linear.Linear"), Handle(2, "torch.nn.parameter.Parameter")
    W, X, got = torch.ones(3, 2), torch.ones(1, 3), torch.zeros(1, 2)

    def trace(set_weight: bool):
        requests = [
            ("call", {"fn": Ref("student", "Linear"), "args": [3, 2], "kwargs": {}, "grad": "enable"}, {"value": lin}),
            ("inspect", {"obj": lin}, {"value": {"params": [["weight", W, w]], "buffers": []}}),
        ]
        if set_weight:
            requests.append(
                (
                    "call",
                    {"fn": lin.attr("weight", "copy_"), "args": [W], "kwargs": {}, "grad": "no_grad"},
                    {"value": W},
                )
            )
        requests.append(("call", {"fn": lin, "args": [X], "kwargs": {}, "grad": "enable"}, {"value": got}))
        return fake_trace(*requests)

    code = reproducer(trace(True), Failure("off", expected=got + 1, got=got), "exercise4_linear")
    assert "manual_seed" not in code and "linear = Linear(3, 2)\n" in code
    assert "with torch.no_grad():\n    linear.weight.copy_(weight)\n" in code
    code = reproducer(trace(False), Failure("off", expected=got + 1, got=got), "exercise4_linear")
    assert "torch.manual_seed(1)  # as the grader did\nlinear = Linear(3, 2)\n" in code


def test_float32_literals_are_short_and_exact():
    values = torch.tensor([0.1, -1000.0, 1e-8, 3.4028234663852886e38, 1 / 3, float("nan"), float("-inf")])
    got = torch.zeros(7)
    trace = fake_trace(
        ("call", {"fn": Ref("student", "softmax"), "args": [values], "kwargs": {}, "grad": "enable"}, {"value": got})
    )
    code = reproducer(trace, Failure("off", expected=got + 1, got=got), "exercise1_softmax")
    line = next(line for line in code.splitlines() if line.startswith("x = "))
    assert line == ("x = torch.tensor([0.1, -1000.0, 1e-08, 3.4028235e+38, 0.33333334, float('nan'), -float('inf')])")
    scope = {"torch": torch}
    exec(line, scope)
    assert torch.equal(scope["x"].nan_to_num(), values.nan_to_num()) and scope["x"].dtype == torch.float32
    assert struct.pack("f", 0.33333334) == struct.pack("f", 1 / 3)


# ---------------------------------------------------------------------------
# the reports show it


def _tests(*tests):
    base = {"description": "", "status": "failed", "score": 0.0, "max_score": 1.0, "hint": "h", "visible": False}
    return [dict(base, **t) for t in tests]


def test_groups_show_the_visible_example_and_its_reproducer():
    code = "import torch\nprint(1)\n# expected:\n# 1"
    tests = _tests(
        {"name": "test_hidden", "message": "softmax(x) is off\n  input: x: shape (13, 10)"},
        {
            "name": "test_visible",
            "message": "softmax(x) is off\n  input: x: shape (3, 3)",
            "reproducer": code,
            "visible": True,
        },
    )
    [g] = failure_groups([TestResult.from_dict(t) for t in tests])
    assert g.message == "softmax(x) is off\n  input: x: shape (3, 3)" and g.reproducer == code
    assert g.names == "test_hidden, test_visible"
    # only a visible test's reproducer is shown (a hidden one cannot have one)
    [g] = failure_groups([TestResult.from_dict(dict(tests[1], visible=False))])
    assert g.reproducer == ""


def test_every_format_shows_the_reproducer(tmp_path):
    code = "import torch\nfrom exercise1_softmax import softmax\n\nprint(softmax(x))\n# expected:\n# tensor(1.)"
    t = _tests(
        {
            "name": "test_far_apart_logits[float32-cpu]",
            "description": "softmax of rows like [0, -1000]",
            "message": "softmax(x) does not match",
            "reproducer": code,
            "visible": True,
            "hint": "Subtract each row's max",
        }
    )
    report = {
        "score": 0.0,
        "max_score": 10.0,
        "seed": 0,
        "submission": "sub",
        "grader_version": "0",
        "torch_version": "2",
        "cuda": False,
        "exercises": [
            {
                "name": "exercise1",
                "title": "Softmax",
                "file": "exercise1_softmax.py",
                "score": 0.0,
                "max_score": 10.0,
                "status": "graded",
                "message": "",
                "hint": "",
                "tests": t,
            }
        ],
    }
    text, md, html = (render(report, f) for f in ("text", "markdown", "html"))
    assert "Try it yourself" in text and "      print(softmax(x))\n      # expected:" in text
    assert f"```python\n{code}\n```" in md
    assert 'class="repro"' in html and "print(softmax(x))" in html
    for out in (text, md, html):
        assert out.count("print(softmax(x))") == 1  # not also inside the message


def test_a_student_editions_report_read_back_from_its_json_renders_in_every_format():
    """%grade renders the JSON the student edition wrote: it holds no points (local_check.view)."""
    t = _tests(
        {"name": "test_small", "message": "off", "visible": True},
        {"name": "test_big", "status": "passed", "message": ""},
    )
    report = {
        "score": 1.0,
        "max_score": 10.0,
        "seed": 0,
        "submission": "sub",
        "grader_version": "0",
        "torch_version": "2",
        "cuda": False,
        "edition": "student",
        "exercises": [
            {
                "name": "exercise1",
                "title": "Softmax",
                "file": "exercise1_softmax.py",
                "score": 1.0,
                "max_score": 10.0,
                "status": "graded",
                "message": "",
                "hint": "",
                "tests": t,
            }
        ],
    }
    written = json.loads(render(report, "json"))
    assert "score" not in written and "score" not in written["exercises"][0]["tests"][0]
    for fmt in ("text", "markdown", "html"):
        out = render(written, fmt)
        assert out == render(report, fmt) and "1 of 2 visible checks passed" in out


# ---------------------------------------------------------------------------
# end to end: grading a buggy softmax


@pytest.mark.slow
def test_grading_gives_every_failed_visible_test_a_reproducer_and_no_hidden_one(grade_folder, submission):
    folder = submission({"exercise1_softmax.py": BUGGY_SOFTMAX.read_text()})
    ex = exercise_of(grade_folder(folder, "exercise1"), "exercise1")
    failed = [t for t in ex["tests"] if t["status"] == "failed"]
    visible = [t for t in failed if t["visible"]]
    assert visible and len(visible) < len(failed)
    for t in failed:
        assert bool(t.get("reproducer")) == t["visible"], t["name"]
        assert "Try it yourself" not in t["message"] and "import torch" not in t["message"]
    codes = [t["reproducer"] for t in visible]
    for t, code in zip(visible, codes):
        assert code.startswith("import torch\nfrom exercise1_softmax import softmax\n"), t["name"]
        assert "\n# expected:\n# tensor(" in code
    printed = run_scripts(folder, codes)
    assert all("tensor(" in p and "nan" in p for p in printed)


# ---------------------------------------------------------------------------
# the student's report in a browser


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")
def test_student_report_renders_in_a_browser(tmp_path):
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "exercise1_softmax.py").write_text(BUGGY_SOFTMAX.read_text())
    (sub / "exercise5_relu.py").write_text((SOLUTIONS / "exercise5_relu.py").read_text())
    html = tmp_path / "report.html"
    r = run_cli("1", "5", "2", "--submission", sub, "--format", "html", "--output", html, timeout=180)
    assert r.returncode == 1, r.stderr
    page = html.read_text()
    assert "Try it yourself" in page and "exercise2_log_softmax.py is not in the submission folder" in page
    # score first, failures expanded, passes collapsed
    assert (
        page.index('class="big"') < page.index('<details class="failed" open>') < page.index('<details class="passed">')
    )
    assert '<details class="passed" open' not in page
    png = screenshot(html, tmp_path / "report.png", tmp_path / "profile", size=(1100, 1500))
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000
    assert struct.unpack(">II", data[16:24]) == (1100, 1500)  # width and height
    if os.environ.get("GRADER_SCREENSHOT_DIR"):  # to look at it
        Path(os.environ["GRADER_SCREENSHOT_DIR"], "student_report.png").write_bytes(data)
