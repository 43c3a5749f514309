//! The 1-D Fokker–Planck solver (seed 000 §1.3.2) against exact densities — the heat kernel,
//! Ornstein–Uhlenbeck from a two-mode start, geometric Brownian motion from a log-normal —
//! and against particles.

use diffusion_sde::prelude::*;
use diffusion_sde::sde_basics::chains::loglog_slope;
use diffusion_sde::sde_basics::examples::{CorrelatedBrownian, Gbm, Ou};
use diffusion_sde::sde_basics::fokker_planck::{FokkerPlanck1d, FokkerPlanckSolution};

fn normal_pdf(x: f64, m: f64, v: f64) -> f64 {
    (-(x - m).powi(2) / (2.0 * v)).exp() / (2.0 * std::f64::consts::PI * v).sqrt()
}

/// `log` of a density given pointwise, on an `n × 1` batch.
fn log_of(x: ArrayView2<f64>, p: impl Fn(f64) -> f64) -> diffusion_sde::Result<Array1<f64>> {
    Ok(x.column(0).mapv(|x| p(x).ln()))
}

/// Solves on `cells` cells with `cells` time steps (Δt ∝ h), recording 4 times.
fn solve(
    sde: &dyn Sde,
    range: (f64, f64),
    cells: usize,
    t_end: f64,
    p0: impl Fn(f64) -> f64,
) -> FokkerPlanckSolution {
    let fp = FokkerPlanck1d::new(range.0, range.1, cells).unwrap();
    let p = fp.centres().mapv(p0);
    let times = TimeGrid::uniform(0.0, t_end, cells).unwrap();
    fp.solve(sde, p.view(), &times, Record::Every(cells / 4))
        .unwrap()
}

/// L¹ errors for a sequence of grids, asserting that they decrease and that the fitted order
/// is about 2 (central fluxes where the Péclet number is small, Crank–Nicolson in time).
fn assert_second_order(errors: &[f64], cells: &[usize], what: &str) {
    for w in errors.windows(2) {
        assert!(
            w[1] < w[0],
            "{what}: errors must shrink with the grid: {errors:?}"
        );
    }
    let h: Vec<f64> = cells.iter().map(|&m| 1.0 / m as f64).collect();
    let order = loglog_slope(&h, errors).unwrap();
    assert!(
        order > 1.8,
        "{what}: fitted order {order}, errors {errors:?}"
    );
}

const CELLS: [usize; 4] = [40, 80, 160, 320];

#[test]
fn heat_kernel() {
    // dx = dW from N(0, 0.25): p_t = N(0, 0.25 + t).
    let bm = CorrelatedBrownian::new(array![[1.0]]).unwrap();
    let mut errors = Vec::new();
    for &m in &CELLS {
        let sol = solve(&bm, (-8.0, 8.0), m, 1.0, |x| normal_pdf(x, 0.0, 0.25));
        for k in 0..sol.times.len() {
            assert!(
                (sol.mass(k).unwrap() - sol.mass(0).unwrap()).abs() < 1e-12,
                "mass is conserved"
            );
        }
        errors.push(
            sol.max_l1_error(|t, x| log_of(x, |x| normal_pdf(x, 0.0, 0.25 + t)))
                .unwrap(),
        );
    }
    assert_second_order(&errors, &CELLS, "heat kernel");
    assert!(errors[3] < 1e-3, "{errors:?}");
}

#[test]
fn ornstein_uhlenbeck_from_two_modes() {
    let ou = Ou::new(1.0, 0.5, 1.0).unwrap();
    let p0 = GaussianMixture::two_modes_1d();
    let exact = |t: f64, x: ArrayView2<f64>| ou.marginal_mixture(&p0, t)?.log_density(x);
    let mut errors = Vec::new();
    for &m in &CELLS {
        let fp = FokkerPlanck1d::new(-6.0, 6.0, m).unwrap();
        let p = fp.density_on(|x| p0.log_density(x)).unwrap();
        let times = TimeGrid::uniform(0.0, 1.0, m).unwrap();
        let sol = fp
            .solve(&ou, p.view(), &times, Record::Every(m / 4))
            .unwrap();
        errors.push(sol.max_l1_error(exact).unwrap());
    }
    assert_second_order(&errors, &CELLS, "OU");
}

