"""The nine exercises, in course order: the one place that names them."""
from __future__ import annotations

import dataclasses
import re


@dataclasses.dataclass(frozen=True)
class Exercise:
    number: int
    topic: str
    title: str
    names: tuple  # what the student's file must define
    preload: bool = False  # its tests want the zygote's preload (torch.optim builds)
    meta: bool = False     # its suite runs student code on the meta device (declared here, so that
    # nobody reads the hidden suite's text before the zygote is forked; tests/untrusted/test_memory_scan.py)

    @property
    def name(self) -> str:
        return f"exercise{self.number}"

    @property
    def file(self) -> str:
        return f"exercise{self.number}_{self.topic}.py"

    @property
    def suite(self) -> str:
        return f"test_exercise{self.number}_{self.topic}.py"


EXERCISES = (
    Exercise(1, "softmax", "Softmax", ("softmax",), meta=True),
    Exercise(2, "log_softmax", "Log-softmax", ("log_softmax",), meta=True),
    Exercise(3, "cross_entropy", "Cross-entropy loss", ("cross_entropy", "CrossEntropyLoss"), meta=True),
    Exercise(4, "linear", "Linear layer", ("Linear",)),
    Exercise(5, "relu", "ReLU", ("ReLU",), meta=True),
    Exercise(6, "sequential", "Sequential container", ("Sequential",)),
    Exercise(7, "sgd", "SGD optimizer", ("SGD",)),
    Exercise(8, "matmul", "MatMul autograd Function", ("MatMul",)),
    Exercise(9, "epoch", "Training epoch", ("loss_01", "epoch"), preload=True),
)

POINTS_PER_EXERCISE = 10.0


def wants_preload(exercises) -> bool:
    """Whether the worker should preload torch.optim's imports for these exercises."""
    return any(ex.preload for ex in exercises)


def lookup(text: str) -> Exercise:
    """'exercise3', '3', 'ex3', 'cross_entropy' or the file name → the Exercise."""
    t = text.strip().lower().removesuffix(".py")
    m = re.fullmatch(r"(?:exercise|ex)?_?(\d+)(?:_\w+)?", t)
    for ex in EXERCISES:
        if (m and int(m.group(1)) == ex.number) or t in (ex.topic, ex.topic.replace("_", "-")):
            return ex
    choices = ", ".join(e.name for e in EXERCISES)
    raise KeyError(f"no exercise called {text!r}; choose one of: {choices}, or 'all'")


def select(names) -> list:
    """Command-line exercise names (or 'all') → Exercises in course order; KeyError names a bad one."""
    if any(n.lower() == "all" for n in names):
        return list(EXERCISES)
    return sorted({lookup(n) for n in names}, key=lambda e: e.number)


def for_suite(module_file: str) -> Exercise:
    m = re.search(r"test_exercise(\d+)_", module_file)
    if not m:
        raise KeyError(module_file)
    return EXERCISES[int(m.group(1)) - 1]
