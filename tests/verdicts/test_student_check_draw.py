"""grader.verdicts.student_check's "draw" kind: a visible test that gives the student's code a
torch.Generator, replayed from the data ``grade release`` stores (tests/harness/test_released.py
derives it), against a real worker: the generator is made there from the stored seed, afresh for
each call."""

import dataclasses
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
from grader.verdicts.visible import SeededGenerator
from tests.harness.test_released import _noise, _suite

HERE = ".".join(torch.__version__.split(".")[:2])
ANSWERS = {
    "right": "return x + torch.rand(x.shape, generator=generator, dtype=x.dtype)",
    "twice": "return x + 2 * torch.rand(x.shape, generator=generator, dtype=x.dtype)",
    "global": "return x + torch.rand(x.shape, dtype=x.dtype)",
    "own seed": "return x + torch.rand(x.shape, generator=torch.Generator().manual_seed(0), dtype=x.dtype)",
    # a random mask: which elements it keeps is the answer's; twice each element it keeps
    "mask": "return 2 * x * (torch.rand(x.shape, generator=generator) < 0.5)",
    "other mask": "return 2 * x * torch.empty_like(x).bernoulli_(0.5, generator=generator)",
    "thrice": "return 3 * x * (torch.rand(x.shape, generator=generator) < 0.5)",
    "no mask": "return 2 * x",
}


def workers(zygote, tmp_path, source):
    """make(answer) → a Student whose exercise's file is ``source(answer)`` (one each); closed after."""
    made: dict = {}

    def make(answer: str) -> Student:
        if answer not in made:
            ex = lookup("1")
            folder = tmp_path / answer.replace(" ", "_")
            folder.mkdir()
            (folder / ex.file).write_text(source(answer))
            made[answer] = Student(ex, folder, zygote, Limits(), tmp_path / "work", rules=Rules())
            made[answer].begin_test("test_it")
        return made[answer]

    yield make
    for s in made.values():
        s.close()


@pytest.fixture
def student(zygote, tmp_path):
    """student(answer) → a Student whose file defines noise(x, generator) as ANSWERS[answer] (one each)."""
    yield from workers(
        zygote, tmp_path, lambda answer: f"import torch\n\n\ndef noise(x, generator):\n    {ANSWERS[answer]}\n"
    )


def _stored(decl, **changes) -> dict:
    """The float32 case of ``decl`` as the student edition reads it (through JSON)."""
    case = declared_cases(_suite(True, decl), "exercise1")[0]
    return decode(json.loads(json.dumps(encode({**case, **changes}))))


def test_the_generator_is_made_from_the_stored_seed_and_a_mistake_is_named(student):
    case = _stored(_noise())
    KINDS["draw"](student("right"), case, "cpu")  # the same numbers as the reference drew
    with pytest.raises(Failure) as failed:
        KINDS["draw"](student("twice"), case, "cpu")
    assert failed.value.hint == "add the noise once" and "note:" not in failed.value.message


@pytest.mark.parametrize("built, noted", [("1.0", True), (HERE, False)])
def test_a_failure_on_another_torch_says_which_torch_drew_the_expected_values(student, built, noted):
    """Torch does not promise the same random numbers across its releases: a comparison with numbers
    drawn from the stream says, when it fails on another torch than the one that drew them, which."""
    with pytest.raises(Failure) as failed:
        KINDS["draw"](student("twice"), _stored(_noise(), torch=built), "cpu")
    note = f"note: the expected values were drawn with torch {built}'s random numbers, and this is torch {HERE}"
    assert (note in failed.value.message) == noted and failed.value.hint == "add the noise once"
    kept = _stored(_noise(kept_only=True), torch=built)  # holds for every draw: nothing to note
    with pytest.raises(Failure) as failed:
        KINDS["draw"](student("twice"), kept, "cpu")
    assert "note:" not in failed.value.message


@pytest.mark.parametrize(
    "answer, says",
    [
        ("global", "gave two different results from generators seeded 7, with torch's global random numbers"),
        ("own seed", "gave the same result from a generator seeded 7 and from one seeded 8"),
    ],
)
def test_a_result_that_does_not_come_from_the_generator_alone_is_named(student, answer, says):
    alone = dataclasses.replace(_noise(hint_generator="draw from the generator given"), expected=None)
    case = _stored(alone)
    KINDS["draw"](student("right"), case, "cpu")
    with pytest.raises(Failure) as failed:
        KINDS["draw"](student(answer), case, "cpu")
    assert says in failed.value.message and failed.value.hint == "draw from the generator given"


def test_a_random_mask_is_compared_where_it_kept_an_element(student):
    """kept_only: every mask is right; where the result is not 0 it must be the stored result (a
    wrong value there is named from the variants, masked alike), and it must keep some elements and
    drop some."""
    doubled = dataclasses.replace(
        _noise(kept_only=True, hint_mask="drop some, keep some"),
        inputs=lambda rng, dtype, device: ([torch.ones(4, 6, dtype=dtype), SeededGenerator(7)], "ones"),
        expected=lambda x, g: 2 * x,
        variants=lambda x, g: [Misconception("thrice", "twice, not three times").gives(lambda: 3 * x)],
    )
    case = _stored(doubled)
    KINDS["draw"](student("mask"), case, "cpu")
    KINDS["draw"](student("other mask"), case, "cpu")
    with pytest.raises(Failure) as failed:
        KINDS["draw"](student("thrice"), case, "cpu")
    assert failed.value.hint == "twice, not three times"
    with pytest.raises(Failure) as failed:
        KINDS["draw"](student("no mask"), case, "cpu")
    assert "kept every one of the 24 elements" in failed.value.message and failed.value.hint == "drop some, keep some"
