"""The trusted oracles in ``reference/`` checked against torch's built-ins,
plus quick cross-checks of the model answers in ``solutions/`` and of the
student stubs in ``exercises/``."""

import copy
import importlib.util
import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import reference as ref

ROOT = Path(__file__).resolve().parents[1]

EXERCISE_FILES = {
    1: "exercise1_softmax.py",
    2: "exercise2_log_softmax.py",
    3: "exercise3_cross_entropy.py",
    4: "exercise4_linear.py",
    5: "exercise5_relu.py",
    6: "exercise6_sequential.py",
    7: "exercise7_sgd.py",
    8: "exercise8_matmul.py",
    9: "exercise9_epoch.py",
}


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def load(folder, number):
    """Import ``folder/exerciseN_*.py`` by path, as the grader does."""
    path = ROOT / folder / EXERCISE_FILES[number]
    spec = importlib.util.spec_from_file_location(f"_{folder}_ex{number}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_exports():
    expected = {
        "softmax",
        "log_softmax",
        "cross_entropy",
        "CrossEntropyLoss",
        "Linear",
        "ReLU",
        "Sequential",
        "SGD",
        "MatMul",
        "loss_01",
        "epoch",
    }
    assert expected <= set(ref.__all__)
    for name in expected | {"two_layer_net"}:
        assert hasattr(ref, name), name


# --------------------------------------------------------------- softmax family

SHAPES = [(7,), (5, 7), (3, 4, 6)]
DTYPES = [torch.float32, torch.float64]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_matches_torch(shape, dtype):
    x = torch.randn(shape, generator=gen(1), dtype=dtype) * 3
    x_before = x.clone()
    out = ref.softmax(x)
    assert out.dtype == dtype and out.shape == x.shape
    torch.testing.assert_close(out, torch.softmax(x, dim=-1))
    torch.testing.assert_close(out.sum(-1), torch.ones(shape[:-1], dtype=dtype))
    assert torch.equal(x, x_before)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_log_softmax_matches_torch(shape, dtype):
    x = torch.randn(shape, generator=gen(2), dtype=dtype) * 3
    x_before = x.clone()
    out = ref.log_softmax(x)
    assert out.dtype == dtype and out.shape == x.shape
    torch.testing.assert_close(out, torch.log_softmax(x, dim=-1))
    assert torch.equal(x, x_before)


def extreme_inputs(dtype):
    g = gen(3)
    signs = torch.randint(0, 2, (6, 10), generator=g).to(dtype) * 2 - 1
    return [
        torch.tensor([[0.0, -1000.0], [-1000.0, 0.0], [1000.0, -1000.0]], dtype=dtype),
        torch.tensor([1000.0, 999.5, -1000.0, 3.0], dtype=dtype),
        signs * 1000,  # only +-1000
        torch.randn(2, 3, 8, generator=g, dtype=dtype) * 1000,
    ]


@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_family_extreme_values(dtype):
    for x in extreme_inputs(dtype):
        s, ls = ref.softmax(x), ref.log_softmax(x)
        assert torch.isfinite(s).all() and torch.isfinite(ls).all()
        assert s.dtype == dtype and ls.dtype == dtype
        torch.testing.assert_close(s, torch.softmax(x, dim=-1))
        torch.testing.assert_close(ls, torch.log_softmax(x, dim=-1))
    ls = ref.log_softmax(torch.tensor([0.0, -1000.0], dtype=dtype))
    torch.testing.assert_close(ls, torch.tensor([0.0, -1000.0], dtype=dtype))


def test_softmax_family_gradients():
    x = torch.randn(4, 6, generator=gen(4), requires_grad=True)
    w = torch.randn(4, 6, generator=gen(5))
    for ours, theirs in [(ref.softmax, torch.softmax), (ref.log_softmax, torch.log_softmax)]:
        (g_ours,) = torch.autograd.grad((ours(x) * w).sum(), x)
        (g_theirs,) = torch.autograd.grad((theirs(x, dim=-1) * w).sum(), x)
        assert g_ours.dtype == torch.float32
        torch.testing.assert_close(g_ours, g_theirs)


# ---------------------------------------------------------------- cross-entropy


@pytest.mark.parametrize("dtype", DTYPES)
def test_cross_entropy_matches_torch(dtype):
    g = gen(6)
    logits = torch.randn(37, 10, generator=g, dtype=dtype) * 4
    targets = torch.randint(0, 10, (37,), generator=g)
    out = ref.cross_entropy(logits, targets)
    assert out.dim() == 0 and out.dtype == dtype
    torch.testing.assert_close(out, F.cross_entropy(logits, targets))
    module = ref.CrossEntropyLoss()
    assert list(module.parameters()) == []
    torch.testing.assert_close(module(logits, targets), F.cross_entropy(logits, targets))


def test_cross_entropy_extreme_and_gradient():
    logits = (torch.randint(0, 2, (8, 5), generator=gen(7)).float() * 2 - 1) * 1000
    logits[:, 0] = 999.5
    targets = torch.arange(8) % 5
    out = ref.cross_entropy(logits, targets)
    assert torch.isfinite(out)
    torch.testing.assert_close(out, F.cross_entropy(logits, targets))

    x = torch.randn(6, 4, generator=gen(8), requires_grad=True)
    y = torch.tensor([0, 3, 1, 1, 2, 0])
    (g_ours,) = torch.autograd.grad(ref.cross_entropy(x, y), x)
    (g_theirs,) = torch.autograd.grad(F.cross_entropy(x, y), x)
    torch.testing.assert_close(g_ours, g_theirs)


# ----------------------------------------------------------------------- Linear


def test_linear_parameters_and_forward():
    torch.manual_seed(0)
    layer = ref.Linear(6, 3)
    params = dict(layer.named_parameters())
    assert set(params) == {"weight", "bias"}
    assert isinstance(layer.weight, nn.Parameter) and isinstance(layer.bias, nn.Parameter)
    assert layer.weight.shape == (6, 3) and layer.bias.shape == (3,)
    assert torch.equal(layer.bias, torch.zeros(3))
    with torch.no_grad():
        layer.bias.copy_(torch.randn(3, generator=gen(9)))
    X = torch.randn(5, 6, generator=gen(10))
    torch.testing.assert_close(layer(X), X @ layer.weight + layer.bias)
    assert layer(torch.randn(2, 4, 6)).shape == (2, 4, 3)

    no_bias = ref.Linear(6, 3, bias=False)
    assert no_bias.bias is None
    assert [n for n, _ in no_bias.named_parameters()] == ["weight"]
    torch.testing.assert_close(no_bias(X), X @ no_bias.weight)


@pytest.mark.parametrize("in_dim,out_dim,init_factor", [(1000, 800, 2.0), (400, 1000, 0.5)])
def test_linear_init_statistics(in_dim, out_dim, init_factor):
    torch.manual_seed(1)
    layer = ref.Linear(in_dim, out_dim, init_factor=init_factor)
    expected_std = math.sqrt(init_factor / in_dim)
    assert abs(layer.weight.std().item() / expected_std - 1) < 0.05
    assert abs(layer.weight.mean().item()) < 0.05 * expected_std
    assert torch.equal(layer.bias, torch.zeros(out_dim))


def test_linear_init_is_one_randn_draw():
    torch.manual_seed(2)
    layer = ref.Linear(30, 7, init_factor=3.0)
    torch.manual_seed(2)
    expected = torch.randn(30, 7) * math.sqrt(3.0 / 30)
    torch.testing.assert_close(layer.weight.detach(), expected)


# ------------------------------------------------------------------------- ReLU


def test_relu_matches_torch():
    relu = ref.ReLU()
    assert list(relu.parameters()) == [] and list(relu.buffers()) == []
    for dtype in DTYPES:
        X = torch.randn(3, 4, 5, generator=gen(11), dtype=dtype)
        X[0, 0, :3] = torch.tensor([0.0, -0.0, 1e-30])
        before = X.clone()
        out = relu(X)
        assert out.dtype == dtype
        torch.testing.assert_close(out, torch.relu(X))
        assert torch.equal(X, before)
    X = torch.randn(10, generator=gen(12), requires_grad=True)
    (g,) = torch.autograd.grad(relu(X).sum(), X)
    assert torch.equal(g, (X > 0).float())


# ------------------------------------------------------------------- Sequential


def test_sequential_registers_and_moves_layers():
    torch.manual_seed(3)
    layers = [nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2)]
    net = ref.Sequential(*layers)
    assert len(list(net.parameters())) == 4
    assert {id(p) for p in net.parameters()} == {id(p) for layer in layers for p in layer.parameters()}
    X = torch.randn(5, 4, generator=gen(13))
    torch.testing.assert_close(net(X), layers[2](layers[1](layers[0](X))))
    torch.testing.assert_close(net(X), nn.Sequential(*layers)(X))
    assert [n for n, _ in net.named_parameters()] == [n for n, _ in nn.Sequential(*layers).named_parameters()]
    net.to(torch.float64)
    assert all(p.dtype == torch.float64 for p in net.parameters())
    assert net(X.double()).dtype == torch.float64
    assert torch.equal(ref.Sequential()(X), X)


