"""Hidden suite for exercise 2: dropout.

A mask is random, so every check holds for each right answer, whichever way it draws the mask:
given the elements a result kept (its nonzero ones), it must be the reference's (those elements
x / (1 - p), the others 0); about 1 - p of the elements are kept; the generator given decides the
mask (the same seed, the same mask, whatever torch's global random numbers are); with training
False nothing changes.  When the numbers are wrong, the hint names the mistake they come from.
"""

import pytest
import torch

from grader.suites.common import (
    DTYPES,
    EXACT,
    ROUNDING,
    Failure,
    Misconception,
    SeededGenerator,
    VisibleCall,
    VisibleDraw,
    check,
    compare,
    course_reference,
    describe,
    expect_tensor,
    name_bug,
    randn,
)
from grader.transport.student import Call, Student

reference = course_reference(__file__)

# The catalogue: the mistakes students make, each named by its hint when a result is that mistake's.
SCALE = Misconception(
    "kept elements scaled wrongly",
    (
        "Scale the kept elements by 1 / (1 - p): y = x * keep / (1 - p), so that the expected value of y is x "
        "(not x * keep alone, nor divided by p or multiplied by p)."
    ),
)
KEEP_RATE = Misconception(
    "kept with probability p",
    (
        "Keep each element with probability 1 - p, and drop it with probability p: "
        "keep = torch.rand(x.shape, generator=generator) >= p (rand < p keeps it with probability p)."
    ),
)
EVAL = Misconception(
    "dropped in eval mode",
    ("When training is False, dropout changes nothing: return x as it is (no mask, no scaling)."),
)
GENERATOR = Misconception(
    "mask not from the generator",
    (
        "Draw the mask from the generator given: torch.rand(x.shape, generator=generator). torch.rand(x.shape) "
        "alone draws from torch's global random numbers, and a seed of your own ignores the generator."
    ),
)
P_ONE = (
    "With p = 1 every element is dropped: return zeros. x * keep / (1 - p) divides 0 by 0 there (nan): "
    "treat p = 1 on its own."
)
RATE = (
    "Drop each element with probability p, independently of the others, so that about a fraction 1 - p "
    "of them is kept: keep = torch.rand(x.shape, generator=generator) >= p."
)


KEPT_ONLY = "; expected: x / (1 - p) where the result kept an element (is not 0), 0 elsewhere"


def _seed(rng) -> int:
    return int(torch.randint(0, 2**31 - 1, (1,), generator=rng))


def _drop(student, x, p, seed, *, training=True, global_seed=None):
    """The student's dropout(x, p, training, generator seeded ``seed``) (no generator for seed None),
    with torch's global random numbers seeded ``global_seed`` first when given: (result, what)."""
    generator = "None" if seed is None else f"torch.Generator().manual_seed({seed})"
    what = f"dropout(x, p={p:g}, training={training}, generator={generator})"
    gen = None
    if seed is not None:
        gen = student.call(Student.torch("Generator"), _what="torch.Generator()")
        student.call(gen.attr("manual_seed"), seed, _what=f"torch.Generator().manual_seed({seed})")
    before = [] if global_seed is None else [Call(Student.torch("manual_seed"), global_seed)]
    got = student.call(student.ref("dropout"), x, p, training, gen, _what=what, _before=before)
    return got, what


def _check_values(got, x, p, what, inputs):
    """Given the elements ``got`` kept (its nonzero ones), it is x / (1 - p) there and 0 elsewhere."""
    keep = (got != 0) if isinstance(got, torch.Tensor) and got.shape == x.shape else torch.ones(x.shape, dtype=bool)
    expected = reference.dropped(x, keep, p).to(x.dtype)

    def diagnose(g):
        k, x64 = g.detach().cpu() != 0, x.double()
        return name_bug(
            g,
            expected,
            (
                SCALE.gives(lambda: x64 * k),
                SCALE.gives(lambda: x64 * k / p),
                SCALE.gives(lambda: x64 * k * p),
                SCALE.gives(lambda: x64 * k * (1 - p)),
            ),
            ROUNDING.at(x.dtype),
        )

    compare(
        got,
        expected,
        diagnose=diagnose,
        what=what,
        dtype=x.dtype,
        tolerance=ROUNDING,
        inputs=inputs + KEPT_ONLY,
    )
    return keep


