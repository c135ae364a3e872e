# hint: subtract each row's max
"""Exercise 2: log-softmax from the first line of the formula."""
import torch


def log_softmax(x):
    return x - torch.log(torch.sum(torch.exp(x), dim=-1, keepdim=True))