def test_two_layer_net():
    net = ref.two_layer_net()
    shapes = [tuple(p.shape) for p in net.parameters()]
    assert shapes == [(784, 100), (100,), (100, 10), (10,)]
    assert isinstance(net, ref.Sequential)
    assert [type(m) for m in net.children()] == [ref.Linear, ref.ReLU, ref.Linear]
    assert net(torch.randn(3, 784)).shape == (3, 10)


# -------------------------------------------------------------------------- SGD


def _sgd_model(seed):
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(5, 6), nn.ReLU(), nn.Linear(6, 3))
    unused = nn.Parameter(torch.randn(4))  # never in the loss: grad stays None
    return model, unused


@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_sgd_matches_torch_optim(momentum):
    ours_model, ours_unused = _sgd_model(4)
    theirs_model, theirs_unused = _sgd_model(4)
    unused_before = ours_unused.detach().clone()
    ours = ref.SGD((p for p in [*ours_model.parameters(), ours_unused]), lr=0.1, momentum=momentum)
    theirs = torch.optim.SGD([*theirs_model.parameters(), theirs_unused], lr=0.1, momentum=momentum)
    X = torch.randn(16, 5, generator=gen(14))
    Y = torch.randint(0, 3, (16,), generator=gen(15))
    for _ in range(5):
        for model, opt in [(ours_model, ours), (theirs_model, theirs)]:
            opt.zero_grad()
            F.cross_entropy(model(X), Y).backward()
            opt.step()
    for p, q in zip(ours_model.parameters(), theirs_model.parameters()):
        torch.testing.assert_close(p, q, rtol=0, atol=0)  # the same operations: the same bits
    assert ours_unused.grad is None and torch.equal(ours_unused.detach(), unused_before)
    assert all(p.is_leaf for p in ours_model.parameters())


