"""Exercise 9: correct: `if opt:` guards the update.

Shape seen in public course code (an epoch(model, loader, opt=None) helper in public course code); written fresh for this corpus."""
import torch.nn.functional as F


def loss_01(H, Y):
    return (H.argmax(dim=1) != Y).float().mean().item()


def epoch(model, X_full, Y_full, opt=None, batch_size=100):
    errs, losses = [], []
    for i in range(0, X_full.shape[0], batch_size):
        X, Y = X_full[i:i + batch_size], Y_full[i:i + batch_size]
        H = model(X)
        loss = F.cross_entropy(H, Y)
        if opt:
            opt.zero_grad()
            loss.backward()
            opt.step()
        errs.append(loss_01(H, Y))
        losses.append(loss.item())
    return sum(errs) / len(errs), sum(losses) / len(losses)
