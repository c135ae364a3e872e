"""The tolerance rule and its named presets (grader/verdicts/tolerances.py)."""

import math

import pytest
import torch

from grader.verdicts import tolerances as T
from grader.verdicts.checks import Failure, assert_close
from grader.verdicts.tolerances import EXACT, ROUNDING, Tolerance, magnitude, tol


def test_rounding_float64_and_float32_values():
    assert ROUNDING.at(torch.float64) == Tolerance(1e-7, 1e-9)
    r32 = ROUNDING.at(torch.float32)
    assert r32.rtol == 1e-5 and r32.atol == pytest.approx(16 * torch.finfo(torch.float32).eps)
    assert tol(torch.float32) == (r32.rtol, r32.atol)  # the old pair form gives the same numbers


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32, torch.float16, torch.bfloat16])
def test_rounding_absolute_part_grows_with_magnitude_relative_part_does_not(dtype):
    small, large = ROUNDING.at(dtype, 1.0), ROUNDING.at(dtype, 1000.0)
    assert large.rtol == small.rtol
    assert large.atol == pytest.approx(1000 * small.atol)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32, torch.float16])
def test_rounding_scale_below_one_counts_as_one(dtype):
    assert ROUNDING.at(dtype, 1e-6) == ROUNDING.at(dtype, 1.0) == ROUNDING.at(dtype, 0.0)


def test_rounding_float32_absolute_floor():
    """float32's absolute part never falls below 1e-6, whatever 16·eps is."""
    assert ROUNDING.at(torch.float32, 1.0).atol >= 1e-6
    assert ROUNDING.at(torch.float32, 3.0).atol == pytest.approx(16 * torch.finfo(torch.float32).eps * 3)


def test_half_precision_is_loose():
    assert ROUNDING.at(torch.float16) == Tolerance(1e-2, 1e-2)
    assert ROUNDING.at(torch.bfloat16, 5.0) == Tolerance(1e-2, 5e-2)


@pytest.mark.parametrize("dtype", [torch.int64, torch.int32, torch.uint8, torch.bool])
def test_integer_and_bool_results_are_exact(dtype):
    assert ROUNDING.at(dtype, 100.0) is EXACT


@pytest.mark.parametrize("scale", [math.inf, -math.inf, math.nan])
def test_non_finite_scale_counts_as_one(scale):
    """An input holding inf or nan must not make every finite entry pass (atol = inf would)."""
    assert ROUNDING.at(torch.float32, scale) == ROUNDING.at(torch.float32, 1.0)


def test_magnitude():
    assert magnitude(torch.tensor([[-3.0, 2.0]])) == 3.0
    assert magnitude(torch.zeros(0, 4)) == 1.0


def test_fixed_presets_ignore_dtype_and_scale():
    for name in (
        "EXACT",
        "FINITE_DIFFERENCES",
        "SAME_NUMBERS",
        "SAME_NUMBERS_FINE",
        "SAME_FIGURES",
        "SAME_RATIO",
        "RIGHT_ANYWAY",
        "ROUGHLY_NORMALISED",
        "TRAINING_FLOAT64",
        "TRAINING_FLOAT32",
        "FRACTION",
    ):
        preset = getattr(T, name)
        assert isinstance(preset, Tolerance), name
        assert preset.at(torch.float16, 1e6) is preset, name


def test_preset_values_are_those_the_suites_used():
    assert tuple(T.FINITE_DIFFERENCES) == (1e-3, 1e-5)
    assert tuple(T.SAME_NUMBERS) == (1e-4, 1e-4)
    assert tuple(T.SAME_NUMBERS_FINE) == (1e-4, 1e-6)
    assert tuple(T.TRAINING_FLOAT64) == (1e-6, 1e-9)
    assert tuple(EXACT) == (0.0, 0.0)


def test_scaled_preset():
    assert T.FORWARD_BEFORE_GRADIENT.at(torch.float64, 0.5) == Tolerance(1e-7, 1e-7)
    assert T.FORWARD_BEFORE_GRADIENT.at(torch.float64, 50.0) == Tolerance(1e-7, pytest.approx(5e-6))


def test_allows_tensors_is_relative_to_expected():
    t = Tolerance(rtol=0.1, atol=0.0)
    assert t.allows(torch.tensor([10.9]), torch.tensor([10.0]))
    assert not t.allows(torch.tensor([11.1]), torch.tensor([10.0]))
    assert not t.allows(torch.tensor([1.0]), torch.tensor([0.9]))  # 0.1 > 0.1·0.9


def test_allows_needs_the_same_shape():
    assert not Tolerance(1, 1).allows(torch.ones(3), torch.ones(1, 3))  # allclose would broadcast
    assert not Tolerance(1, 1).allows(torch.ones(3), 1.0)


def test_allows_inf_and_nan_tensors():
    t = Tolerance(1e-3, 1e-3)
    inf, nan = float("inf"), float("nan")
    assert t.allows(torch.tensor([inf, 1.0]), torch.tensor([inf, 1.0]))
    assert not t.allows(torch.tensor([-inf]), torch.tensor([inf]))
    assert not t.allows(torch.tensor([nan]), torch.tensor([nan]))
    assert t.allows(torch.tensor([nan]), torch.tensor([nan]), nan_equal=True)
    assert not t.allows(torch.tensor([nan]), torch.tensor([1.0]), nan_equal=True)


def test_allows_python_numbers():
    t = Tolerance(1e-6, 1e-9)
    assert t.allows(1.0 + 5e-7, 1.0)
    assert not t.allows(1.0 + 5e-6, 1.0)
    assert t.allows(math.inf, math.inf) and not t.allows(math.inf, 1e300)
    assert not t.allows(math.nan, math.nan) and t.allows(math.nan, math.nan, nan_equal=True)
    assert EXACT.allows(3, 3) and not EXACT.allows(3, 3.0000001)


def test_at_least_and_text():
    assert Tolerance(1e-7, 1e-9).at_least(T.SAME_NUMBERS) == T.SAME_NUMBERS
    assert Tolerance(1e-2, 1e-9).at_least(T.SAME_NUMBERS) == Tolerance(1e-2, 1e-4)
    assert Tolerance(1e-5, 2e-6).text == "|got - expected| <= 2e-06 + 1e-05·|expected|"


def test_assert_close_states_the_preset_in_its_message():
    x = torch.tensor([1.0, 2.0, 3000.0])
    with pytest.raises(Failure) as exc:
        assert_close(x + torch.tensor([0.0, 0.0, 1.0]), x, what="f(x)", tolerance=ROUNDING, scale=magnitude(x))
    assert ROUNDING.at(torch.float32, 3000.0).text in exc.value.message
    assert_close(x + 1e-3, x, what="f(x)", tolerance=ROUNDING, scale=3000.0)  # within rounding at ±3000
    with pytest.raises(Failure, match=r"<= 0 \+ 0·\|expected\|"):
        assert_close(x.nextafter(torch.tensor(1e9)), x, what="f(x)", tolerance=EXACT)


def test_assert_close_explicit_pair_overrides_the_preset():
    x = torch.tensor([1.0])
    assert_close(x + 0.5, x, what="f(x)", tolerance=EXACT, rtol=0.0, atol=1.0)