def test_sgd_zero_grad():
    model, unused = _sgd_model(5)
    opt = ref.SGD(model.parameters(), lr=0.5)
    opt.zero_grad()  # no grads yet: must not fail
    X = torch.randn(4, 5, generator=gen(16))
    model(X).sum().backward()
    first = [p.grad.clone() for p in model.parameters()]
    opt.zero_grad()
    assert all(p.grad is None or not p.grad.any() for p in model.parameters())
    model(X).sum().backward()  # fresh, not accumulated
    for p, g in zip(model.parameters(), first):
        torch.testing.assert_close(p.grad, g)


# ----------------------------------------------------------------------- MatMul


def test_matmul_forward_backward():
    X = torch.randn(3, 4, generator=gen(17), requires_grad=True)
    Y = torch.randn(4, 5, generator=gen(18), requires_grad=True)
    G = torch.randn(3, 5, generator=gen(19))
    Z = ref.MatMul.apply(X, Y)
    torch.testing.assert_close(Z, X @ Y)
    dX, dY = torch.autograd.grad(Z, (X, Y), G)
    eX, eY = torch.autograd.grad(X @ Y, (X, Y), G)
    assert dX.shape == (3, 4) and dY.shape == (4, 5)
    torch.testing.assert_close(dX, eX)
    torch.testing.assert_close(dY, eY)
    # only one input needs a gradient
    (dY_only,) = torch.autograd.grad(ref.MatMul.apply(X.detach(), Y), Y, G)
    torch.testing.assert_close(dY_only, eY)


def test_matmul_gradcheck():
    X = torch.randn(3, 4, generator=gen(20), dtype=torch.float64, requires_grad=True)
    Y = torch.randn(4, 5, generator=gen(21), dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(ref.MatMul.apply, (X, Y))


# ------------------------------------------------------------- loss_01 and epoch


def test_loss_01():
    H = torch.tensor([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7], [0.6, 0.4]])
    assert ref.loss_01(H, torch.tensor([1, 0, 1, 0])) == 0.0
    assert ref.loss_01(H, torch.tensor([0, 1, 0, 1])) == 1.0
    out = ref.loss_01(H, torch.tensor([1, 0, 0, 0]))
    assert isinstance(out, float) and out == 0.25
    H = torch.randn(50, 7, generator=gen(22))
    Y = torch.randint(0, 7, (50,), generator=gen(23))
    assert ref.loss_01(H, Y) == pytest.approx((H.argmax(1) != Y).float().mean().item())