#[test]
fn geometric_brownian_motion_from_a_log_normal() {
    // log x(0) ~ N(0, 0.1) ⇒ log x(t) ~ N((μ − σ²/2) t, 0.1 + σ² t). D = σ² x² vanishes at 0:
    // the exponentially fitted flux keeps the scheme stable there.
    let gbm = Gbm::new(0.5, 0.4).unwrap();
    let log_normal = |x: f64, m: f64, v: f64| {
        if x > 0.0 {
            normal_pdf(x.ln(), m, v) / x
        } else {
            0.0
        }
    };
    let mut errors = Vec::new();
    for &m in &CELLS {
        let sol = solve(&gbm, (0.0, 12.0), m, 1.0, |x| log_normal(x, 0.0, 0.1));
        assert!(sol.density.iter().all(|p| p.iter().all(|&v| v >= -1e-12)));
        errors.push(
            sol.max_l1_error(|t, x| log_of(x, |x| log_normal(x, (0.5 - 0.08) * t, 0.1 + 0.16 * t)))
                .unwrap(),
        );
    }
    assert_second_order(&errors, &CELLS, "GBM");
}

#[test]
fn grid_density_matches_the_particles() {
    // OU particles by exact transitions vs the grid solution: the Kolmogorov–Smirnov distance
    // stays below its 0.1 % critical value 1.95/√n plus the grid's L¹ error (a bound on the CDF error).
    let ou = Ou::new(1.0, 0.5, 1.0).unwrap();
    let p0 = GaussianMixture::two_modes_1d();
    let n = 20_000;
    let x0 = p0.sample(n, 8);
    let x1 = ou
        .sample_transition(x0.view(), 1.0, &mut rng::seeded(9))
        .unwrap();
    let fp = FokkerPlanck1d::new(-6.0, 6.0, 400).unwrap();
    let p = fp.density_on(|x| p0.log_density(x)).unwrap();
    let sol = fp
        .solve(
            &ou,
            p.view(),
            &TimeGrid::uniform(0.0, 1.0, 200).unwrap(),
            Record::Final,
        )
        .unwrap();
    let h = fp.cell_width();
    // Grid CDF at the right edge of each cell.
    let cdf: Vec<f64> = sol
        .last()
        .iter()
        .scan(0.0, |acc, p| {
            *acc += p * h;
            Some(*acc)
        })
        .collect();
    let mut xs: Vec<f64> = x1.iter().copied().collect();
    xs.sort_by(f64::total_cmp);
    let mut ks = 0.0_f64;
    for (i, edge) in (1..=400).map(|i| -6.0 + i as f64 * h).enumerate() {
        let emp = xs.partition_point(|&v| v <= edge) as f64 / n as f64;
        ks = ks.max((emp - cdf[i]).abs());
    }
    assert!(ks < 1.95 / (n as f64).sqrt() + 1e-3, "KS {ks}");
}

#[test]
fn bad_input_is_a_clear_error() {
    assert!(FokkerPlanck1d::new(1.0, 0.0, 10).is_err());
    let e = FokkerPlanck1d::new(0.0, 1.0, 2).unwrap_err().to_string();
    assert!(e.contains("cells"), "{e}");
    let fp = FokkerPlanck1d::new(-1.0, 1.0, 10).unwrap();
    let ou = Ou::new(1.0, 0.0, 1.0).unwrap();
    let grid = TimeGrid::uniform(0.0, 1.0, 10).unwrap();
    let p = Array1::from_elem(10, 0.5);
    let e = fp
        .solve(&ou, Array1::from_elem(9, 0.5).view(), &grid, Record::Final)
        .unwrap_err()
        .to_string();
    assert!(e.contains("9") && e.contains("10"), "{e}");
    let mut bad = p.clone();
    bad[3] = -1.0;
    let e = fp
        .solve(&ou, bad.view(), &grid, Record::Final)
        .unwrap_err()
        .to_string();
    assert!(e.contains("p0") && e.contains("cell 3"), "{e}");
    let back = TimeGrid::uniform(1.0, 0.0, 10).unwrap();
    assert!(fp.solve(&ou, p.view(), &back, Record::Final).is_err());
    // A 2-D SDE is not a 1-D Fokker–Planck problem.
    let bm2 = CorrelatedBrownian::new(Array2::eye(2)).unwrap();
    assert!(fp.solve(&bm2, p.view(), &grid, Record::Final).is_err());
    let sol = fp.solve(&ou, p.view(), &grid, Record::Final).unwrap();
    assert!(sol.mass(1).is_err());
}
