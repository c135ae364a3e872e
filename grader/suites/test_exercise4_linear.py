"""Hidden suite for exercise 4: the Linear layer (weight in the course's (in_dim, out_dim) layout).

Linear's random initialisation in the worker is seeded but differs from any
draw made here, so the forward pass is compared with ``X @ weight + bias``
computed from the student's OWN parameters, read back from the worker.
"""

import math

import pytest
import torch

from grader.suites.common import (
    EXACT,
    FINITE_DIFFERENCES,
    ROUNDING,
    SAME_NUMBERS,
    Failure,
    Misconception,
    VisibleModule,
    assert_close,
    assert_made_object,
    assert_not_torch_class,
    assert_unchanged,
    check,
    describe,
    dtype_str,
    expect_tensor,
    gradcheck,
    randn,
    shape_str,
)
from grader.suites.linear_init import init_is_seeded
from grader.transport.student import Call, Student
from grader.verdicts.batching import read_attributes
from grader.wire.codec import meta

LAYOUT_HINT = (
    "torch.nn.Linear stores its weight as (out_dim, in_dim) and computes X @ weight.T; this course "
    "stores it as (in_dim, out_dim) so that forward is X @ weight with no transpose: "
    "`torch.randn(in_dim, out_dim) * std`."
)
PARAMETER_HINT = (
    "Wrap the tensors in nn.Parameter "
    "(`self.weight = nn.Parameter(torch.randn(in_dim, out_dim) * std)`): a plain tensor attribute is "
    "not registered, so .parameters() does not find it, no optimizer trains it, and .to()/.double() "
    "do not convert it."
)
TORCH_LINEAR = ("torch.nn.modules.linear.Linear", "torch.nn.modules.linear.LazyLinear")
TORCH_LINEAR_HINT = (
    "The exercise forbids torch.nn.Linear (and nn.LazyLinear), also as a base class: subclass "
    "nn.Module and create the weight and bias yourself."
)
SUPER_HINT = "Write `class Linear(nn.Module):` and call `super().__init__()` first in __init__."

# the visible test's inputs, declared once: the test makes them from here, and so does the student
# edition (grade release stores them with the reference's result, as data)
SMALL_EXAMPLE: VisibleModule = VisibleModule(
    test="test_small_example",
    cls="Linear",
    args=(3, 2),
    name="X",
    state={"weight": torch.tensor([[1.0, -2.0], [0.5, 0.0], [-1.0, 3.0]]), "bias": torch.tensor([0.5, -1.0])},
    inputs=lambda rng: (
        torch.tensor([[1.0, 2.0, 3.0], [-1.0, 0.0, 2.0]]),
        "X = [[1, 2, 3], [-1, 0, 2]]; weight W = [[1, -2], [0.5, 0], [-1, 3]] (in_dim × out_dim), bias b = [0.5, -1]",
    ),
    expected=lambda X: _expected(X, SMALL_EXAMPLE.state["weight"], SMALL_EXAMPLE.state["bias"]),
    tolerance=ROUNDING,
    scale=lambda X: _scale(X, SMALL_EXAMPLE.state["weight"], SMALL_EXAMPLE.state["bias"]),
    forbidden=TORCH_LINEAR,
    forbidden_hint=TORCH_LINEAR_HINT,
    shape_hint="The weight maps in_dim inputs to out_dim outputs.",
    hint="forward must return X @ weight + bias, with X's leading dimensions kept.",
)


def _args(in_dim, out_dim, **kw) -> str:
    return ", ".join([str(in_dim), str(out_dim)] + [f"{k}={v}" for k, v in kw.items()])


def _new(student, in_dim, out_dim, **kw):
    """Linear(in_dim, out_dim, **kw) built in the worker → (handle, its description)."""
    what = f"Linear({_args(in_dim, out_dim, **kw)})"
    lin = student.call(student.ref("Linear"), in_dim, out_dim, _what=what, **kw)
    assert_made_object(lin, what, SUPER_HINT)
    assert_not_torch_class(student, lin, "Linear", TORCH_LINEAR, what, TORCH_LINEAR_HINT)
    return lin, what


