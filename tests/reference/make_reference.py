#!/usr/bin/env python3
"""Writes the reference fixtures of tests/samplers_*.rs from the published peers.

Installs k-diffusion (and its sampling.py's imports: torch, scipy, torchsde, torchdiffeq,
tqdm) and diffusers from PyPI into a venv of its own under the per-user cache
(~/.cache/diffusion-sde-workbook/reference-venv, or $REFERENCE_VENV), re-runs itself there,
and writes tests/reference/k_diffusion.json, pndm.json and diffusers.json. CI never runs this: the Rust tests only read the
committed JSON.

The setting is the crate's VE SDE (sigma_min = 0.01, sigma_max = 10, T = 1, eps = 1e-3), whose
kernel std is sigma~(t) = sqrt(sigma(t)^2 - sigma_min^2), and the appendix mixture
(seed 000 A.5: means (1,1), (-1,-1), (0,2), covariance 0.1 I, equal weights), whose exact
denoiser E[x0 | x0 + sigma z = x] = x + sigma^2 grad log p_sigma(x) is written below in
float64 torch. Usage: python3 tests/reference/make_reference.py
"""
import itertools
import json
import math
import os
import pathlib
import subprocess
import sys
import types

HERE = pathlib.Path(__file__).resolve().parent
VENV = pathlib.Path(
    os.environ.get(
        "REFERENCE_VENV",
        pathlib.Path(os.environ.get("XDG_CACHE_HOME", pathlib.Path.home() / ".cache"))
        / "diffusion-sde-workbook"
        / "reference-venv",
    )
)
K_DIFFUSION = "k-diffusion==0.1.1.post1"


def ensure_venv():
    """Re-executes this script inside the reference venv, creating it first if needed."""
    python = VENV / "bin" / "python"
    if pathlib.Path(sys.prefix).resolve() == VENV.resolve():
        return
    if not python.exists():
        subprocess.check_call([sys.executable, "-m", "venv", str(VENV)])
        pip = [str(python), "-m", "pip", "install", "--disable-pip-version-check"]
        subprocess.check_call(pip + ["-r", str(HERE / "requirements.txt")])
        # k-diffusion's package pulls in training tools (clip, wandb, ...); sampling.py needs
        # only what requirements.txt installs, so it comes without its dependencies.
        subprocess.check_call(pip + ["--no-deps", K_DIFFUSION])
    os.execv(str(python), [str(python), __file__] + sys.argv[1:])


def load_sampling():
    """k_diffusion.sampling without running k_diffusion/__init__.py (which imports the
    training stack): the package is registered bare, with the two helpers of its utils that
    sampling.py uses (verbatim in meaning: append_dims adds trailing axes)."""
    import importlib.util

    spec = importlib.util.find_spec("k_diffusion")
    root = pathlib.Path(spec.submodule_search_locations[0])
    pkg = types.ModuleType("k_diffusion")
    pkg.__path__ = [str(root)]
    sys.modules["k_diffusion"] = pkg
    utils = types.ModuleType("k_diffusion.utils")

    def append_dims(x, target_dims):
        return x[(...,) + (None,) * (target_dims - x.ndim)]

    utils.append_dims = append_dims
    sys.modules["k_diffusion.utils"] = utils
    pkg.utils = utils
    import k_diffusion.sampling as sampling

    return sampling


