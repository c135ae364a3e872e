# hint: 2 mistakes together.*Gradients accumulate.*averaged over samples
"""Exercise 9: gradients never cleared, and the figures weighted by batch size."""
import torch.nn.functional as F


def loss_01(H, Y):
    return (H.argmax(dim=1) != Y).float().mean().item()


def epoch(model, X_full, Y_full, opt=None, batch_size=100):
    n = X_full.shape[0]
    err_sum = loss_sum = 0.0
    for i in range(0, n, batch_size):
        H = model(X_full[i:i + batch_size])
        Y = Y_full[i:i + batch_size]
        loss = F.cross_entropy(H, Y)
        if opt is not None:
            loss.backward()
            opt.step()
        err_sum += loss_01(H, Y) * len(Y)
        loss_sum += loss.item() * len(Y)
    return err_sum / n, loss_sum / n
