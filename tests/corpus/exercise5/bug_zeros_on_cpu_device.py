# hint: new tensor on the CPU whatever the input.s device
import torch
class ReLU(torch.nn.Module):
    def forward(self, X):
        return torch.maximum(X, torch.zeros(X.shape, dtype=X.dtype))