def main():
    ensure_venv()
    import torch
    import importlib.metadata as md

    torch.set_default_dtype(torch.float64)
    K = load_sampling()

    sigma_min, sigma_max, eps = 0.01, 10.0, 1e-3
    ratio = math.log(sigma_max / sigma_min)

    def sigma_tilde(t):
        return sigma_min * math.sqrt(math.expm1(2.0 * t * ratio))

    s_hi, s_lo = sigma_tilde(1.0), sigma_tilde(eps)

    weights = torch.tensor([1 / 3, 1 / 3, 1 / 3])
    means = torch.tensor([[1.0, 1.0], [-1.0, -1.0], [0.0, 2.0]])
    var = 0.1

    def denoiser(x, sigma):
        s2 = sigma.reshape(-1, 1) ** 2
        v = var + s2  # (B, 1)
        diff = means[None, :, :] - x[:, None, :]  # (B, K, 2)
        logp = torch.log(weights)[None, :] - 0.5 * (diff**2).sum(-1) / v - torch.log(v)
        r = torch.softmax(logp, dim=1)  # (B, K)
        score = (r[:, :, None] * diff).sum(1) / v
        return x + s2 * score

    out = {
        "generator": "tests/reference/make_reference.py",
        "versions": {p: md.version(p) for p in ["k-diffusion", "torch", "scipy", "torchsde"]},
        "ve": {"sigma_min": sigma_min, "sigma_max": sigma_max, "t_end": eps},
        "schedules": [],
        "deterministic": [],
        "stochastic": [],
    }
    for n in [5, 10, 20]:
        for rho in [7.0, 3.0]:
            out["schedules"].append(
                {"kind": "karras", "rho": rho, "n": n,
                 "sigmas": K.get_sigmas_karras(n, s_lo, s_hi, rho=rho).tolist()}
            )
        out["schedules"].append(
            {"kind": "exponential", "n": n,
             "sigmas": K.get_sigmas_exponential(n, s_lo, s_hi).tolist()}
        )

    angles = torch.arange(8) * (2 * math.pi / 8) + 0.3
    radii = torch.tensor([0.5, 1.0, 1.5, 2.0, 0.7, 1.2, 0.9, 1.8]) * s_hi
    x_init = torch.stack([radii * torch.cos(angles), radii * torch.sin(angles)], dim=1)
    out["x_init"] = x_init.tolist()

    deterministic = [
        ("euler", K.sample_euler, {}),
        ("heun", K.sample_heun, {}),
        ("dpm_2", K.sample_dpm_2, {}),
        ("lms", K.sample_lms, {}),
        ("dpmpp_2m", K.sample_dpmpp_2m, {}),
        ("euler_ancestral", K.sample_euler_ancestral, {"eta": 0.0}),
        ("dpm_2_ancestral", K.sample_dpm_2_ancestral, {"eta": 0.0}),
        ("dpmpp_2s_ancestral", K.sample_dpmpp_2s_ancestral, {"eta": 0.0}),
        ("dpmpp_sde", K.sample_dpmpp_sde, {"eta": 0.0}),
        ("dpmpp_2m_sde", K.sample_dpmpp_2m_sde, {"eta": 0.0}),
        ("dpmpp_2m_sde_heun", K.sample_dpmpp_2m_sde, {"eta": 0.0, "solver_type": "heun"}),
        ("dpmpp_3m_sde", K.sample_dpmpp_3m_sde, {"eta": 0.0}),
    ]
    for n in [5, 10, 20]:
        sigmas = K.get_sigmas_karras(n, s_lo, s_hi, rho=7.0)
        for name, fn, kw in deterministic:
            traj = []
            final = fn(denoiser, x_init.clone(), sigmas, disable=True,
                       callback=lambda d: traj.append(d["x"].tolist()), **kw)
            traj.append(final.tolist())
            out["deterministic"].append(
                {"sampler": name, "eta": kw.get("eta", 0.0), "n": n,
                 "sigmas": sigmas.tolist(), "trajectory": traj}
            )

    count, n = 4000, 10
    sigmas = K.get_sigmas_karras(n, s_lo, s_hi, rho=7.0)
    stochastic = [
        ("euler_ancestral", K.sample_euler_ancestral),
        ("dpm_2_ancestral", K.sample_dpm_2_ancestral),
        ("dpmpp_2s_ancestral", K.sample_dpmpp_2s_ancestral),
        ("dpmpp_sde", K.sample_dpmpp_sde),
        ("dpmpp_2m_sde", K.sample_dpmpp_2m_sde),
        ("dpmpp_3m_sde", K.sample_dpmpp_3m_sde),
    ]
    for k, (name, fn) in enumerate(stochastic):
        torch.manual_seed(1000 + k)
        x = torch.randn(count, 2) * sigmas[0]
        extra = {}
        if name in ("dpmpp_sde", "dpmpp_2m_sde", "dpmpp_3m_sde"):
            extra["noise_sampler"] = K.BrownianTreeNoiseSampler(x, s_lo, s_hi, seed=2000 + k)
        final = fn(denoiser, x, sigmas, disable=True, eta=1.0, **extra)
        out["stochastic"].append(
            {"sampler": name, "eta": 1.0, "n": n, "count": count, "sigmas": sigmas.tolist(),
             "mean": final.mean(0).tolist(), "cov": torch.cov(final.T).tolist()}
        )

    write_dpm_solver(K, torch, out, denoiser, x_init, s_lo, s_hi)

    path = HERE / "k_diffusion.json"
    path.write_text(json.dumps(out, indent=None, separators=(",", ":")) + "\n")
    print(f"wrote {path} ({path.stat().st_size} bytes)")
    write_pndm(torch, md, x_init / s_hi, weights, means, var)
    write_diffusers(torch, md, x_init / s_hi, weights, means, var)


