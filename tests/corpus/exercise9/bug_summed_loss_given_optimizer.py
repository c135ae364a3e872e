# hint: steps the optimizer it was given
"""Exercise 9: the given optimizer is used, but on the batch's summed loss instead of its mean."""
import torch.nn.functional as F


def loss_01(H, Y):
    return (H.argmax(dim=1) != Y).float().mean().item()


def epoch(model, X_full, Y_full, opt=None, batch_size=100):
    errors, losses = [], []
    for i in range(0, X_full.shape[0], batch_size):
        X, Y = X_full[i:i + batch_size], Y_full[i:i + batch_size]
        H = model(X)
        total = F.cross_entropy(H, Y, reduction="sum")
        if opt is not None:
            opt.zero_grad()
            total.backward()
            opt.step()
        errors.append(loss_01(H, Y))
        losses.append(total.item() / len(Y))
    return sum(errors) / len(errors), sum(losses) / len(losses)