def _params(student, lin, what) -> dict:
    """{name: tensor copy} of the registered parameters, after checking it is an nn.Module."""
    info = student.inspect(lin, _what=f"inspecting {what}")
    check(info.get("is_module"), f"{what} is not an nn.Module (its type is {info.get('type')})", SUPER_HINT)
    return {name: t for name, t, _h in info.get("params", [])}


def _not_registered(student, lin, what, params, names, known=None):
    """Fail if one of ``names`` is missing from ``params`` because it is a plain tensor attribute."""
    attrs = _read(student, lin, what, "__dict__", known)
    for n in names:
        if n not in params and isinstance(attrs, dict) and isinstance(attrs.get(n), torch.Tensor):
            found = ", ".join(sorted(params)) or "nothing"
            raise Failure(
                f"{what}.{n} is a plain tensor, not an nn.Parameter (.parameters() finds: {found})", PARAMETER_HINT
            )


def _read(student, lin, what, name, known=None):
    """The layer's attribute ``name``: from ``known`` (read_attributes) when it is there."""
    if known and name in known:
        return known[name]
    return student.getattr(lin, name, _what=f"reading {what}.{name}")


def _weight(student, lin, what, in_dim, out_dim, strict=False, known=None) -> torch.Tensor:
    """The weight as stored; with ``strict`` its shape must be (in_dim, out_dim)."""
    W = expect_tensor(_read(student, lin, what, "weight", known), f"{what}.weight")
    shape = tuple(W.shape)
    if shape == (in_dim, out_dim):
        return W
    if shape == (out_dim, in_dim):
        if strict:
            raise Failure(
                f"{what}.weight has shape {shape_str(shape)} = (out_dim, in_dim), "
                f"expected (in_dim, out_dim) = {shape_str((in_dim, out_dim))}",
                LAYOUT_HINT,
            )
        return W
    raise Failure(
        f"{what}.weight has shape {shape_str(shape)}, expected (in_dim, out_dim) = {shape_str((in_dim, out_dim))}",
        "The weight maps in_dim inputs to out_dim outputs: `torch.randn(in_dim, out_dim) * std`.",
    )


def _as_in_out(W, in_dim, out_dim):
    """The weight in (in_dim, out_dim) orientation (a wrong layout is judged by its own test)."""
    return W if tuple(W.shape) == (in_dim, out_dim) else W.T


def _set(student, lin, what, name, value, how="random values"):
    student.call(lin.attr(name, "copy_"), value, _grad="no_grad", _what=f"setting {what}.{name} to {how}")


def _set_bias(student, lin, what, rng, out_dim):
    """Give the layer a random bias (it starts at zero, which would hide a forgotten `+ bias`)."""
    _set(student, lin, what, "bias", randn(rng, (out_dim,)))


def _convert(student, lin, what, how, dtype=torch.float64):
    """Convert the layer in the worker (``double`` or ``to``) and check that both parameters followed;
    returns (the conversion's label, {name: value} of the weight and bias as read then)."""
    if how == "double":
        student.call(lin.attr("double"), _what=f"{what}.double()")
        label = ".double()"
    else:
        student.call(lin.attr("to"), dtype, _what=f"{what}.to(torch.{dtype_str(dtype)})")
        label = f".to(torch.{dtype_str(dtype)})"
    known = read_attributes(student, lin, what, ("weight", "bias"))
    for name in ("weight", "bias"):
        t = known[name] = expect_tensor(_read(student, lin, what, name, known), f"{what}.{name}")
        check(
            t.dtype == dtype,
            f"after {what}{label} the layer's {name} is still {dtype_str(t.dtype)}, expected {dtype_str(dtype)}",
            f".to() and .double() convert only registered parameters. {PARAMETER_HINT}",
        )
    return label, known


NO_BIAS_HINT = "The bias is not added: return `X @ self.weight + self.bias` (it broadcasts over the rows)."


