# hint: passed twice ran only once.*children\(\)
"""Exercise 6: layers registered by position, forward walks self.children().

children() yields every registered module object once, so Sequential(lin, act, lin)
applies lin a single time."""
from torch import nn


class Sequential(nn.Module):
    def __init__(self, *layers):
        super().__init__()
        for position, module in enumerate(layers):
            self.add_module(f"step{position}", module)

    def forward(self, inputs):
        hidden = inputs
        for module in self.children():
            hidden = module(hidden)
        return hidden
