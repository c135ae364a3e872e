"""Exercise 6: a Sequential container.  Replace the ``raise`` lines."""
import torch
from torch import nn


class Sequential(nn.Module):
    """Chain layers: ``Sequential(l1, l2, l3)(X) == l3(l2(l1(X)))``.

    __init__(*layers): takes any number of modules (nn.Module instances) and
    stores them IN ORDER as registered submodules.
    forward(X): feeds X through every layer in order and returns the output
    of the last one.  With no layers it returns X unchanged.

    Example (it is tested with torch's own layers):
        net = Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
        net(torch.randn(5, 4)).shape  -> torch.Size([5, 2])
        len(list(net.parameters()))   -> 4

    Traps:
      * Call ``super().__init__()`` first.
      * Register the layers.  A plain Python list (``self.layers = list(layers)``)
        hides them from nn.Module: .parameters() is then empty (nothing gets
        trained), and .to(), .double(), .train()/.eval() and state_dict()
        skip them.  Use ``nn.ModuleList(layers)`` or ``self.add_module(str(i),
        layer)``.
      * Keep the order the layers were given in.
      * Call each layer as ``layer(X)``, not ``layer.forward(X)``.

    Forbidden: nn.Sequential (and torch.nn.Sequential in any spelling).
    Allowed: nn.ModuleList, nn.ModuleDict, add_module, a for loop.
    """

    def __init__(self, *layers):
        super().__init__()
        raise NotImplementedError("Sequential.__init__(*layers) is not written yet: see the class docstring")

    def forward(self, X):
        raise NotImplementedError("Sequential.forward(X) is not written yet: see the class docstring")