def _check_rate(keep, p, what):
    """About 1 - p of the elements are kept."""
    n = keep.numel()
    kept = float(keep.double().mean())
    low, high = reference.kept_fraction_range(n, p)
    if not low <= kept <= high:
        as_if_p = reference.kept_fraction_range(n, 1 - p)
        raise Failure(
            f"{what} kept {kept:.1%} of the {n} elements: dropout keeps about {1 - p:.0%} of them "
            f"(from {low:.1%} to {high:.1%} at this size)",
            KEEP_RATE.hint if as_if_p[0] <= kept <= as_if_p[1] else RATE,
        )


def _check_training(student, x, p, seed, how):
    got, what = _drop(student, x, p, seed)
    inputs = f"{describe('x', x, how)}, p={p:g}"
    _check_rate(_check_values(got, x, p, what, inputs), p, what)


def _as_if_kept(x, p, *_rest):
    """What dropout gives had it kept every element: x / (1 - p) (float64)."""
    return reference.dropped(x, torch.ones(x.shape, dtype=torch.bool), p)


def _scalings(x, p, *_rest):
    """What each wrong scaling gives had it kept every element (compared where a result kept one)."""
    x64 = x.double()
    return [SCALE.gives(lambda k=k: x64 * k) for k in (1.0, 1 / p, p, 1 - p)]


def _describe_draw(x, p, training, generator, how):
    return f"{describe('x', x, how)}, p={p:g}, generator={generator}"


def _describe_kept_only(x, p, training, generator, how):
    return _describe_draw(x, p, training, generator, how) + KEPT_ONLY


# The visible tests' inputs, declared once: the tests make them from here, and so does the student
# edition (grade release stores x, p and the generator's seed; the student edition makes the generator
# afresh for each call).  A mask is random: each checks what every right answer shares, whichever way
# it draws the mask from the generator.
DROPS_AND_SCALES = VisibleDraw(
    test="test_drops_and_scales",
    fn="dropout",
    what="dropout(x, p, training=True, generator)",
    # small enough for the report to show the whole call
    inputs=lambda rng, p, dtype, device: (
        [randn(rng, (6, 8), dtype), p, True, SeededGenerator(_seed(rng))],
        "normal values",
    ),
    expected=_as_if_kept,
    describe=_describe_kept_only,
    variants=_scalings,
    kept_only=True,
    hint_mask=RATE,
    every_device=False,
    params=tuple((f"{p}-{d.id}", {"p": p, "dtype": d.values[0]}) for p in (0.25, 0.5) for d in DTYPES),
)  # pytest's order of the cases


@pytest.mark.points(2)
@pytest.mark.visible
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("p", [0.25, 0.5])
def test_drops_and_scales(student, rng, p, dtype):
    """in training mode some elements are dropped (0) and the others kept, scaled by 1 / (1 - p)"""
    (x, p, _, generator), how = DROPS_AND_SCALES.make(rng, p=p, dtype=dtype)
    got, what = _drop(student, x, p, generator.seed)
    keep = _check_values(got, x, p, what, f"{describe('x', x, how)}, p={p:g}")
    check(
        bool(keep.any()) and not bool(keep.all()),
        f"{what} {'kept every one' if keep.all() else 'dropped every one'} of the {x.numel()} elements",
        RATE,
    )


@pytest.mark.points(2)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("p", [0.2, 0.75])
def test_keep_rate(student, rng, p, dtype):
    """of many elements, about 1 - p are kept, each scaled by 1 / (1 - p), the others are 0"""
    _check_training(student, randn(rng, (64, 50), dtype), p, _seed(rng), "normal values")


FROM_THE_GENERATOR = VisibleDraw(
    test="test_mask_from_the_generator",
    fn="dropout",
    what="dropout(x, p=0.5, training=True, generator)",
    inputs=lambda rng, device: ([randn(rng, (16, 32)), 0.5, True, SeededGenerator(_seed(rng))], "normal values"),
    expected=None,
    describe=_describe_draw,
    hint_generator=GENERATOR.hint,
    every_device=False,
    params=(("", {}),),
)


