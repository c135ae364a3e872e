# hint: 3 mistakes together.*You returned \(loss, accuracy\).*averaged over samples
"""Exercise 9: running sums weighted by the batch size, divided by the number of samples, returning
(loss, accuracy): three departures from the contract at once."""
import torch
import torch.nn.functional as F


def loss_01(H, Y):
    return (H.argmax(dim=1) != Y).float().mean().item()


def epoch(model, X_full, Y_full, opt=None, batch_size=100):
    running_loss, correct, seen = 0.0, 0, 0
    for first in range(0, X_full.size(0), batch_size):
        inputs = X_full[first:first + batch_size]
        targets = Y_full[first:first + batch_size]
        outputs = model(inputs)
        loss = F.cross_entropy(outputs, targets)
        if opt is not None:
            opt.zero_grad()
            loss.backward()
            opt.step()
        running_loss += loss.item() * inputs.size(0)
        correct += (outputs.argmax(dim=1) == targets).sum().item()
        seen += inputs.size(0)
    return running_loss / seen, correct / seen
