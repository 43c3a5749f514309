"""Twin of `examples/appendix_bench.rs`: seed 000's appendix network trained on the 2-D
mixture in PyTorch (CPU, 2 threads, float32), then 2000 samples by reverse-SDE
Euler-Maruyama (1000 steps, t from 1 to 1e-3) with the trained network, the loop in torch
float32 as the crate's is in f32.

Corrected variant (the crate's `appendix --variant corrected`): the network predicts eps
(score = -eps_hat / sigma), t embedded by Linear(1,64)-SiLU-Linear(64,64), then
2+64 -> 128 -> 128 -> 128 -> 2 with SiLU; loss ||eps_hat - eps||^2 summed over the two
coordinates and averaged over the full batch of 1000 points; Adam lr 1e-3; 2000 steps.

Improved variant (`--variant improved`): the same MLP, with fixed sinusoidal time features
[sin(1000 t w_k), cos(1000 t w_k)], w_k = 10000^(-k/32) in place of the time MLP; the network
predicts v = alpha eps - sigma x0 with the same eps-space loss (alpha^2 ||v_hat - v||^2 on the
VP SDE); 4000 steps with the learning rate decayed from 1e-3 to 0 along a half cosine; the
samplers use an exponential moving average of the weights (decay 0.999), started from zero and
bias-corrected as Adam's moments are (m / (1 - 0.999^K) after K steps), as the crate's
`DsmConfig::ema`.

Prints one `BENCH {...}` line (see common.emit). Usage: python appendix.py [--variant V] [--steps K]
[--data DIR]. With `--data DIR` it trains on the crate's own draws instead of numpy's:
DIR/data.csv (the 1000 training points), DIR/reference.csv (the fresh points the metrics use)
and DIR/prior.csv (the common prior draw), as `examples/appendix_ablation.rs --dump` writes
them, and also integrates the PF-ODE (Euler, 1000 steps) from the same prior draw: the same
recipe on the same data in both frameworks, seed by seed.
"""
import argparse
import math
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common as C  # noqa: E402

SEED = 0
N_TRAIN, N_SAMPLE, N_STEPS, LR = 1000, 2000, 1000, 1e-3


class ScoreNet(torch.nn.Module):
    def __init__(self, sinusoidal):
        super().__init__()
        self.sinusoidal = sinusoidal
        if sinusoidal:
            k = torch.arange(32, dtype=torch.float64)
            self.register_buffer("freq", (1000.0 / 10000.0 ** (k / 32)).float()[None, :])
        else:
            self.temb = torch.nn.Sequential(torch.nn.Linear(1, 64), torch.nn.SiLU(), torch.nn.Linear(64, 64))
        self.main = torch.nn.Sequential(
            torch.nn.Linear(2 + 64, 128), torch.nn.SiLU(),
            torch.nn.Linear(128, 128), torch.nn.SiLU(),
            torch.nn.Linear(128, 128), torch.nn.SiLU(),
            torch.nn.Linear(128, 2),
        )

    def forward(self, x, t):
        if self.sinusoidal:
            a = t * self.freq
            emb = torch.cat([torch.sin(a), torch.cos(a)], dim=1)
        else:
            emb = self.temb(t)
        return self.main(torch.cat([x, emb], dim=1))


def alpha_sigma(t):
    ib = C.BETA_MIN * t + 0.5 * (C.BETA_MAX - C.BETA_MIN) * t * t
    return torch.exp(-0.5 * ib), torch.sqrt(-torch.expm1(-ib))


def train(variant, steps, data):
    improved = variant == "improved"
    torch.manual_seed(SEED)
    net = ScoreNet(sinusoidal=improved)
    ema = [torch.zeros_like(p) for p in net.parameters()] if improved else None
    opt = torch.optim.Adam(net.parameters(), lr=LR)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps) if improved else None
    x0 = torch.tensor(data, dtype=torch.float32)
    losses = []
    t0 = time.perf_counter()
    for _ in range(steps):
        t = torch.rand(N_TRAIN, 1) * (1 - C.EPS_T) + C.EPS_T
        z = torch.randn(N_TRAIN, 2)
        a, s = alpha_sigma(t)
        xt = a * x0 + s * z
        if improved:
            v = a * z - s * x0
            loss = (a * a * (net(xt, t) - v) ** 2).sum(1).mean()
        else:
            loss = ((net(xt, t) - z) ** 2).sum(1).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if sched is not None:
            sched.step()
        if ema is not None:
            with torch.no_grad():
                for m, p in zip(ema, net.parameters()):
                    m.mul_(0.999).add_(p, alpha=0.001)
        losses.append(loss.item())
    if ema is not None:
        with torch.no_grad():
            for m, p in zip(ema, net.parameters()):
                p.copy_(m / (1 - 0.999 ** steps))
    return net, losses, time.perf_counter() - t0


