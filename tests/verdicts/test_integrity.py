"""Forbidden built-ins that try to get around the grader, and the integrity scan.

Each hostile file below would earn full marks if its trick worked (the
forbidden built-in computes the right answer), so a score of 0 proves that the
trick failed.  Every shape is graded twice: as handed in (the integrity scan
flags it, and the exercise is listed as needing review) and with both static
scans switched off, which shows that the layer below them (torch's kernels
replaced in the worker, exercise 8's rule on whatever runs as backward) stops
it on its own.
"""

import json
import subprocess
import sys
import textwrap

import pytest

from grader.exercises import lookup
from grader.feedback.report import render
from grader.verdicts import forbidden, integrity
from tests.conftest import ROOT, exercise_of, run_cli

SM, RELU, MM = "exercise1_softmax.py", "exercise5_relu.py", "exercise8_matmul.py"

MATMUL_HEAD = """\
import torch


class MatMul(torch.autograd.Function):
    @staticmethod
    def forward(ctx, X, Y):
        ctx.save_for_backward(X, Y)
        return X @ Y
"""

# (id, exercise, file, source)
EVASIONS = [
    (
        "aten-softmax-overload",
        "exercise1",
        SM,
        """\
        import torch


        def softmax(x):
            return torch.ops.aten._softmax.default(x, -1, False)
        """,
    ),
    (
        "aten-relu-overload",
        "exercise5",
        RELU,
        """\
        import torch
        from torch import nn


        class ReLU(nn.Module):
            def forward(self, X):
                return torch.ops.aten.relu.default(X)
        """,
    ),
    (
        "torch-function-disabled",
        "exercise1",
        SM,
        """\
        import torch


        def softmax(x):
            with torch._C.DisableTorchFunction():
                return torch.softmax(x, -1)
        """,
    ),
    (
        "detector-patched-through-main",
        "exercise1",
        SM,
        """\
        import sys
        import torch

        _worker = sys.modules["__main__"]
        for _name in dir(_worker):
            _obj = getattr(_worker, _name)
            if isinstance(_obj, type) and hasattr(_obj, "_forbid_note"):
                _obj._forbid_note = lambda *a, **k: False


        def softmax(x):
            return torch.softmax(x, -1)
        """,
    ),
    (
        "wrapper-unwrapped",
        "exercise8",
        MM,
        MATMUL_HEAD
        + """
    @staticmethod
    def backward(ctx, grad):
        X, Y = ctx.saved_tensors
        with torch.enable_grad():
            X2, Y2 = X.detach().requires_grad_(), Y.detach().requires_grad_()
            return torch.autograd.grad.__wrapped__(X2 @ Y2, [X2, Y2], grad)
""",
    ),
    (
        "backward-under-another-name",
        "exercise8",
        MM,
        MATMUL_HEAD
        + """

def _by_autograd(ctx, grad):
    X, Y = ctx.saved_tensors
    with torch.enable_grad():
        X2, Y2 = X.detach().requires_grad_(), Y.detach().requires_grad_()
        return torch.autograd.grad(X2 @ Y2, [X2, Y2], grad)


MatMul.backward = staticmethod(_by_autograd)
""",
    ),
]


def _src(source: str) -> str:
    return textwrap.dedent(source)


@pytest.mark.slow
@pytest.mark.parametrize("name,file,source", [e[1:] for e in EVASIONS], ids=[e[0] for e in EVASIONS])
def test_evasion_scores_zero_and_needs_review(grade_folder, submission, name, file, source):
    compile(_src(source), file, "exec")  # valid Python: a score of 0 is the trick's failure, not a typo
    honest = (ROOT / "solutions" / "exercise2_log_softmax.py").read_text()
    report = grade_folder(submission({file: _src(source), "exercise2_log_softmax.py": honest}), name, "exercise2")
    bystander = exercise_of(report, "exercise2")
    assert bystander["score"] == 10 and "review" not in bystander  # the same student's honest exercise
    ex = exercise_of(report, name)
    assert ex["score"] == 0, [t["message"] for t in ex["tests"] if t["status"] != "passed"][:3]
    if name == "exercise8" and "__wrapped__" not in source:  # no evasive construct: the forbidden-call scan's
        msgs = [t["message"] for t in ex["tests"] if t.get("kind") == "forbidden"]
        assert msgs and all("line 15 uses `torch.autograd.grad`" in m for m in msgs), msgs[:2]
        return
    assert any(r["kind"] == "integrity" for r in ex.get("review", [])), ex.get("review")
    flagged = [t for t in ex["tests"] if t.get("kind") in ("integrity", "forbidden")]
    assert flagged and "internal grader error" not in json.dumps(ex)
    integrity_msgs = [t["message"] for t in flagged if t["kind"] == "integrity"]
    if integrity_msgs:  # the message says where and why
        assert file in integrity_msgs[0] and "line " in integrity_msgs[0] and "review" in integrity_msgs[0]


