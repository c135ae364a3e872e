"""Exercise 7: correct: p.data replaced by the updated values.

Shape seen in public course code (surya-1729/Deep-Learning); written fresh for this corpus."""
class SGD:
    def __init__(self, params, lr=1.0):
        self.params = list(params)
        self.lr = lr

    def step(self):
        for par in self.params:
            if par.grad is not None:
                par.data = par.data - self.lr * par.grad.data

    def zero_grad(self):
        for par in self.params:
            par.grad = None
