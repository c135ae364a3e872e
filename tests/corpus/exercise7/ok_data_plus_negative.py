"""Exercise 7: correct: p.data += -lr * p.grad.

Shape seen in public course code (SGD classes in public from-scratch repos); written fresh for this corpus."""
class SGD:
    def __init__(self, params, lr=1.0):
        self.parameters = list(params)
        self.lr = lr

    def step(self):
        for p in self.parameters:
            if p.grad is not None:
                p.data += (-1 * self.lr) * p.grad

    def zero_grad(self):
        for p in self.parameters:
            if p.grad is not None:
                p.grad.zero_()