def write_dpm_solver(K, torch, out, denoiser, x_init, s_lo, s_hi):
    """k-diffusion's DPMSolver class (sample_dpm_fast, sample_dpm_adaptive) between
    sigma~(eps) and sigma~(T): with eta = 0 every state, the adaptive runs' attempts (accepted
    or not, the sigma reached, the error estimate) and the model calls; with eta = 1 moments."""
    calls = [0]

    def counted(x, sigma):
        calls[0] += 1
        return denoiser(x, sigma)

    out["dpm_fast"] = []
    for nfe in [4, 5, 9, 10, 20]:
        traj, calls[0] = [], 0
        final = K.sample_dpm_fast(counted, x_init.clone(), s_lo, s_hi, nfe, disable=True,
                                  callback=lambda d: traj.append(d["x"].tolist()))
        traj.append(final.tolist())
        out["dpm_fast"].append({"nfe": nfe, "calls": calls[0], "trajectory": traj})

    out["dpm_adaptive"] = []
    settings = [
        {"order": 3},
        {"order": 2},
        {"order": 3, "rtol": 0.01, "atol": 0.001},
        {"order": 2, "rtol": 0.02, "atol": 0.002, "h_init": 0.2,
         "pcoeff": 0.2, "icoeff": 0.8, "dcoeff": 0.1, "accept_safety": 0.9},
    ]
    for kw in settings:
        attempts, calls[0] = [], 0

        def record(d):
            attempts.append({"sigma": float(d["sigma"]), "accepted": d["n_accept"],
                             "error": float(d["error"]), "h": float(d["h"]),
                             "x": d["x"].tolist()})

        final, info = K.sample_dpm_adaptive(counted, x_init.clone(), s_lo, s_hi, disable=True,
                                            callback=record, return_info=True, **kw)
        accepted, seen = [], 0
        for a in attempts:
            a["accepted"], seen = a["accepted"] > seen, a["accepted"]
            if not a["accepted"]:
                del a["x"]
        out["dpm_adaptive"].append({"settings": kw, "calls": calls[0], "info": info,
                                    "attempts": attempts, "final": final.tolist()})

    count = 4000
    out["dpm_stochastic"] = []
    for k, (name, run) in enumerate([
        ("dpm_fast", lambda x: K.sample_dpm_fast(denoiser, x, s_lo, s_hi, 10, disable=True,
                                                 eta=1.0)),
        ("dpm_adaptive", lambda x: K.sample_dpm_adaptive(denoiser, x, s_lo, s_hi,
                                                         disable=True, eta=1.0)),
    ]):
        torch.manual_seed(3000 + k)
        final = run(torch.randn(count, 2) * s_hi)
        out["dpm_stochastic"].append({"sampler": name, "eta": 1.0, "count": count,
                                      "mean": final.mean(0).tolist(),
                                      "cov": torch.cov(final.T).tolist()})


