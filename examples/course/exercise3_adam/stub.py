"""Exercise 3: the Adam optimizer.

Write a class `Adam` that updates parameters as torch.optim.Adam does (without using it):

    opt = Adam(model.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0)
    loss.backward(); opt.step(); opt.zero_grad()

* `__init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0)`: params is
  any iterable of tensors (model.parameters() is a generator: keep `list(params)`);
* `step(self)`: for every parameter p whose p.grad is not None, with its own state (m and v,
  zeros of p's shape at first) and t, the number of step() calls so far including this one:

      g = p.grad + weight_decay * p          (weight decay is off by default: weight_decay=0)
      m = beta1 * m + (1 - beta1) * g
      v = beta2 * v + (1 - beta2) * g * g
      m_hat = m / (1 - beta1 ** t)           (bias correction)
      v_hat = v / (1 - beta2 ** t)
      p <- p - lr * m_hat / (sqrt(v_hat) + eps)   (eps outside the square root)

  changing p in place under torch.no_grad() (p.sub_(...), p -= ...);
* `zero_grad(self)`: clear every parameter's gradient (p.grad = None, or zero it).

Each parameter has its own m and v, and each Adam object its own state.  torch.optim's
optimizers (and subclassing torch.optim.Optimizer) are what you are rebuilding.
"""

import torch  # noqa: F401 (step and zero_grad will use it)


class Adam:
    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8, weight_decay: float = 0):
        raise NotImplementedError("write Adam.__init__")

    def step(self) -> None:
        raise NotImplementedError("write Adam.step")

    def zero_grad(self) -> None:
        raise NotImplementedError("write Adam.zero_grad")