@pytest.mark.slow
@pytest.mark.parametrize("name,file,source", [e[1:] for e in EVASIONS], ids=[e[0] for e in EVASIONS])
def test_evasion_fails_even_without_the_static_scans(grade_folder, submission, monkeypatch, name, file, source):
    """The layer below the scans: the worker's replaced kernels and its backward rule."""
    monkeypatch.setattr(forbidden, "scan", lambda *a: [])
    monkeypatch.setattr(integrity, "scan", lambda *a: ([], []))
    report = grade_folder(submission({file: _src(source)}), name)
    ex = exercise_of(report, name)
    failed = [t for t in ex["tests"] if t["status"] in ("failed", "error")]
    if name == "exercise8":  # its forward is honest: every test that runs the backward fails
        assert ex["score"] < 10
        assert any(t["name"] == "test_gradcheck" for t in failed), [t["name"] for t in failed]
    else:
        assert ex["score"] == 0, [t["message"] for t in failed][:3]
    assert "internal grader error" not in json.dumps(ex)


@pytest.mark.slow
def test_kernel_block_names_the_op_and_the_reason(grade_folder, submission, monkeypatch):
    monkeypatch.setattr(forbidden, "scan", lambda *a: [])
    monkeypatch.setattr(integrity, "scan", lambda *a: ([], []))
    report = grade_folder(submission({SM: _src(EVASIONS[0][3])}), "exercise1")
    msgs = [t["message"] for t in exercise_of(report, "exercise1")["tests"] if t["status"] != "passed"]
    assert any("aten::_softmax" in m and "line 5" in m and "exercise 1 asks you" in m for m in msgs), msgs[:2]


def test_backward_under_another_name_is_caught_by_the_static_scan(tmp_path):
    p = tmp_path / MM
    p.write_text(_src(EVASIONS[-1][3]))
    found = forbidden.scan(p, lookup("exercise8"))
    assert [(f["call"], f["line"]) for f in found] == [("torch.autograd.grad", 15)]


@pytest.mark.slow
def test_forbidden_op_allowed_elsewhere_still_runs(grade_folder, submission):
    """Exercise 3 allows logsumexp, which exercise 2 forbids: the kernels are replaced per exercise."""
    ce = _src("""\
        import torch
        from torch import nn


        def cross_entropy(logits, targets):
            picked = logits.gather(1, targets[:, None])[:, 0]
            return (torch.logsumexp(logits, dim=-1) - picked).mean()


        class CrossEntropyLoss(nn.Module):
            def forward(self, H, Y):
                return cross_entropy(H, Y)
        """)
    report = grade_folder(submission({"exercise3_cross_entropy.py": ce}), "exercise3")
    ex = exercise_of(report, "exercise3")
    assert ex["score"] == 10 and "review" not in ex, [t["message"] for t in ex["tests"] if t["status"] != "passed"]


# -- the integrity scan on its own (fast) ----------------------------------------------------


def _integrity(tmp_path, source, name="exercise1"):
    ex = lookup(name)
    p = tmp_path / ex.file
    p.write_text(_src(source))
    return integrity.scan(p, ex)