def vp_setting(torch, weights, means, var):
    """The crate's VP SDE (beta_min = 0.1, beta_max = 20) as diffusers' 1000 discrete steps:
    timestep k is the crate's t = (k + 1)/1000, alphas_cumprod alpha(t)^2 in float64 (diffusers
    would round given betas to float32), and the exact noise prediction eps = -sigma * score of
    the appendix mixture."""
    beta_min, beta_max, train = 0.1, 20.0, 1000

    def integrated_beta(t):
        return beta_min * t + 0.5 * (beta_max - beta_min) * t * t

    t_k = (torch.arange(train) + 1) / train
    log_abar = -integrated_beta(t_k)
    abar = log_abar.exp()
    betas = -(log_abar - torch.cat([torch.zeros(1), log_abar[:-1]])).expm1()

    def eps_model(x, k):
        a = abar[k].sqrt()
        s2 = -torch.expm1(log_abar[k])
        v = a * a * var + s2
        diff = a * means[None, :, :] - x[:, None, :]
        logp = torch.log(weights)[None, :] - 0.5 * (diff**2).sum(-1) / v
        r = torch.softmax(logp, dim=1)
        score = (r[:, :, None] * diff).sum(1) / v
        return -s2.sqrt() * score

    vp = {"beta_min": beta_min, "beta_max": beta_max, "train_steps": train}
    # sigma~ = sqrt((1 - abar)/abar) = sqrt(expm1(-log abar)), without the cancellation.
    sigma_tilde = torch.expm1(-log_abar).sqrt()
    return vp, betas, abar, sigma_tilde, eps_model


