"""Twin of `examples/digits.rs --bench`: the class-conditional digits U-Net of seed 002 §5-§6
(the crate's `models::UNet` with `UNetConfig::digits()`, 113 665 parameters) trained and
sampled in PyTorch (CPU, 2 threads, float32).

Architecture (as `src/models/unet.rs`): t -> 32 sinusoidal pairs [sin(1000 t w_k), cos(1000 t w_k)],
w_k = 10000^(-k/32) -> Linear(64, 64) -> SiLU -> Linear(64, 64), plus a learned embedding of the
label (10 classes and the null label 10); x (B,1,8,8) -> conv3x3(1,16) -> Res(16) = h1;
conv3x3 stride 2 -> Res(32) = h2; conv3x3 stride 2 -> Res(32) (middle); nearest x2, cat h2 ->
Res(64 -> 32); nearest x2, cat h1 -> Res(48 -> 16); GroupNorm -> SiLU -> conv3x3(16, 1). A
residual block: GroupNorm(min(8, c)) -> SiLU -> conv3x3 -> + Linear(SiLU(e)) -> GroupNorm ->
SiLU -> conv3x3, plus its input (a 1x1 conv where the channels change).

Training (as `train_dsm_conditional`): the 1797 digits of data/digits.csv.gz scaled to [-1, 1],
minibatches of 128, labels replaced by the null label with probability 0.1, t ~ U[1e-3, 0.99]
under the cosine VP schedule (s = 0.008), loss = mean over the batch of ||eps_hat - eps||^2
summed over the 64 pixels, Adam lr 2e-3. Sampling: every class, `--per-class` images each,
DPM-Solver++(2M) with 10 steps and classifier-free guidance w = 1 (two network calls per step:
the label and the null label), as `sample_classes` with `DpmSolverPP2M::new(10)`.

Prints one `BENCH {...}` line (see common.emit). Usage: python unet.py [--steps K] [--per-class N]
"""
import argparse
import gzip
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common as C  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SIDE, CLASSES, C_FULL, EMBED, GROUPS = 8, 10, 16, 64, 8
T_EPS, T_MAX, COSINE_S = 1e-3, 0.99, 0.008


def load_digits():
    with gzip.open(os.path.join(ROOT, "data", "digits.csv.gz"), "rt") as f:
        rows = np.loadtxt(f, delimiter=",")
    return rows[:, :64] / 8.0 - 1.0, rows[:, 64].astype(np.int64)


def alpha_sigma(t):
    """The cosine VP schedule: alpha_bar(t) = cos^2((t+s)/(1+s) pi/2) / cos^2(s/(1+s) pi/2)."""
    f = lambda u: torch.cos((u + COSINE_S) / (1 + COSINE_S) * math.pi / 2) ** 2
    abar = f(t) / f(torch.zeros_like(t))
    return abar.sqrt(), (1 - abar).clamp_min(0).sqrt()


