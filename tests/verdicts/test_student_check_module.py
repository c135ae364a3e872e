"""grader.verdicts.student_check's "module" kind for a course's own module, replayed from the data
``grade release`` stores, against a real worker: an embedding (its input holds indices, its result
floats), whose catalogued mistake the student edition names as the grader does."""

import json

import pytest
import torch

from grader.exercises import lookup
from grader.harness.released import declared_cases
from grader.transport.limits import Limits
from grader.transport.student import Student
from grader.verdicts.checks import Failure
from grader.verdicts.diagnosis import Misconception
from grader.verdicts.rules import Rules
from grader.verdicts.student_check import KINDS, decode, encode
from grader.verdicts.visible import VisibleModule
from tests.harness.test_released import _suite

FORWARDS = {"right": "self.weight[idx]", "flattened": "self.weight[idx.reshape(-1)]", "doubled": "2 * self.weight[idx]"}
FLATTENED = Misconception("flattened", "The result has lost idx's shape: return weight[idx].")
WEIGHT = torch.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
LOOKUP = VisibleModule(
    test="test_it",
    cls="Embedding",
    args=(3, 2),
    name="idx",
    state={"weight": WEIGHT},
    inputs=lambda rng: (torch.tensor([[2, 0], [1, 1]]), "idx = [[2, 0], [1, 1]]"),
    expected=lambda idx: WEIGHT[idx],
    variants=lambda idx: [FLATTENED.gives(lambda: WEIGHT[idx.reshape(-1)])],
    hint="forward returns the rows of weight that idx picks.",
)


@pytest.fixture
def student(zygote, tmp_path):
    """student(answer) → a Student whose file defines Embedding with FORWARDS[answer] (one each)."""
    made: dict = {}

    def make(answer: str) -> Student:
        ex = lookup("1")
        folder = tmp_path / answer
        folder.mkdir()
        (folder / ex.file).write_text(
            "import torch\nfrom torch import nn\n\n\nclass Embedding(nn.Module):\n"
            "    def __init__(self, n, d):\n        super().__init__()\n"
            "        self.weight = nn.Parameter(torch.randn(n, d))\n\n"
            f"    def forward(self, idx):\n        return {FORWARDS[answer]}\n"
        )
        made[answer] = Student(ex, folder, zygote, Limits(), tmp_path / "work", rules=Rules())
        made[answer].begin_test("test_it")
        return made[answer]

    yield make
    for s in made.values():
        s.close()


def _stored() -> dict:
    """The case as the student edition reads it (through JSON)."""
    (case,) = declared_cases(_suite(True, LOOKUP), "exercise1")
    return decode(json.loads(json.dumps(encode(case))))


def test_the_student_edition_checks_a_module_of_indices_and_names_its_mistakes(student):
    case = _stored()
    KINDS["module"](student("right"), case, "cpu")  # float32 rows from int64 indices
    with pytest.raises(Failure) as flattened:
        KINDS["module"](student("flattened"), case, "cpu")
    assert (
        flattened.value.hint == FLATTENED.hint
        and "returned shape (4, 2), expected (2, 2, 2)" in flattened.value.message
    )
    with pytest.raises(Failure) as doubled:  # no catalogued mistake: the declaration's hint
        KINDS["module"](student("doubled"), case, "cpu")
    assert doubled.value.hint == LOOKUP.hint
