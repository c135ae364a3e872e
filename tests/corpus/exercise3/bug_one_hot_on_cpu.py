# hint: new tensor on the CPU whatever the input.s device
import torch
def cross_entropy(logits, targets):
    z = logits - logits.max(dim=-1, keepdim=True).values
    lp = z - torch.logsumexp(z, dim=-1, keepdim=True)
    onehot = torch.zeros(logits.shape, dtype=logits.dtype)
    onehot[torch.arange(len(targets)), targets] = 1
    return -(lp * onehot).sum(dim=-1).mean()
class CrossEntropyLoss(torch.nn.Module):
    def forward(self, H, Y):
        return cross_entropy(H, Y)