class ResBlock(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.norm1 = nn.GroupNorm(min(GROUPS, cin), cin, eps=1e-5)
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.emb = nn.Linear(EMBED, cout)
        self.norm2 = nn.GroupNorm(min(GROUPS, cout), cout, eps=1e-5)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else None

    def forward(self, x, e):
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + self.emb(F.silu(e))[:, :, None, None]
        h = self.conv2(F.silu(self.norm2(h)))
        return h + (self.skip(x) if self.skip is not None else x)


class UNet(nn.Module):
    def __init__(self):
        super().__init__()
        c, e = C_FULL, EMBED
        k = torch.arange(e // 2, dtype=torch.float64)
        self.register_buffer("freq", (1000.0 * 10000.0 ** (-k / (e // 2))).float()[None, :])
        self.time = nn.Sequential(nn.Linear(e, e), nn.SiLU(), nn.Linear(e, e))
        self.cls = nn.Embedding(CLASSES + 1, e)
        self.conv_in = nn.Conv2d(1, c, 3, padding=1)
        self.res_full = ResBlock(c, c)
        self.down1 = nn.Conv2d(c, 2 * c, 3, stride=2, padding=1)
        self.res_half = ResBlock(2 * c, 2 * c)
        self.down2 = nn.Conv2d(2 * c, 2 * c, 3, stride=2, padding=1)
        self.middle = ResBlock(2 * c, 2 * c)
        self.up_half = ResBlock(4 * c, 2 * c)
        self.up_full = ResBlock(3 * c, c)
        self.norm_out = nn.GroupNorm(GROUPS, c, eps=1e-5)
        self.conv_out = nn.Conv2d(c, 1, 3, padding=1)

    def forward(self, x, t, y):
        a = t * self.freq
        e = self.time(torch.cat([torch.sin(a), torch.cos(a)], dim=1)) + self.cls(y)
        h1 = self.res_full(self.conv_in(x), e)
        h2 = self.res_half(self.down1(h1), e)
        m = self.middle(self.down2(h2), e)
        u = self.up_half(torch.cat([F.interpolate(m, scale_factor=2, mode="nearest"), h2], 1), e)
        u = self.up_full(torch.cat([F.interpolate(u, scale_factor=2, mode="nearest"), h1], 1), e)
        return self.conv_out(F.silu(self.norm_out(u)))


def train(net, x, y, steps, batch, gen):
    opt = torch.optim.Adam(net.parameters(), lr=2e-3)
    n = x.shape[0]
    losses = []
    start = time.perf_counter()
    for _ in range(steps):
        idx = torch.randint(0, n, (batch,), generator=gen)
        x0, yb = x[idx], y[idx].clone()
        yb[torch.rand(batch, generator=gen) < 0.1] = CLASSES
        t = T_EPS + (T_MAX - T_EPS) * torch.rand(batch, 1, generator=gen)
        a, s = alpha_sigma(t)
        eps = torch.randn(x0.shape, generator=gen)
        xt = a[:, :, None, None] * x0 + s[:, :, None, None] * eps
        loss = ((net(xt, t, yb) - eps) ** 2).sum(dim=(1, 2, 3)).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return time.perf_counter() - start, losses


@torch.no_grad()
def sample_class(net, label, n, w, steps, gen):
    """DPM-Solver++(2M) on a uniform time grid from T_MAX to T_EPS, guided eps = (1+w) eps_y - w eps_null."""
    ts = torch.linspace(T_MAX, T_EPS, steps + 1)
    x = torch.randn(n, 1, SIDE, SIDE, generator=gen)
    y = torch.full((n,), label, dtype=torch.long)
    null = torch.full((n,), CLASSES, dtype=torch.long)
    prev = None
    for i in range(steps):
        t, t_next = ts[i], ts[i + 1]
        a, s = alpha_sigma(t)
        a_n, s_n = alpha_sigma(t_next)
        tt = torch.full((n, 1), float(t))
        eps = (1 + w) * net(x, tt, y) - w * net(x, tt, null)
        x0 = (x - s * eps) / a
        lam, lam_n = torch.log(a / s), torch.log(a_n / s_n)
        h = lam_n - lam
        d = x0
        if prev is not None:
            x0_prev, h_prev = prev
            r = h_prev / h
            d = (1 + 1 / (2 * r)) * x0 - 1 / (2 * r) * x0_prev
        x = (s_n / s) * x - a_n * torch.expm1(-h) * d
        prev = (x0, h)
    return x


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--per-class", type=int, default=100)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    torch.set_num_threads(2)
    torch.manual_seed(args.seed)
    gen = torch.Generator().manual_seed(args.seed)
    xs, ys = load_digits()
    x = torch.tensor(xs, dtype=torch.float32).reshape(-1, 1, SIDE, SIDE)
    y = torch.tensor(ys)
    net = UNet()
    params = sum(p.numel() for p in net.parameters())
    seconds, losses = train(net, x, y, args.steps, args.batch, gen)
    train_rate = args.steps * args.batch / seconds
    tail = losses[-100:]
    print(f"training: {args.steps} steps x batch {args.batch} in {seconds:.1f} s: {train_rate:.0f} images/s; "
          f"mean loss of the last {len(tail)} {sum(tail) / len(tail):.4f} ({params} parameters)")
    start = time.perf_counter()
    images = [sample_class(net, c, args.per_class, 1.0, 10, gen) for c in range(CLASSES)]
    samp = time.perf_counter() - start
    n = CLASSES * args.per_class
    print(f"sampling: DPM-Solver++(2M), 10 steps, w = 1: {n} images in {samp:.2f} s = {n / samp:.1f} images/s "
          f"(range [{min(float(i.min()) for i in images):.2f}, {max(float(i.max()) for i in images):.2f}])")
    C.emit("unet", {
        "train_images_per_s": train_rate,
        "train_s": seconds,
        "loss_last100": sum(tail) / len(tail),
        "sample_images_per_s": n / samp,
    }, {"threads": torch.get_num_threads(), "steps": args.steps, "parameters": params})


if __name__ == "__main__":
    main()
