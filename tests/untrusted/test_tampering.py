"""A fake ``__main__`` and tampering with the grader's hooks in the worker.

The attack: a file assigns ``__name__ = "__main__"`` and, inside
``if __name__ == "__main__":`` (which the static scans used to skip), destroys the
worker's ``torch.library.Library`` kernel blocks found with ``gc``, switches the
watcher off, unwraps ``torch.autograd.grad`` and calls the forbidden built-in under
``torch._C.DisableTorchFunction()``.  Two layers stop it, each tested alone:

* the static scans read a ``__main__`` block whenever ``__name__`` could have been
  rebound (``grader.submission.parts.main_can_run``);
* the worker checks its own hooks by identity before and after every request and
  fails closed (``grader.untrusted.watcher.Watcher.check``): the exercise scores 0 with
  "the grader's checks were tampered with" and is listed for review.

Each entry point is tried: a folder, a single file, a notebook, a batch and the
Gradescope runner.
"""

import ast
import json
import subprocess
import sys
import textwrap

import pytest

from grader.exercises import lookup
from grader.submission import parts
from grader.verdicts import forbidden, integrity
from tests.conftest import ROOT, exercise_of, run_cli

SM = "exercise1_softmax.py"
TAMPERED = "the grader's checks were tampered with"

# the attack of the issue, exercise 1: every layer of the worker's watch undone
FAKE_MAIN = textwrap.dedent("""\
    import gc
    import torch

    __name__ = "__main__"

    if __name__ == "__main__":
        for o in gc.get_objects():
            if isinstance(o, torch.library.Library):
                o._destroy()
            elif type(o).__name__ == "Watcher":
                o.on = False

        def softmax(x):
            with torch._C.DisableTorchFunction():
                return torch.softmax(x, dim=-1)
    """)

# one file, the forbidden built-in of exercises 1, 2, 3, 5, 7 and 8 behind the same fake __main__
ALL_IN_ONE = textwrap.dedent("""\
    import gc
    import torch
    import torch.nn.functional as F

    __name__ = "__main__"

    if __name__ == "__main__":
        for o in gc.get_objects():
            if isinstance(o, torch.library.Library):
                o._destroy()
        _grad = torch.autograd.grad
        for c in (_grad.__closure__ or ()):
            if callable(c.cell_contents) and getattr(c.cell_contents, "__name__", "") == "grad":
                _grad = c.cell_contents

        def softmax(x):
            with torch._C.DisableTorchFunction():
                return torch.softmax(x, dim=-1)

        def log_softmax(x):
            with torch._C.DisableTorchFunction():
                return torch.log_softmax(x, dim=-1)

        def cross_entropy(logits, target):
            with torch._C.DisableTorchFunction():
                return F.cross_entropy(logits, target)

        class ReLU(torch.nn.Module):
            def forward(self, X):
                with torch._C.DisableTorchFunction():
                    return torch.relu(X)

        class SGD(torch.optim.SGD):
            pass

        class MatMul(torch.autograd.Function):
            @staticmethod
            def forward(ctx, X, Y):
                ctx.save_for_backward(X, Y)
                return X @ Y

            @staticmethod
            def backward(ctx, grad):
                X, Y = ctx.saved_tensors
                with torch.enable_grad():
                    x, y = X.detach().requires_grad_(), Y.detach().requires_grad_()
                    return _grad(x @ y, (x, y), grad)
    """)
ATTACKED = ("exercise1", "exercise2", "exercise3", "exercise5", "exercise7", "exercise8")


def _failed(ex) -> list:
    return [t["message"] for t in ex["tests"] if t["status"] != "passed"]


def _caught(ex) -> None:
    assert ex["score"] == 0, (ex["name"], _failed(ex)[:2])
    assert any(r["kind"] == "integrity" for r in ex.get("review") or ()), ex.get("review")
    assert "internal grader error" not in json.dumps(ex)


# -- the static layer ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "rebind",
    [
        '__name__ = "__main__"',
        '__name__: str = "__main__"',
        'globals()["__name__"] = "__main__"',
        'vars()["__name__"] = "__main__"',
        'import sys\nsys.modules[__name__].__name__ = "__main__"',
        'import sys\nsetattr(sys.modules[__spec__.name], "__name__", "__main__")',
        "exec(\"__name__ = '__main__'\")",
        'for __name__ in ["__main__"]: pass',
        "from os import path as __name__",
        'def f():\n    global __name__\n    __name__ = "__main__"\nf()',
        '(__name__ := "__main__")',
        'import sys\nsys._getframe(0).f_globals["__name__"] = "__main__"',
        'def f(): pass\ngetattr(f, "__glo" + "bals__")["__name__"] = "__main__"',
    ],
)
def test_a_main_block_that_can_run_is_scanned(tmp_path, rebind):
    src = f"import torch\n{rebind}\n\nif __name__ == '__main__':\n    def softmax(x):\n        return torch.softmax(x, -1)\n"
    assert parts.main_can_run(ast.parse(src))
    p = tmp_path / SM
    p.write_text(src)
    found = forbidden.scan(p, lookup("exercise1"))
    assert [f["call"] for f in found] == ["torch.softmax"], found


