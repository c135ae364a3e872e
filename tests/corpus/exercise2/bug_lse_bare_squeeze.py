# hint: size 1|squeeze
"""Exercise 2: x minus a hand-written log-sum-exp squeezed with a bare .squeeze() then unsqueezed: wrong whenever another dimension has size 1.

Shape seen in public course code (logsumexp-based log-softmax helpers in public course code); written fresh for this corpus."""
import torch


def log_softmax(x):
    m = x.max(dim=-1, keepdim=True).values
    lse = (m + torch.log(torch.exp(x - m).sum(dim=-1, keepdim=True))).squeeze()
    return x - lse.unsqueeze(-1)
