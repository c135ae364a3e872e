# hint: moves a tensor to a device it chooses itself
"""Exercise 5: zeros_like for the comparison, then the result moved to a device picked from the machine."""
import torch
import torch.nn as nn


class ReLU(nn.Module):
    def __init__(self):
        super().__init__()
        self.device = torch.device("cuda" if torch.cuda.is_available() else "cpu")

    def forward(self, X):
        out = torch.max(X, torch.zeros_like(X))
        return out.to(self.device)