def _epoch_setup():
    torch.manual_seed(6)
    model = nn.Sequential(nn.Linear(20, 16), nn.ReLU(), nn.Linear(16, 5))
    X = torch.randn(250, 20, generator=gen(24))
    Y = torch.randint(0, 5, (250,), generator=gen(25))
    return model, X, Y


def _hand_epoch(model, X, Y, opt, batch_size):
    errs, losses = [], []
    for start in (0, 100, 200):
        xb, yb = X[start : start + batch_size], Y[start : start + batch_size]
        H = model(xb)
        loss = F.cross_entropy(H, yb)
        if opt is not None:
            opt.zero_grad()
            loss.backward()
            opt.step()
        errs.append((H.argmax(1) != yb).sum().item() / len(yb))
        losses.append(loss.item())
    return sum(errs) / 3, sum(losses) / 3


def test_epoch_training_matches_hand_loop():
    model, X, Y = _epoch_setup()
    twin = copy.deepcopy(model)
    err, loss = ref.epoch(model, X, Y, torch.optim.SGD(model.parameters(), lr=0.1), batch_size=100)
    e_err, e_loss = _hand_epoch(twin, X, Y, torch.optim.SGD(twin.parameters(), lr=0.1), 100)
    assert isinstance(err, float) and isinstance(loss, float)
    assert err == pytest.approx(e_err, abs=1e-12)
    assert loss == pytest.approx(e_loss, rel=1e-6)
    for p, q in zip(model.parameters(), twin.parameters()):
        torch.testing.assert_close(p, q)


def test_epoch_averages_over_batches_not_samples():
    model, X, Y = _epoch_setup()
    per_batch = []
    with torch.no_grad():
        for start in (0, 100, 200):
            per_batch.append(F.cross_entropy(model(X[start : start + 100]), Y[start : start + 100]).item())
    _, loss = ref.epoch(model, X, Y, None, batch_size=100)
    assert loss == pytest.approx(sum(per_batch) / 3, rel=1e-6)
    weighted = (100 * per_batch[0] + 100 * per_batch[1] + 50 * per_batch[2]) / 250
    assert abs(loss - weighted) > 1e-6  # the data is random enough for the two to differ


def test_epoch_evaluation_changes_nothing():
    model, X, Y = _epoch_setup()
    before = [p.detach().clone() for p in model.parameters()]
    err, loss = ref.epoch(model, X, Y)
    e_err, e_loss = _hand_epoch(model, X, Y, None, 100)
    assert err == pytest.approx(e_err, abs=1e-12) and loss == pytest.approx(e_loss, rel=1e-6)
    for p, b in zip(model.parameters(), before):
        assert torch.equal(p, b) and p.grad is None


def test_epoch_with_reference_parts():
    torch.manual_seed(7)
    model = ref.two_layer_net(20, 16, 5)
    _, X, Y = _epoch_setup()
    twin = copy.deepcopy(model)
    got = ref.epoch(model, X, Y, ref.SGD(model.parameters(), lr=0.1))
    expected = _hand_epoch(twin, X, Y, torch.optim.SGD(twin.parameters(), lr=0.1), 100)
    assert got == pytest.approx(expected, rel=1e-6)
    for p, q in zip(model.parameters(), twin.parameters()):
        torch.testing.assert_close(p, q)


# -------------------------------------------------- solutions agree with reference


def test_solution_softmax_family():
    x = torch.randn(3, 4, 6, generator=gen(26)) * 50
    x[0, 0] = torch.tensor([0.0, -1000.0, 1000.0, 999.5, -3.0, 2.0])
    before = x.clone()
    torch.testing.assert_close(load("solutions", 1).softmax(x), ref.softmax(x))
    torch.testing.assert_close(load("solutions", 2).log_softmax(x), ref.log_softmax(x))
    assert torch.equal(x, before)


def test_solution_cross_entropy():
    sol = load("solutions", 3)
    logits = torch.randn(13, 6, generator=gen(27)) * 4
    logits[0] = torch.tensor([1000.0, -1000.0, 999.5, 0.0, -1000.0, 1000.0])
    targets = torch.randint(0, 6, (13,), generator=gen(28))
    out = sol.cross_entropy(logits, targets)
    assert out.dim() == 0
    torch.testing.assert_close(out, ref.cross_entropy(logits, targets))
    torch.testing.assert_close(sol.CrossEntropyLoss()(logits, targets), ref.cross_entropy(logits, targets))