def _forward_hint(got, X, Wio, b):
    """NO_BIAS_HINT when ``got`` is X @ weight, else the formula."""
    if isinstance(got, torch.Tensor) and SAME_NUMBERS.allows(got.detach().double().cpu(), X.double() @ Wio.double()):
        return NO_BIAS_HINT
    return (
        "forward must return `X @ self.weight + self.bias` (no transpose, no activation), with X's leading "
        "dimensions kept; don't hard-code the batch size."
    )


def _expected(X, Wio, b):
    out = X.double() @ Wio.double()
    return out if b is None else out + b.double()


def _scale(X, Wio, b):
    s = (X.double().abs() @ Wio.double().abs()).max().item() if X.numel() else 1.0
    return s + (b.double().abs().max().item() if b is not None and b.numel() else 0.0)


# ---------------------------------------------------------------------------
# parameters and initialisation


@pytest.mark.points(1)
def test_parameters_registered(student):
    """the layer is an nn.Module whose parameters are named weight and bias, both nn.Parameter"""
    lin, what = _new(student, 7, 3)
    params = _params(student, lin, what)
    names = sorted(params)
    if "weight" not in params or "bias" not in params:
        _not_registered(student, lin, what, params, ("weight", "bias"))
        raise Failure(
            f"{what} has the parameters {names or 'none at all'}, expected exactly ['bias', 'weight']",
            "Name the attributes exactly `self.weight` and `self.bias` and make them nn.Parameter.",
        )
    extra = [n for n in names if n not in ("weight", "bias")]
    check(
        not extra,
        f"{what} has extra parameters {extra}; expected exactly ['bias', 'weight']",
        "A linear layer has only a weight and a bias; don't register anything else as a parameter.",
    )
    for name in ("weight", "bias"):
        check(
            meta(params[name]).requires_grad,
            f"{what}.{name} does not require a gradient, so it cannot be trained",
            "Leave nn.Parameter's requires_grad at its default (True); don't wrap the creation in torch.no_grad() "
            "and don't call .requires_grad_(False).",
        )


@pytest.mark.points(1)
@pytest.mark.parametrize("in_dim,out_dim", [(7, 3), (3, 8), (1, 5)], ids=["7x3", "3x8", "1x5"])
def test_shapes(student, in_dim, out_dim):
    """weight has shape (in_dim, out_dim) and bias (out_dim,), both float32"""
    lin, what = _new(student, in_dim, out_dim)
    known = read_attributes(student, lin, what, ("weight", "bias"))
    W = _weight(student, lin, what, in_dim, out_dim, strict=True, known=known)
    b = expect_tensor(_read(student, lin, what, "bias", known), f"{what}.bias")
    check(
        tuple(b.shape) == (out_dim,),
        f"{what}.bias has shape {shape_str(b.shape)}, expected (out_dim,) = {shape_str((out_dim,))}",
        "The bias has one entry per output: `torch.zeros(out_dim)`.",
    )
    for name, t in (("weight", W), ("bias", b)):
        check(
            t.dtype == torch.float32,
            f"{what}.{name} is {dtype_str(t.dtype)}, expected float32 (torch's default)",
            "Create the parameters with torch's default dtype (no dtype= argument); the caller converts the "
            "layer with .double() or .to() when needed.",
        )


@pytest.mark.points(0.5)
def test_bias_starts_at_zero(student):
    """the bias starts at zero"""
    # a bias of uninitialised memory (torch.empty) must show nan in every run, not zeros in one run
    # and garbage in the next: torch fills such memory with nan for this call; an older torch that
    # cannot is helped by building the layer just after memory that holds nan was freed
    what = "Linear(20, 6)"
    lin = student.call(
        student.ref("Linear"),
        20,
        6,
        _what=what,
        _before=[Call(Student.torch("full"), (n,), float("nan")) for n in (120, 6, 6, 6, 6, 8, 16, 6)],
        _fill_uninitialised=True,
    )
    assert_made_object(lin, what, SUPER_HINT)
    b = expect_tensor(_read(student, lin, what, "bias"), f"{what}.bias")
    if b.is_floating_point() and b.shape == (6,) and _looks_uninitialised(b):
        # one message whatever the garbage was, so that the report is the same in every run
        raise Failure(
            f"{what}.bias (initial value) is not zero: it holds values no random generator gives "
            "(nan, inf, or magnitudes like 1e-30 or 1e+30)",
            BIAS_UNINIT_HINT,
        )
    assert_close(
        b,
        torch.zeros(6),
        what=f"{what}.bias (initial value)",
        tolerance=EXACT,
        dtype=b.dtype,
        hint="The bias starts at zero: `nn.Parameter(torch.zeros(out_dim))`, not random values "
        "(torch.randn or torch.rand).",
    )


