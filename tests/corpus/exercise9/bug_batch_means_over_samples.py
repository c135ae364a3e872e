# hint: samples
"""Exercise 9: sums per-batch mean losses and counts of errors, divides both by the number of samples.

Shape seen in public course code (an epoch(model, loader, opt=None) helper seen in public course code); written fresh for this corpus."""
import torch.nn.functional as F


def loss_01(H, Y):
    return (H.argmax(dim=1) != Y).float().mean().item()


def epoch(model, X_full, Y_full, opt=None, batch_size=100):
    total_loss, total_err = 0.0, 0.0
    for i in range(0, X_full.shape[0], batch_size):
        X, Y = X_full[i:i + batch_size], Y_full[i:i + batch_size]
        H = model(X)
        loss = F.cross_entropy(H, Y)
        if opt:
            opt.zero_grad()
            loss.backward()
            opt.step()
        total_err += (H.max(dim=1)[1] != Y).sum().item()
        total_loss += loss.item()
    return total_err / X_full.shape[0], total_loss / X_full.shape[0]