def test_solution_linear():
    sol = load("solutions", 4)
    torch.manual_seed(8)
    ours = sol.Linear(9, 4, init_factor=1.5)
    torch.manual_seed(8)
    theirs = ref.Linear(9, 4, init_factor=1.5)
    assert [n for n, _ in ours.named_parameters()] == ["weight", "bias"]
    torch.testing.assert_close(ours.weight, theirs.weight)  # same single randn draw
    X = torch.randn(5, 9, generator=gen(29))
    torch.testing.assert_close(ours(X), theirs(X))
    assert sol.Linear(9, 4, bias=False).bias is None


def test_solution_relu_and_sequential():
    X = torch.randn(4, 5, generator=gen(30))
    relu = load("solutions", 5).ReLU()
    assert list(relu.parameters()) == []
    torch.testing.assert_close(relu(X), ref.ReLU()(X))
    torch.manual_seed(9)
    layers = [nn.Linear(5, 3), nn.ReLU(), nn.Linear(3, 2)]
    net = load("solutions", 6).Sequential(*layers)
    assert len(list(net.parameters())) == 4
    torch.testing.assert_close(net(X), ref.Sequential(*layers)(X))


def test_solution_sgd():
    sol = load("solutions", 7)
    a, a_unused = _sgd_model(10)
    b, b_unused = _sgd_model(10)
    X = torch.randn(8, 5, generator=gen(31))
    Y = torch.randint(0, 3, (8,), generator=gen(32))
    opts = [
        (a, sol.SGD((p for p in [*a.parameters(), a_unused]), lr=0.1)),
        (b, ref.SGD([*b.parameters(), b_unused], lr=0.1)),
    ]
    for _ in range(3):
        for model, opt in opts:
            opt.zero_grad()
            F.cross_entropy(model(X), Y).backward()
            opt.step()
    for p, q in zip(a.parameters(), b.parameters()):
        torch.testing.assert_close(p, q)


def test_solution_matmul():
    sol = load("solutions", 8)
    X = torch.randn(3, 4, generator=gen(33), dtype=torch.float64, requires_grad=True)
    Y = torch.randn(4, 5, generator=gen(34), dtype=torch.float64, requires_grad=True)
    G = torch.randn(3, 5, generator=gen(35), dtype=torch.float64)
    ours = torch.autograd.grad(sol.MatMul.apply(X, Y), (X, Y), G)
    theirs = torch.autograd.grad(ref.MatMul.apply(X, Y), (X, Y), G)
    for g, h in zip(ours, theirs):
        torch.testing.assert_close(g, h)


def test_solution_epoch():
    sol = load("solutions", 9)
    model, X, Y = _epoch_setup()
    twin = copy.deepcopy(model)
    assert sol.loss_01(model(X), Y) == pytest.approx(ref.loss_01(model(X), Y), abs=1e-7)
    got = sol.epoch(model, X, Y, torch.optim.SGD(model.parameters(), lr=0.1))
    expected = ref.epoch(twin, X, Y, torch.optim.SGD(twin.parameters(), lr=0.1))
    assert all(isinstance(v, float) for v in got)
    assert got == pytest.approx(expected, rel=1e-6, abs=1e-7)
    for p, q in zip(model.parameters(), twin.parameters()):
        torch.testing.assert_close(p, q)


# -------------------------------------------------------- stubs are unimplemented


def _stub_calls(number, m):
    X = torch.randn(4, 3)
    Y = torch.tensor([0, 1, 2, 0])
    return {
        1: [lambda: m.softmax(X)],
        2: [lambda: m.log_softmax(X)],
        3: [lambda: m.cross_entropy(X, Y), lambda: m.CrossEntropyLoss()(X, Y)],
        4: [lambda: m.Linear(3, 2)],
        5: [lambda: m.ReLU()(X)],
        6: [lambda: m.Sequential(nn.ReLU())],
        7: [lambda: m.SGD([nn.Parameter(X)])],
        8: [lambda: m.MatMul.apply(X, X.T), lambda: m.MatMul.backward(None, X)],
        9: [lambda: m.loss_01(X, Y), lambda: m.epoch(nn.Linear(3, 3), X, Y)],
    }[number]


@pytest.mark.parametrize("number", sorted(EXERCISE_FILES))
def test_stub_raises_not_implemented(number):
    module = load("exercises", number)
    for call in _stub_calls(number, module):
        with pytest.raises(NotImplementedError):
            call()
