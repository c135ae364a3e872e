"""Exercise 9: correct, returning numpy.float64 figures (a tensor's .numpy().mean(): no import of numpy,
which is not on the course's list of imports).

Shape seen in public course code (liuxin85/notebooks (np.mean over mini-batch losses)); written fresh for this corpus."""
import torch
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
    return (torch.tensor(errs, dtype=torch.float64).numpy().mean(),
            torch.tensor(losses, dtype=torch.float64).numpy().mean())