BIAS_UNINIT_HINT = (
    "The bias is uninitialised memory: torch.empty(out_dim) (or torch.Tensor(out_dim)) only "
    "allocates, so it holds whatever was in memory before, different from run to run. Start it "
    "at zero: `nn.Parameter(torch.zeros(out_dim))`."
)


def _looks_uninitialised(b: torch.Tensor) -> bool:
    """Values that neither zeros nor a random draw give: nan or inf, or nonzero entries whose
    magnitude is far outside what randn or rand produce (1e-30, 1e+30)."""
    b = b.detach().cpu().double()
    if not bool(torch.isfinite(b).all()):
        return True
    nonzero = b[b != 0].abs()
    return bool(nonzero.numel()) and bool(((nonzero < 1e-12) | (nonzero > 1e12)).any())


INITS = {"default": None, "factor1": 1.0, "factor6": 6.0}


# The likely bugs in the initialisation, recognised from the standard deviation they give.
VARIANCE_AS_STD = Misconception(
    "variance",
    (
        "init_factor / in_dim is the VARIANCE; the standard deviation is its square root: "
        "`torch.randn(in_dim, out_dim) * math.sqrt(init_factor / in_dim)`."
    ),
)
FAN_OUT = "Divide by in_dim (the fan-in, the number of inputs), not out_dim: std = sqrt(init_factor / in_dim)."
KAIMING_NOTE = (
    " (nn.init.kaiming_normal_ on an (in_dim, out_dim) tensor makes this mistake: it assumes torch's (out, in) layout.)"
)
KAIMING = Misconception(
    "kaiming",
    (
        "This is what nn.init.kaiming_normal_ gives on an (in_dim, out_dim) tensor: it takes the fan-in "
        "from size(1) = out_dim (torch's (out, in) layout) and ignores init_factor. Scale torch.randn "
        "yourself: `torch.randn(in_dim, out_dim) * math.sqrt(init_factor / in_dim)`."
    ),
)
FACTOR_IGNORED = Misconception(
    "factor ignored", ("init_factor is ignored: use the argument, not a hard-coded 2, in sqrt(init_factor / in_dim).")
)
UNSCALED = Misconception(
    "unscaled",
    (
        "The weight has std 1: torch.randn is used without the 1/sqrt(in_dim) scaling. Multiply it by "
        "sqrt(init_factor / in_dim), `torch.randn(in_dim, out_dim) * math.sqrt(init_factor / in_dim)`, so "
        "that the outputs' scale does not grow with the number of inputs."
    ),
)


def _buggy_stds(in_dim, out_dim, f):
    """(the misconception, the standard deviation it gives), in the order in which they are tried."""
    yield VARIANCE_AS_STD, f / in_dim
    yield Misconception("fan-out", FAN_OUT + (KAIMING_NOTE if f == 2.0 else "")), math.sqrt(f / out_dim)
    yield KAIMING, math.sqrt(2.0 / out_dim)
    if f != 2.0:
        yield FACTOR_IGNORED, math.sqrt(2.0 / in_dim)
    yield UNSCALED, 1.0


def _init_hint(std, in_dim, out_dim, f):
    """The hint of the first bug whose standard deviation is within 5% of ``std``."""
    for bug, gives in _buggy_stds(in_dim, out_dim, f):
        if gives > 0 and abs(std / gives - 1) < 0.05:
            return bug.hint
    return "The weight is torch.randn(in_dim, out_dim) * std with std = sqrt(init_factor / in_dim)."