@pytest.mark.points(2)
@pytest.mark.visible
def test_mask_from_the_generator(student, rng):
    """the mask comes from the generator given: the same seed gives the same result, another seed another"""
    (x, _, _, generator), _ = FROM_THE_GENERATOR.make(rng)
    seed = generator.seed
    first, what = _drop(student, x, 0.5, seed, global_seed=1)
    again, _ = _drop(student, x, 0.5, seed, global_seed=2)
    first, again = expect_tensor(first, what), expect_tensor(again, what)
    check(
        first.shape == again.shape and torch.equal(first, again),
        f"{what} gave two different results, with torch's global random numbers seeded 1 before the first call "
        "and 2 before the second: the mask did not come from the generator",
        GENERATOR.hint,
    )
    other, other_what = _drop(student, x, 0.5, seed + 1, global_seed=1)
    other = expect_tensor(other, other_what)
    check(
        not torch.equal(first, other),
        f"{what} and {other_what} gave the same result (the global random numbers seeded 1 before each): "
        "another generator seed must give another mask",
        GENERATOR.hint,
    )


@pytest.mark.points(0.5)
def test_without_a_generator(student, rng):
    """with generator=None the mask comes from torch's global random numbers, dropped and scaled as ever"""
    _check_training(student, randn(rng, (40, 50)), 0.3, None, "normal values")


def _describe_call(x, p, training, generator, how):
    return f"{describe('x', x, how)}, p={p:g}"


# The visible test's inputs, declared once: the test makes them from here, and so does the student
# edition (grade release stores them and the result, x itself, as data).
EVAL_MODE = VisibleCall(
    test="test_eval_mode",
    fn="dropout",
    what="dropout(x, p, training=False, generator=None)",
    inputs=lambda rng, p, device: ([randn(rng, (16, 20)), p, False, None], "normal values"),
    expected=lambda x, *_rest: x,
    describe=_describe_call,
    tolerance=EXACT,
    hint=EVAL.hint,
    every_device=False,
    params=tuple((f"{p}", {"p": p}) for p in (0.3, 0.8)),
)


@pytest.mark.points(1.5)
@pytest.mark.visible
@pytest.mark.parametrize("p", [0.3, 0.8])
def test_eval_mode(student, rng, p):
    """with training=False nothing is dropped and nothing scaled: the result is x"""
    (x, p, training, _), how = EVAL_MODE.make(rng, p=p)
    got, what = _drop(student, x, p, None, training=training)
    compare(
        got,
        x,
        diagnose=lambda g: EVAL.hint,
        what=what,
        inputs=_describe_call(x, p, training, None, how),
        dtype=x.dtype,
        tolerance=EXACT,
    )


@pytest.mark.points(1)
@pytest.mark.parametrize("p", [0.0, 1.0])
def test_p_zero_and_one(student, rng, p):
    """p = 0 keeps every element as it is; p = 1 drops them all (zeros, not nan)"""
    x = randn(rng, (8, 10))
    got, what = _drop(student, x, p, _seed(rng))
    expected = x if p == 0 else torch.zeros_like(x)

    def diagnose(g):
        if p == 0 and not g.any():
            return KEEP_RATE.hint
        return P_ONE if p == 1 and bool(g.isnan().any()) else None

    compare(
        got,
        expected,
        diagnose=diagnose,
        what=what,
        inputs=describe("x", x, "normal values"),
        dtype=x.dtype,
        tolerance=EXACT,
    )


@pytest.mark.points(1)
def test_gradients(student, rng):
    """the gradient with respect to x is grad_output where an element was kept, scaled by 1 / (1 - p), else 0"""
    x, p, seed = randn(rng, (6, 9), torch.float64), 0.4, _seed(rng)
    grad_output = randn(rng, (6, 9), torch.float64)
    gen = student.call(Student.torch("Generator"), _what="torch.Generator()")
    student.call(gen.attr("manual_seed"), seed, _what=f"torch.Generator().manual_seed({seed})")
    what = f"dropout(x, p={p:g}, training=True, generator=torch.Generator().manual_seed({seed}))"
    got, grads, _ = student.vjp(
        student.ref("dropout"), [x, p, True, gen], grad_output, wrt=(0,), _what=f"backward through {what}"
    )
    inputs = describe("x", x, "normal values") + f", p={p:g}; grad_output random"
    keep = _check_values(got, x, p, what, inputs)
    expected = reference.dropped(grad_output, keep, p)
    k = keep.double()
    diagnose = lambda g: name_bug(
        g,
        expected,
        (SCALE.gives(lambda: grad_output * k), SCALE.gives(lambda: grad_output * k / p)),
        ROUNDING.at(x.dtype),
    )
    compare(
        grads[0] if grads else None,
        expected,
        diagnose=diagnose,
        what=f"the gradient with respect to x of {what}",
        inputs=inputs,
        dtype=torch.float64,
        tolerance=ROUNDING,
    )
