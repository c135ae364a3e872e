"""Exercise 9: correct, returning numpy.float64 figures from np.mean.

Shape seen in public course code (liuxin85/notebooks (np.mean over mini-batch losses)); written fresh for this corpus."""
import numpy as np
import torch.nn.functional as F


def loss_01(H, Y):
    return (H.argmax(dim=1) != Y).float().mean().item()


def epoch(model, X_full, Y_full, opt=None, batch_size=100):
    errs, losses = [], []
    for start in range(0, X_full.shape[0], batch_size):
        X, Y = X_full[start:start + batch_size], Y_full[start:start + batch_size]
        H = model(X)
        loss = F.cross_entropy(H, Y)
        if opt is not None:
            opt.zero_grad()
            loss.backward()
            opt.step()
        errs.append(loss_01(H, Y))
        losses.append(loss.item())
    return np.mean(errs), np.mean(losses)