@pytest.mark.points(1.5)
@pytest.mark.parametrize("factor", INITS.values(), ids=INITS.keys())
def test_init_statistics(student, factor):
    """the initial weight of a large layer is normal with mean 0 and variance init_factor / in_dim"""
    in_dim, out_dim = 1000, 250
    kw = {} if factor is None else {"init_factor": factor}
    f = 2.0 if factor is None else factor
    lin, what = _new(student, in_dim, out_dim, **kw)
    init_is_seeded(student)
    W = expect_tensor(_read(student, lin, what, "weight"), f"{what}.weight").detach().double().reshape(-1)
    check(
        W.numel() == in_dim * out_dim,
        f"{what}.weight has {W.numel()} entries, expected {in_dim * out_dim}",
        "The weight has shape (in_dim, out_dim).",
    )
    want = math.sqrt(f / in_dim)
    mean, std = W.mean().item(), W.std().item()
    label = f"{what}.weight ({W.numel()} entries)"
    limit = 0.02 * max(want, std)  # 10 standard errors of the mean of 250,000 draws
    check(
        abs(mean) < limit,
        f"{label}: mean {mean:.4g}, expected about 0 (|mean| < {limit:.2g}); its std is {std:.4g}",
        "Draw from a normal distribution centred at 0: torch.randn (not torch.rand, which is uniform on [0, 1)).",
    )
    check(
        abs(std / want - 1) < 0.05,
        f"{label}: standard deviation {std:.4g}, expected sqrt(init_factor / in_dim) = sqrt({f:g} / {in_dim}) = "
        f"{want:.4g} (within 5%)",
        _init_hint(std, in_dim, out_dim, f),
    )
    inside = (W.abs() < std).double().mean().item()
    check(
        abs(inside - 0.6827) < 0.02,
        f"{label}: {100 * inside:.1f}% of the entries are within one standard deviation of 0, expected about "
        f"68.3% for a normal distribution",
        "Use torch.randn (normal), not a uniform or other distribution, then scale it by the std.",
    )


@pytest.mark.points(1)
def test_bias_false(student, rng):
    """with bias=False there is no bias (None, not a parameter) and forward adds no bias term"""
    in_dim, out_dim = 6, 4
    lin, what = _new(student, in_dim, out_dim, bias=False)
    init_is_seeded(student)
    params = _params(student, lin, what)
    known = read_attributes(student, lin, what, ("bias", "__dict__", "weight"))
    b = _read(student, lin, what, "bias", known)
    got_b = f"a tensor of shape {shape_str(b.shape)}" if isinstance(b, torch.Tensor) else repr(b)
    check(
        b is None,
        f"{what}.bias is {got_b}, expected None",
        "Honour the argument: `self.bias = nn.Parameter(torch.zeros(out_dim)) if bias else None`.",
    )
    _not_registered(student, lin, what, params, ("weight",), known)
    check(
        sorted(params) == ["weight"],
        f"{what} has the parameters {sorted(params)}, expected only ['weight']",
        "With bias=False register only the weight.",
    )
    W = _as_in_out(_weight(student, lin, what, in_dim, out_dim, known=known), in_dim, out_dim)
    X = randn(rng, (5, in_dim))
    got = student.call(lin, X, _what=f"{what}(X)")
    assert_close(
        got,
        _expected(X, W, None),
        what=f"{what}(X)",
        inputs=describe("X", X, "randn"),
        dtype=torch.float32,
        tolerance=ROUNDING,
        scale=_scale(X, W, None),
        hint="Without a bias, forward is just `X @ self.weight`: skip the addition when self.bias is None.",
    )


# ---------------------------------------------------------------------------
# forward

SHAPES = {"2d": (5, 7), "batch64": (64, 7), "single": (1, 7), "3d": (2, 3, 7), "mid1": (2, 1, 7)}