def write_diffusers(torch, md, x_init, weights, means, var):
    """diffusers' DDIMScheduler (eta = 0: trajectories), DDPMScheduler (the posterior mean and
    std of each step from given states; the moments of whole chains) and
    UniPCMultistepScheduler (bh2, orders 2 and 3, x0-prediction, lower_order_final, final
    sigma 0: trajectories) on the crate's VP SDE. Each run lists its timesteps as the crate's times
    (k + 1)/1000, then 0 for the final step onto alpha = 1."""
    from diffusers import DDIMScheduler, DDPMScheduler, UniPCMultistepScheduler

    vp, betas, abar, sigma_tilde, eps_model = vp_setting(torch, weights, means, var)
    train = vp["train_steps"]

    def times(timesteps):
        return [(int(k) + 1) / train for k in timesteps] + [0.0]

    out = {
        "generator": "tests/reference/make_reference.py",
        "versions": {p: md.version(p) for p in ["diffusers", "torch"]},
        "vp": vp,
        "x_init": x_init.tolist(),
        "ddim": [],
        "ddpm_steps": [],
        "ddpm_chains": [],
        "unipc": [],
    }
    common = {"num_train_timesteps": train, "trained_betas": betas.tolist()}
    for n in [5, 10, 20]:
        sched = DDIMScheduler(**common, clip_sample=False, set_alpha_to_one=True,
                              steps_offset=0, timestep_spacing="leading")
        sched.alphas_cumprod = abar.clone()
        sched.set_timesteps(n)
        x, traj = x_init.clone(), [x_init.tolist()]
        for k in sched.timesteps:
            x = sched.step(eps_model(x, int(k)), k, x, eta=0.0).prev_sample
            traj.append(x.tolist())
        out["ddim"].append({"n": n, "times": times(sched.timesteps), "trajectory": traj})

    def ddpm(n):
        sched = DDPMScheduler(**common, clip_sample=False, variance_type="fixed_small",
                              timestep_spacing="leading", steps_offset=0)
        sched.alphas_cumprod = abar.clone()
        sched.set_timesteps(n)
        return sched

    # One step from each state of a chain of posterior means: the step's mean and std.
    for n in [5, 10]:
        sched = ddpm(n)
        x, steps = x_init.clone(), []
        for i, k in enumerate(sched.timesteps):
            seed = 4000 + i
            y = sched.step(eps_model(x, int(k)), k, x,
                           generator=torch.Generator().manual_seed(seed)).prev_sample
            std = float(sched._get_variance(int(k)) ** 0.5) if int(k) > 0 else 0.0
            z = torch.randn(x.shape, generator=torch.Generator().manual_seed(seed))
            mean = y - std * z
            steps.append({"x": x.tolist(), "mean": mean.tolist(), "std": std})
            x = mean
        out["ddpm_steps"].append({"n": n, "times": times(sched.timesteps), "steps": steps})

    count = 4000
    for n in [10, 50]:
        sched = ddpm(n)
        gen = torch.Generator().manual_seed(5000 + n)
        x = torch.randn(count, 2, generator=gen)
        for k in sched.timesteps:
            x = sched.step(eps_model(x, int(k)), k, x, generator=gen).prev_sample
        out["ddpm_chains"].append({"n": n, "times": times(sched.timesteps), "count": count,
                                   "mean": x.mean(0).tolist(), "cov": torch.cov(x.T).tolist()})

    for order, n in itertools.product([2, 3], [5, 10, 20]):
        sched = UniPCMultistepScheduler(**common, solver_order=order, prediction_type="epsilon",
                                        predict_x0=True, solver_type="bh2",
                                        lower_order_final=True, timestep_spacing="linspace",
                                        final_sigmas_type="zero")
        sched.alphas_cumprod = abar.clone()
        sched.set_timesteps(n)
        # set_timesteps rounds its sigmas to float32: put back the float64 ones.
        sched.sigmas = torch.cat([sigma_tilde[sched.timesteps], torch.zeros(1)])
        x, traj = x_init.clone(), [x_init.tolist()]
        for k in sched.timesteps:
            x = sched.step(eps_model(x, int(k)), k, x).prev_sample
            traj.append(x.tolist())
        out["unipc"].append({"order": order, "n": n, "times": times(sched.timesteps),
                             "trajectory": traj})

    path = HERE / "diffusers.json"
    path.write_text(json.dumps(out, indent=None, separators=(",", ":")) + "\n")
    print(f"wrote {path} ({path.stat().st_size} bytes)")


def write_pndm(torch, md, x_init, weights, means, var):
    """diffusers' PNDMScheduler (PLMS and F-PNDM) on the crate's VP SDE (vp_setting): its
    final step onto alpha = 1 is the crate's step to t = 0."""
    from diffusers import PNDMScheduler

    vp, betas, abar, _, eps_model = vp_setting(torch, weights, means, var)
    train = vp["train_steps"]

    out = {
        "generator": "tests/reference/make_reference.py",
        "versions": {p: md.version(p) for p in ["diffusers", "torch"]},
        "vp": vp,
        "x_init": x_init.tolist(),
        "runs": [],
    }
    for skip_prk in [True, False]:
        for n in [10, 20]:
            sched = PNDMScheduler(num_train_timesteps=train, trained_betas=betas.tolist(),
                                  skip_prk_steps=skip_prk, set_alpha_to_one=True,
                                  steps_offset=0, timestep_spacing="leading")
            sched.alphas_cumprod = abar.clone()
            sched.set_timesteps(n)
            x, nfe = x_init.clone(), 0
            for k in sched.timesteps:
                x = sched.step(eps_model(x, int(k)), k, x).prev_sample
                nfe += 1
            first = int(sched.timesteps[0])
            out["runs"].append({"method": "plms" if skip_prk else "f_pndm", "n": n,
                                "t_start": (first + 1) / train, "nfe": nfe,
                                "final": x.tolist()})
    path = HERE / "pndm.json"
    path.write_text(json.dumps(out, indent=None, separators=(",", ":")) + "\n")
    print(f"wrote {path} ({path.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
