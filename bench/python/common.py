"""What the Python twins share: seed 000's appendix mixture, the VP SDE of the corrected
appendix, its closed-form score, the metrics, and the one JSON line each twin prints.

Data: three Gaussians with means (1, 1), (-1, -1), (0, 2), covariance 0.1 I, equal weights.
VP SDE: beta(t) = 0.1 + 19.9 t on [1e-3, 1];  alpha(t) = exp(-1/2 int_0^t beta),
sigma(t)^2 = 1 - exp(-int_0^t beta)  (the crate's `VpSde::default()`).
Energy distance: the V-statistic 2 E|X - Y| - E|X - X'| - E|Y - Y'| (the crate's
`metrics::energy_distance`).
"""
import json
import math
import sys

import numpy as np

MEANS = np.array([[1.0, 1.0], [-1.0, -1.0], [0.0, 2.0]])
COV_SCALE = 0.1
BETA_MIN, BETA_MAX, EPS_T = 0.1, 20.0, 1e-3


def sample_mixture(n, rng):
    k = rng.integers(0, 3, size=n)
    return MEANS[k] + math.sqrt(COV_SCALE) * rng.standard_normal((n, 2))


def beta(t):
    return BETA_MIN + t * (BETA_MAX - BETA_MIN)


def int_beta(t):
    return BETA_MIN * t + 0.5 * (BETA_MAX - BETA_MIN) * t * t


def alpha(t):
    return math.exp(-0.5 * int_beta(t))


def sigma(t):
    return math.sqrt(-math.expm1(-int_beta(t)))


def energy_distance(x, y):
    def mean_dist(a, b):
        total = 0.0
        for i in range(0, len(a), 500):  # blocks keep the pairwise matrix small
            d = a[i:i + 500, None, :] - b[None, :, :]
            total += np.sqrt((d * d).sum(-1)).sum()
        return total / (len(a) * len(b))

    return float(2 * mean_dist(x, y) - mean_dist(x, x) - mean_dist(y, y))


def emit(name, metrics, info=None):
    """The one line the bench driver reads: `BENCH {"bench": name, "metrics": {...}}`."""
    line = {"bench": name, "metrics": metrics, "info": info or {}}
    print("BENCH " + json.dumps(line, separators=(",", ":")))
    sys.stdout.flush()