@pytest.mark.points(1.5)
@pytest.mark.parametrize("shape", SHAPES.values(), ids=SHAPES.keys())
def test_forward(student, rng, shape, device):
    """forward matches the layer's own weight and bias applied to X (2-D and 3-D inputs, several batch sizes)"""
    in_dim, out_dim = 7, 3
    lin, what = _new(student, in_dim, out_dim)
    init_is_seeded(student)
    _set_bias(student, lin, what, rng, out_dim)
    if device != "cpu":
        student.call(lin.attr("to"), device, _what=f"{what}.to('{device}')")
    known = read_attributes(student, lin, what, ("weight", "bias"))
    W = _as_in_out(_weight(student, lin, what, in_dim, out_dim, known=known), in_dim, out_dim)
    b = expect_tensor(_read(student, lin, what, "bias", known), f"{what}.bias")
    X = randn(rng, shape, torch.float32, device)
    got = student.call(lin, X, _what=f"{what}(X)")
    assert_close(
        got,
        _expected(X.cpu(), W, b),
        what=f"{what}(X) (with a random bias)",
        inputs=describe("X", X, "randn"),
        dtype=torch.float32,
        device=device,
        tolerance=ROUNDING,
        scale=_scale(X.cpu(), W, b),
        hint=_forward_hint(got, X.cpu(), W, b),
    )


@pytest.mark.visible
@pytest.mark.points(0.5)
def test_small_example(student):
    """a small explicit example: Linear(3, 2) with a given weight and bias on two rows"""
    in_dim, out_dim = SMALL_EXAMPLE.args
    lin, what = _new(student, in_dim, out_dim)
    W, b = SMALL_EXAMPLE.state["weight"], SMALL_EXAMPLE.state["bias"]
    stored = _weight(student, lin, what, in_dim, out_dim)  # a wrong layout is judged by test_shapes
    _set(student, lin, what, "weight", W if tuple(stored.shape) == (in_dim, out_dim) else W.T.contiguous(), "W")
    _set(student, lin, what, "bias", b, "b")
    X, how = SMALL_EXAMPLE.make()
    got = student.call(lin, X, _what=f"{what}(X)")
    assert_close(
        got,
        SMALL_EXAMPLE.expected(X),
        what=f"{what}(X)",
        dtype=torch.float32,
        tolerance=SMALL_EXAMPLE.tolerance,
        scale=SMALL_EXAMPLE.scale(X),
        inputs=SMALL_EXAMPLE.describe(X, how),
        hint=_forward_hint(got, X, W, b),
    )


@pytest.mark.points(1)
@pytest.mark.parametrize("how", ["double", "to"], ids=["double()", "to(float64)"])
def test_forward_float64(student, rng, how):
    """after converting the layer to float64, forward on float64 inputs is float64 and correct"""
    in_dim, out_dim = 9, 4
    lin, what = _new(student, in_dim, out_dim)
    init_is_seeded(student)
    _set_bias(student, lin, what, rng, out_dim)
    label, known = _convert(student, lin, what, how)
    W = _as_in_out(_weight(student, lin, what, in_dim, out_dim, known=known), in_dim, out_dim)
    b = known["bias"]
    X = randn(rng, (6, in_dim), torch.float64)
    got = student.call(lin, X, _what=f"{what}{label}(X)")
    assert_close(
        got,
        _expected(X, W, b),
        what=f"{what}{label}(X)",
        inputs=describe("X", X, "randn"),
        dtype=torch.float64,
        tolerance=ROUNDING,
        scale=_scale(X, W, b),
        hint=_forward_hint(got, X, W, b),
    )


@pytest.mark.points(0.5)
def test_input_not_modified(student, rng):
    """forward leaves its input unchanged"""
    lin, what = _new(student, 5, 3)
    X = randn(rng, (4, 5))
    got, args = student.call_and_args(lin, X, _what=f"{what}(X)")
    expect_tensor(got, f"{what}(X)")
    assert_unchanged(
        args[0],
        X,
        what=f"{what}(X)",
        name="its input X",
        inputs=describe("X", X, "randn"),
        hint="Don't modify X in forward (no `X @= ...`, `X.add_(...)`, `X[...] = ...`): return a new "
        "tensor, `X @ self.weight + self.bias`.",
    )