SHAPES = [
    ("private-namespace", "import torch\ndef softmax(x):\n    return torch.ops.aten.exp(x)\n", 3),
    (
        "aliased-private",
        "from torch import _C as c\ndef softmax(x):\n    with c.DisableTorchFunction():\n        return x\n",
        3,
    ),
    ("wrapped", "import torch\ndef softmax(x):\n    f = torch.exp.__wrapped__\n    return f(x)\n", 3),
    ("getattr-wrapped", "import torch\ndef softmax(x):\n    return getattr(torch.exp, '__wrapped__')(x)\n", 3),
    (
        "grader-modules",
        "import grader.untrusted.worker\ndef softmax(x):\n    grader.untrusted.worker.x = 1\n    return x\n",
        3,
    ),
    ("sys-modules", "import sys\ndef softmax(x):\n    m = sys.modules['__main__']\n    return x\n", 3),
    ("gc-hunting", "import gc\ndef softmax(x):\n    objs = gc.get_objects()\n    return x\n", 3),
    ("frame-walking", "import sys\ndef softmax(x):\n    f = sys._getframe(1)\n    return x\n", 3),
    ("f_back", "import inspect\ndef softmax(x):\n    g = inspect.currentframe().f_back.f_globals\n    return x\n", 3),
    ("exec-built-string", "def softmax(x):\n    exec('import tor' + 'ch')\n    return x\n", 2),
    ("eval-alias", "ev = eval\ndef softmax(x):\n    return ev('x')\n", 1),
    ("computed-getattr", "import torch\ndef softmax(x):\n    return getattr(torch, 'soft' + 'max')(x, -1)\n", 3),
    ("torch-dict", "import torch\ndef softmax(x):\n    return torch.__dict__['soft' + 'max'](x, -1)\n", 3),
    ("vars-torch", "import torch\ndef softmax(x):\n    return vars(torch)['soft' + 'max'](x, -1)\n", 3),
    ("reading-files", "import os\ndef softmax(x):\n    os.listdir('/')\n    return x\n", 3),
    ("open", "def softmax(x):\n    open('/etc/passwd').read()\n    return x\n", 2),
    ("attrgetter", "import operator\ndef softmax(x):\n    f = operator.attrgetter('__wrapped__')\n    return x\n", 3),
    (
        "called-helper",
        "import os\ndef _peek():\n    return os.listdir('/')\ndef softmax(x):\n    _peek()\n    return x\n",
        3,
    ),
    ("at-import", "import torch\nimport sys\nFRAME = sys._getframe()\ndef softmax(x):\n    return x\n", 3),
    ("class-body", "import gc\nclass Hunter:\n    found = gc.get_objects()\ndef softmax(x):\n    return x\n", 3),
    (
        "default-value",
        "import gc\ndef helper(objs=gc.get_referrers(1)):\n    return objs\ndef softmax(x):\n    return x\n",
        2,
    ),
]


@pytest.mark.parametrize("source,line", [s[1:] for s in SHAPES], ids=[s[0] for s in SHAPES])
def test_integrity_scan_flags_each_shape(tmp_path, source, line):
    found, notes = _integrity(tmp_path, source)
    assert found and not notes
    assert found[0]["line"] == line and found[0]["why"], found


HONEST = [
    (
        "plain",
        "import torch\ndef softmax(x):\n    e = torch.exp(x - x.amax(-1, keepdim=True))\n"
        "    return e / e.sum(-1, keepdim=True)\n",
    ),
    (
        "own-names",
        "import torch\ndef compile(x):\n    return x\ndef softmax(x):\n    open = 3\n    return compile(x)\n",
    ),
    ("literal-getattr", "import torch\ndef softmax(x):\n    return getattr(torch, 'exp')(x)\n"),
    (
        "comments-and-strings",
        "# torch._C, sys._getframe, eval(...)\ndef softmax(x):\n    'torch.ops.aten'\n    return x\n",
    ),
    (
        "helper-never-called",
        "import torch\nfrom pathlib import Path\n\ndef load_data(folder):\n"
        "    return torch.load(Path(folder) / 'train.pt')\n\ndef softmax(x):\n    return x\n",
    ),
    ("vars-own-object", "import torch\ndef softmax(x):\n    state = vars(x)\n    return x\n"),
    (
        "main-block",
        "import torch\ndef softmax(x):\n    return x\n\nif __name__ == '__main__':\n"
        "    print(open('data.txt').read(), torch._C)\n",
    ),
]