def test_a_main_block_that_cannot_run_is_still_skipped(tmp_path):
    src = textwrap.dedent("""\
        import sys
        import torch

        def softmax(x):
            e = torch.exp(x - x.amax(-1, keepdim=True))
            return e / e.sum(-1, keepdim=True)

        if __name__ == "__main__":
            x = torch.randn(3, 4)
            print(torch.allclose(softmax(x), torch.softmax(x, -1)), __name__, getattr(sys, "argv"))
        """)
    assert not parts.main_can_run(ast.parse(src))
    p = tmp_path / SM
    p.write_text(src)
    assert forbidden.scan(p, lookup("exercise1")) == []
    assert integrity.scan(p, lookup("exercise1")) == ([], [])


@pytest.mark.slow
def test_fake_main_in_a_folder_scores_zero_with_a_finding(grade_folder, submission):
    report = grade_folder(submission({SM: FAKE_MAIN}), "exercise1")
    ex = exercise_of(report, "exercise1")
    _caught(ex)
    rules = {r["rule"] for r in ex["review"]}
    assert {"searching the garbage collector's objects", "disabling torch's function handling"} <= rules, rules


# -- the worker's layer, alone (the static scans switched off) ---------------------------------

TAMPERINGS = [
    ("destroyed kernel blocks", "exercise1", FAKE_MAIN),
    (
        "kernel replaced by one of the student's",
        "exercise1",
        """\
        import torch

        _lib = torch.library.Library("aten", "IMPL")
        _lib.impl("_softmax", lambda x, dim, half: torch.exp(x) / torch.exp(x).sum(dim, keepdim=True), "CPU")

        def softmax(x):
            return torch.softmax(x, dim=-1)
        """,
    ),
    (
        "watcher switched off during the call",
        "exercise5",
        """\
        import gc
        import torch

        class ReLU(torch.nn.Module):
            def forward(self, X):
                for o in gc.get_objects():
                    if type(o).__name__ == "Watcher":
                        o.on = False
                return X.clamp(min=0)
        """,
    ),
    (
        "torch-function watch popped",
        "exercise2",
        """\
        import torch

        def log_softmax(x):
            torch._C._pop_torch_function_stack()
            m = x.amax(-1, keepdim=True)
            return x - m - torch.log(torch.exp(x - m).sum(-1, keepdim=True))
        """,
    ),
    (
        "wrapper of torch.autograd.grad replaced",
        "exercise8",
        """\
        import torch

        for _c in torch.autograd.grad.__closure__:
            if callable(_c.cell_contents) and getattr(_c.cell_contents, "__name__", "") == "grad":
                torch.autograd.grad = _c.cell_contents

        class MatMul(torch.autograd.Function):
            @staticmethod
            def forward(ctx, X, Y):
                ctx.save_for_backward(X, Y)
                return X @ Y

            @staticmethod
            def backward(ctx, grad):
                X, Y = ctx.saved_tensors
                return grad @ Y.T, X.T @ grad
        """,
    ),
    (
        "recorder in a forbidden class's __init__ removed",
        "exercise7",
        """\
        import torch

        torch.optim.Optimizer.__init__ = torch.optim.Optimizer.__init__.__wrapped__ \\
            if hasattr(torch.optim.Optimizer.__init__, "__wrapped__") else torch.optim.Optimizer.__init__
        torch.optim.Optimizer.__init__ = lambda self, params, defaults: None

        class SGD:
            def __init__(self, params, lr):
                self.params, self.lr = list(params), lr

            def step(self):
                with torch.no_grad():
                    for p in self.params:
                        if p.grad is not None:
                            p -= self.lr * p.grad

            def zero_grad(self):
                for p in self.params:
                    p.grad = None
        """,
    ),
]


@pytest.mark.slow
@pytest.mark.parametrize("name,source", [t[1:] for t in TAMPERINGS], ids=[t[0] for t in TAMPERINGS])
def test_tampering_fails_closed_without_the_static_scans(grade_folder, submission, monkeypatch, name, source):
    """Each of these would keep (or earn) points if the worker did not check its hooks."""
    monkeypatch.setattr(forbidden, "scan", lambda *a: [])
    monkeypatch.setattr(forbidden, "scan_all", lambda *a: ([], []))
    monkeypatch.setattr(integrity, "scan", lambda *a: ([], []))
    ex_ = lookup(name)
    report = grade_folder(submission({ex_.file: textwrap.dedent(source)}), name)
    ex = exercise_of(report, name)
    assert ex["score"] == 0, _failed(ex)[:2]
    assert all(TAMPERED in t["message"] for t in ex["tests"] if t["status"] != "skipped"), _failed(ex)[:2]
    assert [r["rule"] for r in ex["review"]][:1] == ["tampering"], ex["review"]