# ---------------------------------------------------------------------------
# gradients


@pytest.mark.points(0.5)
def test_gradcheck_input(student, rng):
    """torch.autograd.gradcheck of the output with respect to X, with the layer in float64"""
    lin, what = _new(student, 4, 3)
    init_is_seeded(student)
    _set_bias(student, lin, what, rng, 3)
    _label, known = _convert(student, lin, what, "double")
    W = _as_in_out(_weight(student, lin, what, 4, 3, known=known), 4, 3)
    X = randn(rng, (3, 4), torch.float64)
    gradcheck(
        student,
        lin,
        [X],
        f"{what}.double()(X)",
        _expected(X, W, known["bias"]),
        names=["X"],
        tolerance=FINITE_DIFFERENCES,
    )


@pytest.mark.points(1)
def test_parameter_gradients(student, rng):
    """backward gives weight, bias and X the right gradients (3-D input, float64)"""
    in_dim, out_dim = 5, 3
    lin, what = _new(student, in_dim, out_dim)
    init_is_seeded(student)
    _set_bias(student, lin, what, rng, out_dim)
    _label, known = _convert(student, lin, what, "double")
    W = _weight(student, lin, what, in_dim, out_dim, known=known).double().requires_grad_()
    b = known["bias"].double().requires_grad_()
    X = randn(rng, (2, 4, in_dim), torch.float64)
    G = randn(rng, (2, 4, out_dim), torch.float64)
    inputs = describe("X", X, "randn") + "; " + describe("grad_output", G, "randn")
    Wio, bd = _as_in_out(W, in_dim, out_dim).detach(), b.detach()
    got = student.call(lin, X, _what=f"{what}(X)")
    assert_close(
        got,
        _expected(X, Wio, bd),
        what=f"{what}(X)",
        inputs=describe("X", X, "randn"),
        dtype=torch.float64,
        tolerance=ROUNDING,
        scale=_scale(X, Wio, bd),
        hint=_forward_hint(got, X, Wio, bd),
    )
    out, grads, pgrads = student.vjp(lin, [X], grad_output=G, params=lin, _what=f"backward through {what}(X)")
    out = expect_tensor(out, f"{what}(X)")
    check(
        meta(out).requires_grad,
        f"the output of {what}(X) does not require a gradient (no graph was built)",
        "Compute the output with torch operations on self.weight and self.bias; no .detach(), .data, "
        ".item() or torch.no_grad() in forward.",
    )
    (_expected(X, _as_in_out(W, in_dim, out_dim), b) * G).sum().backward()
    for name, ref in (("weight", W), ("bias", b)):
        check(
            name in pgrads,
            f"{what}.{name} is not among the layer's parameters, so backward cannot reach it",
            PARAMETER_HINT,
        )
        g = pgrads[name]
        check(
            g is not None,
            f"backward through {what}(X) gave no gradient for {what}.{name}",
            f"The output must depend on self.{name} through torch operations: use the parameter itself in "
            "forward (not .data, .detach() or a copy made in __init__).",
        )
        assert_close(
            g,
            ref.grad,
            what=f"the gradient of {what}.{name}",
            inputs=inputs,
            tolerance=ROUNDING,
            scale=10.0,
            hint="forward must be `X @ self.weight + self.bias` so that autograd computes these gradients; "
            "the bias gradient sums over every leading dimension of X.",
        )
    check(
        bool(grads) and grads[0] is not None,
        f"backward through {what}(X) gave no gradient for X",
        "Build the output from X with torch operations (no .detach() or .numpy()).",
    )
    assert_close(
        grads[0],
        G @ _as_in_out(W, in_dim, out_dim).detach().T,
        what=f"the gradient of {what}(X) for X",
        inputs=inputs,
        tolerance=ROUNDING,
        scale=10.0,
        hint="forward must be `X @ self.weight + self.bias`; then the gradient for X is grad_output @ weight.T.",
    )