@torch.no_grad()
def reverse_sde(net, improved, x, gen):
    """x <- x + (beta x / 2 + beta s) dt + sqrt(beta dt) z from t = 1 down to 1e-3, in float32."""
    ts = np.linspace(1.0, C.EPS_T, N_STEPS + 1)
    n = x.shape[0]
    for i in range(N_STEPS):
        t, dt = ts[i], ts[i] - ts[i + 1]
        b, a, s = C.beta(t), C.alpha(t), C.sigma(t)
        o = net(x, torch.full((n, 1), float(t)))
        eps = (s * x + a * o) if improved else o  # v-prediction: eps = sigma x + alpha v
        score = eps * (-1.0 / s)
        x = x + (0.5 * b * x + b * score) * dt + math.sqrt(b * dt) * torch.randn(x.shape, generator=gen)
    return x


@torch.no_grad()
def pf_ode(net, x):
    """x <- x + (beta x / 2 + beta s / 2) dt from t = 1 down to 1e-3 (Euler), v-prediction."""
    ts = np.linspace(1.0, C.EPS_T, N_STEPS + 1)
    n = x.shape[0]
    for i in range(N_STEPS):
        t, dt = ts[i], ts[i] - ts[i + 1]
        b, a, s = C.beta(t), C.alpha(t), C.sigma(t)
        eps = s * x + a * net(x, torch.full((n, 1), float(t)))
        x = x + (0.5 * b * x - 0.5 * b * eps / s) * dt
    return x


def read_csv(path):
    return np.loadtxt(path, delimiter=",", ndmin=2)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--variant", choices=["corrected", "improved"], default="corrected")
    p.add_argument("--steps", type=int, default=None)
    p.add_argument("--data", default=None, help="a folder of the crate's draws (see above)")
    args = p.parse_args()
    if args.data and args.variant != "improved":
        p.error("--data compares the improved recipe's PF-ODE: use it with --variant improved")
    if args.data:
        missing = [f for f in ("data.csv", "reference.csv", "prior.csv")
                   if not os.path.isfile(os.path.join(args.data, f))]
        if missing:
            p.error(f"--data {args.data}: no {', '.join(missing)} there "
                    "(examples/appendix_ablation.rs --improved-only --dump DIR writes them)")
    steps = args.steps or (4000 if args.variant == "improved" else 2000)
    torch.set_num_threads(2)
    if args.data:
        data = read_csv(os.path.join(args.data, "data.csv"))
        ref = read_csv(os.path.join(args.data, "reference.csv"))
        prior_points = read_csv(os.path.join(args.data, "prior.csv"))
    else:
        data = C.sample_mixture(N_TRAIN, np.random.default_rng(SEED))
        ref = C.sample_mixture(N_SAMPLE, np.random.default_rng(SEED + 1))
        prior_points = None
    net, losses, train_s = train(args.variant, steps, data)
    gen = torch.Generator().manual_seed(SEED + 11)
    prior = torch.randn(N_SAMPLE, 2, generator=gen)
    if prior_points is not None:
        prior = torch.tensor(prior_points, dtype=torch.float32)
    t0 = time.perf_counter()
    x = reverse_sde(net, args.variant == "improved", prior, gen)
    sample_s = time.perf_counter() - t0
    metrics = {
        "train_steps_per_s": steps / train_s,
        "train_s": train_s,
        "loss_last100": float(np.mean(losses[-100:])),
        "sample_particle_steps_per_s": N_SAMPLE * N_STEPS / sample_s,
        "sde_energy": C.energy_distance(x.double().numpy(), ref),
    }
    if prior_points is not None:
        metrics["ode_energy"] = C.energy_distance(pf_ode(net, prior).double().numpy(), ref)
    C.emit(f"appendix-{args.variant}", metrics, {"torch": torch.__version__, "threads": torch.get_num_threads()})


if __name__ == "__main__":
    main()