@pytest.mark.slow
def test_tampering_in_a_later_call_voids_the_tests_already_passed(grade_folder, submission, monkeypatch):
    """Correct until its fifth call, then it removes a kernel block: no test keeps its points."""
    monkeypatch.setattr(forbidden, "scan", lambda *a: [])
    monkeypatch.setattr(forbidden, "scan_all", lambda *a: ([], []))
    monkeypatch.setattr(integrity, "scan", lambda *a: ([], []))
    src = textwrap.dedent("""\
        import gc
        import torch

        calls = [0]

        def softmax(x):
            calls[0] += 1
            if calls[0] == 5:
                for o in gc.get_objects():
                    if isinstance(o, torch.library.Library):
                        o._destroy()
            e = torch.exp(x - x.amax(-1, keepdim=True))
            return e / e.sum(-1, keepdim=True)
        """)
    ex = exercise_of(grade_folder(submission({SM: src}), "exercise1"), "exercise1")
    assert ex["score"] == 0 and all(t["status"] != "passed" for t in ex["tests"]), _failed(ex)[:2]
    assert ex["review"][0]["rule"] == "tampering"


@pytest.mark.slow
def test_honest_answers_are_never_taken_for_tampering(grade_folder):
    report = grade_folder(ROOT / "solutions", "exercise1", "exercise5", "exercise7", "exercise8")
    assert [(e["name"], e["score"], e.get("review")) for e in report["exercises"]] == [
        (n, 10, None) for n in ("exercise1", "exercise5", "exercise7", "exercise8")
    ]


# -- every entry point ---------------------------------------------------------------------------


def _json_report(*args, cwd=None) -> dict:
    r = run_cli(*args, "--format", "json", cwd=cwd, timeout=600)
    assert r.returncode in (0, 1), r.stderr[-2000:]
    return json.loads(r.stdout)


@pytest.mark.slow
def test_one_file_with_six_forbidden_built_ins_scores_zero_on_each(tmp_path):
    p = tmp_path / "answers.py"
    p.write_text(ALL_IN_ONE)
    report = _json_report(*ATTACKED, "--submission", p)
    for name in ATTACKED:
        _caught(exercise_of(report, name))
    assert report["score"] == 0


@pytest.mark.slow
def test_fake_main_in_a_notebook_scores_zero(tmp_path):
    import nbformat

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("%%exercise 1\n" + FAKE_MAIN)])
    p = tmp_path / "homework.ipynb"
    p.write_text(nbformat.writes(nb))
    _caught(exercise_of(_json_report("exercise1", "--submission", p), "exercise1"))


@pytest.mark.slow
def test_fake_main_in_a_batch_scores_zero_and_is_listed_for_review(tmp_path):
    subs, out = tmp_path / "subs", tmp_path / "out"
    (subs / "eve").mkdir(parents=True)
    (subs / "eve" / SM).write_text(FAKE_MAIN)
    (subs / "mallory.py").write_text(ALL_IN_ONE)
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "grader.cli",
            "batch",
            subs,
            "--out",
            out,
            "--seed-secret",
            "s",
            "--jobs",
            "1",
            "--exercises",
            "1",
            "8",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    for student in ("eve", "mallory"):
        report = json.loads((out / "reports" / f"{student}.json").read_text())
        _caught(exercise_of(report, "exercise1"))
    _caught(exercise_of(json.loads((out / "reports" / "mallory.json").read_text()), "exercise8"))
    summary = json.loads((out / "summary.json").read_text())
    assert {(r["student"], r["exercise"]) for r in summary["review"]} >= {
        ("eve", "exercise1"),
        ("mallory", "exercise1"),
    }


@pytest.mark.slow
def test_fake_main_in_the_gradescope_runner_scores_zero(tmp_path):
    from tests.formats.test_platforms import run_bundle

    bundle = tmp_path / "autograder.zip"
    r = run_cli("autograder", "--out", bundle, "--exercises", "1", "--timeout-scale", "1")
    assert r.returncode == 0, r.stderr
    doc = run_bundle(bundle, tmp_path / "root", {SM: FAKE_MAIN})
    assert doc["score"] == 0 and doc["tests"], doc.get("output")
    assert all(t["status"] == "failed" for t in doc["tests"])
