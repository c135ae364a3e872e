# hint: last, smaller batch out of the count
"""Exercise 9: divides by len(X_full) // batch_size batches (drops the partial one from the count).

Shape seen in public course code (epoch helpers that count batches by integer division, in public course code); written fresh for this corpus."""
import torch.nn.functional as F


def loss_01(H, Y):
    return (H.argmax(dim=1) != Y).float().mean().item()


def epoch(model, X_full, Y_full, opt=None, batch_size=100):
    err_sum, loss_sum = 0.0, 0.0
    for i in range(0, len(X_full), batch_size):
        X, Y = X_full[i:i + batch_size], Y_full[i:i + batch_size]
        H = model(X)
        loss = F.cross_entropy(H, Y)
        if opt is not None:
            opt.zero_grad()
            loss.backward()
            opt.step()
        err_sum += loss_01(H, Y)
        loss_sum += loss.item()
    n_batches = max(1, len(X_full) // batch_size)
    return err_sum / n_batches, loss_sum / n_batches