@pytest.mark.parametrize("source", [s[1] for s in HONEST], ids=[s[0] for s in HONEST])
def test_integrity_scan_leaves_honest_code_alone(tmp_path, source):
    assert _integrity(tmp_path, source) == ([], [])


def test_model_answers_stubs_and_corpus_pass_the_integrity_scan():
    for i in range(1, 10):
        ex = lookup(f"exercise{i}")
        for p in [
            ROOT / "solutions" / ex.file,
            ROOT / "exercises" / ex.file,
            *sorted((ROOT / "tests" / "corpus" / ex.name).glob("*.py")),
        ]:
            assert integrity.scan(p, ex) == ([], []), p


def test_review_is_shown_in_every_format():
    report = {
        "score": 0.0,
        "max_score": 10.0,
        "seed": 0,
        "submission": "s",
        "grader_version": "x",
        "torch_version": "y",
        "cuda": False,
        "exercises": [
            {
                "name": "exercise1",
                "title": "Softmax",
                "file": SM,
                "score": 0.0,
                "max_score": 10.0,
                "status": "graded",
                "message": "",
                "hint": "",
                "tests": [],
                "review": [
                    {
                        "kind": "integrity",
                        "file": SM,
                        "line": 3,
                        "rule": "r",
                        "message": "line 3 uses `torch._C` (private torch namespace)",
                    }
                ],
            }
        ],
    }
    for fmt in ("text", "markdown", "html", "json"):
        out = render(report, fmt)
        assert "torch._C" in out and ("review" in out.lower()), fmt


# -- item 7: what the scans cannot walk is a note, never a lost point ------------------------

DEEP = (
    "import torch\n\n\ndef softmax(x):\n    e = torch.exp(x - x.amax(-1, keepdim=True))\n"
    "    return e / e.sum(-1, keepdim=True)\n\n\nDEEP = " + "1 + " * 1200 + "1\n"
)


@pytest.mark.slow
def test_deeply_nested_file_keeps_its_grade_and_gets_a_note(grade_folder, submission):
    report = grade_folder(submission({SM: DEEP}), "exercise1")
    ex = exercise_of(report, "exercise1")
    assert ex["score"] == 10, [t["message"] for t in ex["tests"] if t["status"] != "passed"][:3]
    assert any(r["kind"] == "unscanned" and "nested too deeply" in r["message"] for r in ex["review"])


@pytest.mark.slow
def test_deeply_nested_file_exits_normally(tmp_path):
    (tmp_path / SM).write_text(DEEP)
    r = run_cli("1", "--submission", tmp_path, "--format", "json")
    assert r.returncode == 0, r.stderr[-2000:]
    assert json.loads(r.stdout)["score"] == 10


# -- one .py holding every exercise ----------------------------------------------


def _all_in_one() -> str:
    return "\n\n".join((ROOT / "solutions" / lookup(f"exercise{i}").file).read_text() for i in range(1, 10))


def test_every_exercise_judged_on_its_own_part(tmp_path):
    p = tmp_path / "answers.py"
    p.write_text(_all_in_one())
    for i in range(1, 10):
        ex = lookup(f"exercise{i}")
        assert forbidden.scan(p, ex) == [] and integrity.scan(p, ex) == ([], []), ex.name


def test_another_exercises_definition_that_runs_here_is_part_of_this_one(tmp_path):
    p = tmp_path / "answers.py"
    p.write_text(
        "import torch\n\nREG = []\n\n\ndef cross_entropy(logits, targets):\n"
        "    return torch.log_softmax(logits, -1)\n\n\nREG.append(cross_entropy)\n\n\n"
        "def log_softmax(x):\n    return REG[0](x, None)\n"
    )
    assert [(f["call"], f["line"]) for f in forbidden.scan(p, lookup("exercise2"))] == [("torch.log_softmax", 7)]


