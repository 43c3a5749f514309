//! The SDE loop in single precision (seed 000 §2.4.2, the throughput benchmark
//! `examples/em_throughput.rs`): the same `solve` / `EulerMaruyama` / `ReverseSde` / `VpSde` /
//! `MixtureMarginal` run on `f32` batches. Checked here: the `f32` score and step agree with
//! the `f64` ones to `f32` rounding; `f32` sampling reproduces the `f64` sample statistics
//! within sampling error; `f32` results depend on the seed only (not on the thread count).

use diffusion_sde::prelude::*;
use diffusion_sde::solvers::driver::CHUNK_ROWS;

fn reverse() -> ReverseSde<VpSde, MixtureMarginal<VpSde>> {
    let sde = VpSde::default();
    ReverseSde::new(
        sde,
        MixtureMarginal::new(sde, GaussianMixture::appendix_2d()),
    )
}

/// The mixture marginal's score at several times: `f64` is exactly `p_t`'s score as a mixture
/// (the shortcut that skips building `p_t` changes no number), `f32` agrees with it to a few
/// `f32` ulp of the score's scale.
#[test]
fn f32_and_f64_mixture_scores_agree() {
    let sde = VpSde::default();
    let marginal = MixtureMarginal::new(sde, GaussianMixture::appendix_2d());
    let x = sde.prior_sample(3000, 2, &mut rng::seeded(1)) * 2.5;
    let x32 = x.mapv(|v| v as f32);
    for t in [1e-3, 0.01, 0.1, 0.5, 1.0] {
        let s64: Array2<f64> = marginal.score(x.view(), t).unwrap();
        assert_eq!(
            s64,
            marginal.at(t).unwrap().score(x.view()).unwrap(),
            "t = {t}"
        );
        let s32: Array2<f32> = marginal.score(x32.view(), t).unwrap();
        // The score is O(|x − μ|/v) with v ≥ 0.1: 1e-5 relative to its largest entry.
        let scale = s64.fold(1.0_f64, |m, v| m.max(v.abs()));
        let err = s32
            .iter()
            .zip(&s64)
            .fold(0.0_f64, |m, (a, b)| m.max((f64::from(*a) - b).abs()));
        assert!(
            err < 1e-5 * scale,
            "t = {t}: max error {err:e}, scale {scale}"
        );
    }
}

/// One Euler–Maruyama step is `x + f Δt + G ΔW` computed from the public drift and diffusion,
/// exactly in `f64` (the in-place update keeps the allocating formula's rounding), and to
/// `f32` rounding in `f32` given the same increments.
#[test]
fn the_in_place_step_is_the_euler_maruyama_formula() {
    let sde = reverse();
    let x = VpSde::default().prior_sample(500, 2, &mut rng::seeded(2));
    let dw = rng::normals(&mut rng::seeded(3), 500, 2) * 0.03;
    let (t, dt) = (0.4, -1e-3);
    let expected = &x
        + &(Sde::drift(&sde, x.view(), t).unwrap() * dt)
        + &(&dw * VpSde::default().beta(t).sqrt());
    let step64 = SdeScheme::<f64>::step(&EulerMaruyama, &sde, x.view(), t, dt, dw.view()).unwrap();
    let by_formula = {
        let mut next = Sde::drift(&sde, x.view(), t).unwrap() * dt;
        next += &Sde::<f64>::diffusion(&sde, x.view(), t)
            .unwrap()
            .apply(dw.view())
            .unwrap();
        next += &x;
        next
    };
    assert_eq!(step64, by_formula);
    assert!((&step64 - &expected).iter().all(|v| v.abs() < 1e-12));
    let (x32, dw32) = (x.mapv(|v| v as f32), dw.mapv(|v| v as f32));
    let step32 =
        SdeScheme::<f32>::step(&EulerMaruyama, &sde, x32.view(), t, dt, dw32.view()).unwrap();
    let err = step32
        .iter()
        .zip(&step64)
        .fold(0.0_f64, |m, (a, b)| m.max((f64::from(*a) - b).abs()));
    assert!(err < 1e-5, "max |x32 − x64| = {err:e}");
}

fn sample<F: Real>(n: usize, steps: usize, seed: u64) -> Array2<F> {
    let x_t = VpSde::default()
        .prior_sample(n, 2, &mut rng::seeded(seed))
        .mapv(F::of);
    let grid = TimeGrid::uniform(1.0, 1e-3, steps).unwrap();
    EulerMaruyama
        .solve(
            &reverse(),
            x_t.view(),
            &grid,
            Noise::Seed(seed + 1),
            Record::Final,
        )
        .unwrap()
        .states
        .pop()
        .unwrap()
}

/// The reverse SDE sampled in `f32` and in `f64` (independent noise; `f32` normals come from
/// another generator): per coordinate, the means differ by less than 5 standard errors of a
/// difference of two sample means, `√(2 s²/n)`, and the variances by less than 5 standard
/// errors of a difference of two sample variances, `√(2 (m₄ − s⁴)/n)`.
#[test]
fn f32_and_f64_sampling_give_the_same_statistics() {
    let (n, steps) = (20_000, 200);
    let x64 = sample::<f64>(n, steps, 7);
    let x32 = sample::<f32>(n, steps, 7).mapv(f64::from);
    assert!(x32.iter().all(|v| v.is_finite()));
    let nf = n as f64;
    for j in 0..2 {
        let (a, b) = (x64.column(j), x32.column(j));
        let (ma, mb) = (a.mean().unwrap(), b.mean().unwrap());
        let (va, vb) = (a.var(0.0), b.var(0.0));
        let m4 = a.iter().map(|v| (v - ma).powi(4)).sum::<f64>() / nf;
        let tol_mean = 5.0 * (2.0 * va / nf).sqrt();
        let tol_var = 5.0 * (2.0 * (m4 - va * va) / nf).sqrt();
        assert!(
            (ma - mb).abs() < tol_mean,
            "coordinate {j}: mean f64 {ma} vs f32 {mb} (tol {tol_mean})"
        );
        assert!(
            (va - vb).abs() < tol_var,
            "coordinate {j}: var f64 {va} vs f32 {vb} (tol {tol_var})"
        );
    }
}

/// Same seed, same `f32` numbers; another seed, other numbers; and the numbers do not depend
/// on how many threads ran the chunks (several chunks, one thread vs three).
#[test]
fn f32_sampling_is_deterministic_and_thread_count_independent() {
    let n = 3 * CHUNK_ROWS + 17;
    let run = |threads: usize, seed: u64| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| sample::<f32>(n, 20, seed))
    };
    let a = run(1, 4);
    assert_eq!(a, run(1, 4));
    assert_eq!(a, run(3, 4));
    assert_ne!(a, run(3, 5));
}
