"""grader.verdicts.student_check's "module" kind for a course's own module, replayed from the data
``grade release`` stores, against a real worker: an embedding (its input holds indices, its result
floats), whose catalogued mistake the student edition names as the grader does."""

import pytest

from grader.verdicts.checks import Failure
from grader.verdicts.student_check import KINDS
from tests.harness.test_released import FLATTENED, LOOKUP
from tests.verdicts.test_student_check_draw import _stored, workers

FORWARDS = {"right": "self.weight[idx]", "flattened": "self.weight[idx.reshape(-1)]", "doubled": "2 * self.weight[idx]"}


def _embedding(answer: str) -> str:
    return (
        "import torch\nfrom torch import nn\n\n\nclass Embedding(nn.Module):\n"
        "    def __init__(self, n, d):\n        super().__init__()\n"
        "        self.weight = nn.Parameter(torch.randn(n, d))\n\n"
        f"    def forward(self, idx):\n        return {FORWARDS[answer]}\n"
    )


@pytest.fixture
def student(zygote, tmp_path):
    """student(answer) → a Student whose file defines Embedding with FORWARDS[answer] (one each)."""
    yield from workers(zygote, tmp_path, _embedding)


def test_the_student_edition_checks_a_module_of_indices_and_names_its_mistakes(student):
    case = _stored(LOOKUP)
    KINDS["module"](student("right"), case, "cpu")  # float32 rows from int64 indices
    with pytest.raises(Failure) as flattened:
        KINDS["module"](student("flattened"), case, "cpu")
    assert flattened.value.hint == FLATTENED.hint
    assert "returned shape (4, 2), expected (2, 2, 2)" in flattened.value.message
    with pytest.raises(Failure) as doubled:  # no catalogued mistake: the declaration's hint
        KINDS["module"](student("doubled"), case, "cpu")
    assert doubled.value.hint == LOOKUP.hint
