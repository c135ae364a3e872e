# hint: averaged over samples
"""Exercise 9: epoch -- weights each batch by its size (a mean over samples, not over batches)."""
import torch
import torch.nn.functional as F


def loss_01(H, Y):
    return (H.argmax(dim=1) != Y).float().mean().item()


def epoch(model, X_full, Y_full, opt=None, batch_size=100):
    total_err, total_loss = 0.0, 0.0
    n = X_full.shape[0]
    for i in range(0, n, batch_size):
        X, Y = X_full[i:i + batch_size], Y_full[i:i + batch_size]
        H = model(X)
        loss = F.cross_entropy(H, Y)
        if opt is not None:
            opt.zero_grad()
            loss.backward()
            opt.step()
        total_err += loss_01(H, Y) * X.shape[0]
        total_loss += loss.item() * X.shape[0]
    return total_err / n, total_loss / n
