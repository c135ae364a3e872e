# hint: last, smaller batch was left out
"""Exercise 9: epoch -- stops before the last, smaller batch."""
import torch
import torch.nn.functional as F


def loss_01(H, Y):
    return (H.argmax(dim=1) != Y).float().mean().item()


def epoch(model, X_full, Y_full, opt=None, batch_size=100):
    errors, losses = [], []
    n_batches = X_full.shape[0] // batch_size
    for b in range(max(n_batches, 1)):
        X, Y = X_full[b * batch_size:(b + 1) * batch_size], Y_full[b * batch_size:(b + 1) * batch_size]
        H = model(X)
        loss = F.cross_entropy(H, Y)
        if opt is not None:
            opt.zero_grad()
            loss.backward()
            opt.step()
        errors.append(loss_01(H, Y))
        losses.append(loss.item())
    return sum(errors) / len(errors), sum(losses) / len(losses)
