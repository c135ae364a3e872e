# hint: whole set (was used )?as one batch
"""Exercise 9: epoch -- ignores batch_size and uses the whole data set as one batch."""
import torch
import torch.nn.functional as F


def loss_01(H, Y):
    return (H.argmax(dim=1) != Y).float().mean().item()


def epoch(model, X_full, Y_full, opt=None, batch_size=100):
    H = model(X_full)
    loss = F.cross_entropy(H, Y_full)
    if opt is not None:
        opt.zero_grad()
        loss.backward()
        opt.step()
    return loss_01(H, Y_full), loss.item()