@pytest.mark.slow
def test_all_nine_model_answers_in_one_file_get_full_marks(tmp_path):
    p = tmp_path / "answers.py"
    p.write_text(_all_in_one())
    r = run_cli("all", "--submission", p, "--format", "json", timeout=300)
    report = json.loads(r.stdout)
    assert report["score"] == 90, [(e["name"], e["score"]) for e in report["exercises"]]
    assert r.returncode == 0


@pytest.mark.slow
def test_a_forbidden_call_in_one_part_costs_only_that_exercise(grade_folder, tmp_path):
    text = _all_in_one()
    lines = text.splitlines()
    at = next(i for i, ln in enumerate(lines) if ln.startswith("def log_softmax"))
    body = at + 1
    while not lines[body].strip() or lines[body].lstrip().startswith(('"', "#")):
        body += 1
    indent = lines[body][: len(lines[body]) - len(lines[body].lstrip())]
    lines.insert(body, f"{indent}return torch.log_softmax(x, -1)")
    p = tmp_path / "answers.py"
    p.write_text("\n".join(lines) + "\n")
    report = grade_folder(p, "exercise1", "exercise2", "exercise3")
    scores = {e["name"]: e["score"] for e in report["exercises"]}
    assert scores == {"exercise1": 10, "exercise2": 0, "exercise3": 10}, scores
    msg = next(t["message"] for t in exercise_of(report, "exercise2")["tests"] if t.get("kind") == "forbidden")
    assert f"answers.py, line {body + 1} " in msg, msg


@pytest.mark.slow
def test_batch_grades_a_single_file_holding_every_exercise(tmp_path):
    """... and lists what the integrity scan flagged in the class summary."""
    subs, out = tmp_path / "subs", tmp_path / "out"
    subs.mkdir()
    (subs / "carol.py").write_text(_all_in_one())
    (subs / "eve").mkdir()
    (subs / "eve" / SM).write_text(_src(EVASIONS[2][3]))  # torch._C.DisableTorchFunction()
    r = subprocess.run(
        [sys.executable, "-m", "grader.cli", "batch", subs, "--out", out, "--seed-secret", "s", "--jobs", "1"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=400,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    report = json.loads((out / "reports" / "carol.json").read_text())
    assert report["score"] == 90, [(e["name"], e["score"]) for e in report["exercises"]]
    assert all("review" not in e for e in report["exercises"])
    summary = json.loads((out / "summary.json").read_text())
    assert [(r["student"], r["exercise"]) for r in summary["review"]] == [("eve", "exercise1")], summary.get("review")
    assert "torch._C" in summary["review"][0]["message"]
    html = (out / "summary.html").read_text()
    assert "Needs review" in html and "eve" in html


# -- the built-in inside `if __name__ == "__main__":` never runs ---------------


@pytest.mark.slow
def test_builtin_compared_in_main_block_costs_nothing(grade_folder, submission):
    src = _src("""\
        import torch


        def softmax(x):
            e = torch.exp(x - x.amax(dim=-1, keepdim=True))
            return e / e.sum(dim=-1, keepdim=True)


        if __name__ == "__main__":
            x = torch.randn(4, 5)
            print(torch.allclose(softmax(x), torch.softmax(x, dim=-1)))
        """)
    report = grade_folder(submission({SM: src}), "exercise1")
    ex = exercise_of(report, "exercise1")
    assert ex["score"] == 10 and "review" not in ex, [t["message"] for t in ex["tests"] if t["status"] != "passed"]


# -- a device test the submission cannot skip ---------------------------------


@pytest.mark.slow
def test_raising_on_meta_fails_the_device_test(grade_folder, submission):
    src = _src("""\
        import torch


        def softmax(x):
            if x.is_meta:
                raise RuntimeError("not on this device")
            out = torch.zeros(x.shape)              # always on the CPU
            e = torch.exp(x - x.amax(dim=-1, keepdim=True))
            return out + e / e.sum(dim=-1, keepdim=True)
        """)
    report = grade_folder(submission({SM: src}), "exercise1")
    t = next(t for t in exercise_of(report, "exercise1")["tests"] if t["name"] == "test_follows_input_device")
    assert t["status"] == "failed" and t["max_score"] > 0, t
    assert "meta device" in t["message"] and t["hint"]
    assert exercise_of(report, "exercise1")["score"] < 10
