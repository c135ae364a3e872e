"""grader.batch.analytics: the class picture (summary.json) from the students' reports."""

import json
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

HINT = "Take one entry per row: log_probs[torch.arange(n), targets]."


def _report(student: str, messages: list) -> dict:
    tests = [
        {
            "name": f"test_{i}",
            "description": "",
            "status": "failed",
            "score": 0.0,
            "max_score": 1.0,
            "message": m,
            "hint": HINT,
            "visible": False,
        }
        for i, m in enumerate(messages)
    ]
    return {
        "score": 0.0,
        "max_score": 10,
        "exercises": [
            {
                "name": "exercise3",
                "title": "Cross-entropy",
                "file": "exercise3_cross_entropy.py",
                "score": 0.0,
                "max_score": 10,
                "status": "graded",
                "message": "",
                "hint": "",
                "tests": tests,
                "review": [{"message": f"{student}'s file looks like another's"}],
            }
        ],
        "seed": 0,
        "submission": student,
        "grader_version": "x",
        "torch_version": "x",
        "cuda": False,
    }


def test_the_summary_is_the_same_whatever_order_the_students_finished_in_and_whatever_the_hash_seed(tmp_path):
    """Its examples of a misconception and its review list once came from the first student
    to finish and the first of a set's items (which PYTHONHASHSEED orders)."""
    from grader.batch.output import Output

    out = Output(tmp_path / "out")
    rows = []
    for student, n in (("ann", 5), ("bob", 5), ("cat", 3)):
        messages = [f"{student}: cross_entropy(logits, targets) case {i} does not match" for i in range(n)]
        out.report_paths(student)[0].write_text(json.dumps(_report(student, messages)))
        rows.append(
            {
                "student": student,
                "entry": student + "/",
                "status": "graded",
                "score": 0.0,
                "max_score": 10,
                "exercises": {"exercise3": 0.0},
            }
        )
    code = textwrap.dedent("""
        import json, sys
        from pathlib import Path
        from grader.batch.analytics import analytics
        from grader.batch.output import Output
        from grader.exercises import select
        from grader.feedback.records import GradeRow
        out, rows = Output(Path(sys.argv[1])), [GradeRow.from_dict(r) for r in json.loads(sys.argv[2])]
        print(json.dumps([analytics(order, out, select(["3"])) for order in (rows, rows[::-1], rows[1:] + rows[:1])]))
    """)
    seen = set()
    for seed in range(4):
        r = subprocess.run(
            [sys.executable, "-c", code, str(out.root), json.dumps(rows)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            env={"PYTHONHASHSEED": str(seed), "PATH": "/usr/bin:/bin"},
        )
        assert r.returncode == 0, r.stderr
        for data in json.loads(r.stdout):
            seen.add(json.dumps({k: data[k] for k in ("hints", "review")}, sort_keys=True))
    assert len(seen) == 1, seen
    data = json.loads(seen.pop())
    assert data["hints"][0]["students"] == 3 and data["hints"][0]["example"].startswith("ann: ")
    assert [item["student"] for item in data["review"]] == ["ann", "bob", "cat"]
