# hint: You returned \(loss, accuracy\)
"""Exercise 9: a training loop in the common tutorial style, reporting (loss, accuracy) per batch."""
import torch
import torch.nn.functional as F


def loss_01(H, Y):
    return (H.argmax(dim=1) != Y).float().mean().item()


def epoch(model, X_full, Y_full, opt=None, batch_size=100):
    batch_losses, batch_accs = [], []
    for start in range(0, len(X_full), batch_size):
        xb = X_full[start:start + batch_size]
        yb = Y_full[start:start + batch_size]
        logits = model(xb)
        loss = F.cross_entropy(logits, yb)
        if opt is not None:
            opt.zero_grad()
            loss.backward()
            opt.step()
        batch_losses.append(loss.item())
        batch_accs.append((logits.argmax(1) == yb).float().mean().item())
    return sum(batch_losses) / len(batch_losses), sum(batch_accs) / len(batch_accs)
