"""Twin of `examples/em_throughput.rs`: Euler-Maruyama on the reverse VP SDE with the
closed-form score of seed 000's appendix mixture, 100 000 particles x 1000 steps from t = 1
to 1e-3, in torch (2 threads) float32 and float64, and torchsde's Euler scheme on the same
SDE (20 000 particles); plus torch's standard-normal rate (the generator alone).

One step, with v = alpha^2 0.1 + sigma^2 and r = softmax_k((alpha x.m_k - alpha^2 |m_k|^2/2)/v):
    x <- x + (beta x / 2 - beta (x - alpha sum_k r_k m_k) / v) dt + sqrt(beta dt) z.
Particles are stored as two coordinate rows (2, N), the operations in place.
Prints one `BENCH {...}` line (see common.emit). Usage: python em_throughput.py
"""
import math
import os
import sys
import time

import numpy as np
import torch
import torchsde

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common as C  # noqa: E402

N, STEPS, SEED, N_SDEINT = 100_000, 1000, 0, 20_000
M2 = (C.MEANS ** 2).sum(1)


def coefficients(t, dt):
    """x_new = p x + q mbar + r z with mbar = sum_k r_k m_k and logits W x + c."""
    b, a = C.beta(t), C.alpha(t)
    v = a * a * C.COV_SCALE + C.sigma(t) ** 2
    return (a / v) * C.MEANS, -0.5 * a * a * M2 / v, 1.0 + dt * b * (0.5 - 1.0 / v), dt * b * a / v, math.sqrt(b * dt)


@torch.no_grad()
def em_torch(dtype):
    g = torch.Generator().manual_seed(SEED)
    x = torch.randn(2, N, generator=g, dtype=dtype)
    z = torch.empty_like(x)
    ts = np.linspace(1.0, C.EPS_T, STEPS + 1)
    m = torch.tensor(C.MEANS, dtype=dtype)
    t0 = time.perf_counter()
    for i in range(STEPS):
        w, c, p, q, r = coefficients(ts[i], ts[i] - ts[i + 1])
        logits = torch.addmm(torch.tensor(c, dtype=dtype)[:, None], torch.tensor(w, dtype=dtype), x)
        mbar = m.T @ torch.softmax(logits, dim=0)
        z.normal_(generator=g)
        x.mul_(p).add_(mbar, alpha=q).add_(z, alpha=r)
    return time.perf_counter() - t0, x.double().numpy().T


class ReverseSde(torch.nn.Module):
    noise_type, sde_type = "diagonal", "ito"

    def __init__(self):
        super().__init__()
        self.m = torch.tensor(C.MEANS, dtype=torch.float32)

    def f(self, tau, y):  # tau = 1 - t runs forward
        t = 1.0 - float(tau)
        b, a = C.beta(t), C.alpha(t)
        v = a * a * C.COV_SCALE + C.sigma(t) ** 2
        logits = (a / v) * (y @ self.m.T) - torch.tensor(0.5 * a * a * M2 / v, dtype=y.dtype)
        score = -(y - a * (torch.softmax(logits, dim=1) @ self.m)) / v
        return 0.5 * b * y + b * score

    def g(self, tau, y):
        return torch.full_like(y, math.sqrt(C.beta(1.0 - float(tau))))


@torch.no_grad()
def em_torchsde():
    torch.manual_seed(SEED)
    y0 = torch.randn(N_SDEINT, 2)
    ts = torch.tensor([0.0, 1.0 - C.EPS_T])
    t0 = time.perf_counter()
    torchsde.sdeint(ReverseSde(), y0, ts, method="euler", dt=(1.0 - C.EPS_T) / STEPS)
    return time.perf_counter() - t0


def normal_rate(dtype):
    buf = torch.empty(10_000_000, dtype=dtype)
    best = math.inf
    for _ in range(3):
        t0 = time.perf_counter()
        buf.normal_()
        best = min(best, time.perf_counter() - t0)
    return buf.numel() / best


def main():
    torch.set_num_threads(2)
    metrics = {}
    for name, dtype in (("f32", torch.float32), ("f64", torch.float64)):
        wall, x = em_torch(dtype)
        metrics[f"em_{name}_particle_steps_per_s"] = N * STEPS / wall
        metrics[f"em_{name}_std0"] = float(x.std(0)[0])
    metrics["em_torchsde_f32_particle_steps_per_s"] = N_SDEINT * STEPS / em_torchsde()
    metrics["normals_f32_per_s"] = normal_rate(torch.float32)
    metrics["normals_f64_per_s"] = normal_rate(torch.float64)
    C.emit("em-throughput", metrics, {"torch": torch.__version__, "threads": torch.get_num_threads()})


if __name__ == "__main__":
    main()
