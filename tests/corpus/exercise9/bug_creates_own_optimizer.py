# hint: optimizer you were given never stepped
"""Exercise 9: builds a fresh plain SGD every call instead of stepping the optimizer passed in."""
import torch
import torch.nn.functional as F


def loss_01(H, Y):
    return (H.argmax(dim=1) != Y).float().mean().item()


def epoch(model, X_full, Y_full, opt=None, batch_size=100):
    trainer = torch.optim.SGD(model.parameters(), lr=0.05) if opt is not None else None
    errs, losses = [], []
    for i in range(0, X_full.shape[0], batch_size):
        X, Y = X_full[i:i + batch_size], Y_full[i:i + batch_size]
        H = model(X)
        loss = F.cross_entropy(H, Y)
        if trainer is not None:
            trainer.zero_grad()
            loss.backward()
            trainer.step()
        errs.append(loss_01(H, Y))
        losses.append(loss.item())
    return sum(errs) / len(errs), sum(losses) / len(losses)
