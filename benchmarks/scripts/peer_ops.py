"""Tensor helpers shared by the PyTorch CPU peers (generate_bench_torch.py, train_bench_torch.py): the model's norms,
head reshapes, attention and T5 buckets, written once. Float32, any leading batch dimensions."""
import math
import torch


def rms(x, s): return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6) * s


def l2(x): return x * torch.rsqrt(x.pow(2).sum(-1, keepdim=True) + 1e-6)


def head_split(H, D):
    """heads: [.., T, H*D] -> [.., H, T, D]; merge: the inverse."""
    def heads(x): return x.view(*x.shape[:-1], H, D).transpose(-2, -3)
    def merge(x): return x.transpose(-2, -3).reshape(*x.shape[:-3], x.shape[-2], H * D)
    return heads, merge


def attend(q, k, v, t, bias=None, mask=None):
    """softmax((q k^T + bias) * t, masked) v, t one temperature per head."""
    a = q @ k.transpose(-1, -2)
    if bias is not None: a = a + bias
    a = a * t.view(-1, 1, 1)
    if mask is not None: a = a.masked_fill(~mask, -1e6)
    return torch.softmax(a, -1) @ v


def t5_bucket(delta, buckets=32, max_distance=128):
    """The T5 bucket of a distance (spec §1.3): exact below buckets / 2, logarithmic up to max_distance."""
    exact = buckets // 2
    delta = delta.clamp(min=0)
    large = exact + (torch.log(delta.float() / exact + 1.1920929e-07) / math.log(max_distance / exact)
                     * (buckets - exact)).long()
    return torch.where(delta < exact, delta, large.clamp(max=buckets - 1))
