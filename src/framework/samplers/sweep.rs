//! The NFE–quality comparison of the notebook (seed 000 §4.4.2, §2.5; seed 002 §3): every
//! sampler family at several budgets, all started from the same prior draw, each scored by
//! [`metrics::quality`](crate::metrics::quality) against the same fresh data.

use std::time::Instant;

use ndarray::ArrayView2;

use super::{
    AdaptivePfOde, Corrector, Ddim, DpmAdaptive, DpmFast, DpmSolverPP2M, ExpPc, Hybrid,
    KDiffusion, KMethod, PfMethod, PfOde, Pndm, Predictor, PredictorCorrector,
    ReverseEulerMaruyama, Sampler, Schedule, Spacing,
};
use crate::framework::ForwardSde;
use crate::metrics::{quality, Quality};
use crate::rng;
use crate::sde_basics::Score;
use crate::solvers::Record;
use crate::Result;

/// The sampler families of the comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    /// [`ReverseEulerMaruyama`], uniform steps.
    EulerMaruyama,
    /// [`PfOde`] with Euler, uniform steps.
    PfEuler,
    /// [`PfOde`] with Heun, uniform steps.
    PfHeun,
    /// [`AdaptivePfOde`] over a ladder of tolerances.
    DormandPrince,
    /// [`PredictorCorrector`], one corrector step, uniform steps.
    PredictorCorrector,
    /// [`Ddim`] with `η = 1`, uniform steps.
    DdpmAncestral,
    /// [`Ddim`] with `η = 0`, uniform steps.
    Ddim,
    /// [`DpmSolverPP2M`], log-SNR steps.
    DpmSolverPP2M,
    /// [`ExpPc`], log-SNR steps.
    ExpPc,
    /// [`Hybrid`]: half the budget Euler–Maruyama from `T` to `t = 0.5`, half DPM-Solver++(2M).
    Hybrid,
    /// score_sde's PC: reverse-diffusion predictor, Langevin corrector, `αᵢ`, noise-free end.
    ScoreSdePc,
    /// [`KDiffusion`] `heun` on Karras's grid ending at `σ = 0`.
    KHeun,
    /// [`KDiffusion`] `lms` (order ≤ 4) on Karras's grid ending at `σ = 0`.
    KLms,
    /// [`KDiffusion`] `dpmpp_2m` on Karras's grid ending at `σ = 0`.
    KDpmPP2M,
    /// [`KDiffusion`] `euler_ancestral` (η = 1) on Karras's grid ending at `σ = 0`.
    KEulerAncestral,
    /// [`KDiffusion`] `dpmpp_3m_sde` (η = 1) on Karras's grid ending at `σ = 0`.
    KDpmPP3MSde,
    /// [`Pndm`] PLMS, uniform steps.
    Plms,
    /// [`Pndm`] F-PNDM, uniform steps.
    FPndm,
    /// [`KDiffusion`] `dpm_2` on Karras's grid ending at `σ = 0`.
    KDpm2,
    /// [`KDiffusion`] `dpmpp_2s_ancestral` (η = 1) on Karras's grid ending at `σ = 0`.
    KDpmPP2SAncestral,
    /// [`KDiffusion`] `dpmpp_sde` (η = 1) on Karras's grid ending at `σ = 0`.
    KDpmPPSde,
    /// [`KDiffusion`] `dpmpp_2m_sde` (η = 1) on Karras's grid ending at `σ = 0`.
    KDpmPP2MSde,
    /// DPM-Solver++(3M): [`KDiffusion`] `dpmpp_3m_sde` at η = 0 on log-SNR steps to `ε`.
    DpmPP3MLogSnr,
    /// [`DpmFast`] (k-diffusion's `dpm_fast`).
    DpmFast,
    /// [`DpmAdaptive`] (k-diffusion's `dpm_adaptive`, order 3) over a ladder of `rtol`.
    DpmAdaptive,
    /// [`ExpPc::unipc`]: UniPC (bh2, order 2), log-SNR steps.
    UniPc,
}

impl Family {
    /// All families, in table order.
    pub const ALL: [Family; 26] = [
        Family::EulerMaruyama,
        Family::PfEuler,
        Family::PfHeun,
        Family::DormandPrince,
        Family::PredictorCorrector,
        Family::DdpmAncestral,
        Family::Ddim,
        Family::DpmSolverPP2M,
        Family::ExpPc,
        Family::Hybrid,
        Family::ScoreSdePc,
        Family::KHeun,
        Family::KLms,
        Family::KDpmPP2M,
        Family::KEulerAncestral,
        Family::KDpmPP3MSde,
        Family::Plms,
        Family::FPndm,
        Family::KDpm2,
        Family::KDpmPP2SAncestral,
        Family::KDpmPPSde,
        Family::KDpmPP2MSde,
        Family::DpmPP3MLogSnr,
        Family::DpmFast,
        Family::DpmAdaptive,
        Family::UniPc,
    ];

    /// Short label for tables and legends.
    pub fn label(self) -> &'static str {
        match self {
            Family::EulerMaruyama => "reverse-SDE EM",
            Family::PfEuler => "PF-ODE Euler",
            Family::PfHeun => "PF-ODE Heun",
            Family::DormandPrince => "PF-ODE Dormand–Prince",
            Family::PredictorCorrector => "PC (EM + Langevin)",
            Family::DdpmAncestral => "DDPM ancestral",
            Family::Ddim => "DDIM η=0",
            Family::DpmSolverPP2M => "DPM-Solver++(2M)",
            Family::ExpPc => "exponential PC",
            Family::Hybrid => "hybrid SDE→ODE",
            Family::ScoreSdePc => "score_sde PC (RD + Langevin)",
            Family::KHeun => "k-diffusion heun",
            Family::KLms => "k-diffusion lms",
            Family::KDpmPP2M => "k-diffusion dpmpp_2m",
            Family::KEulerAncestral => "k-diffusion euler_ancestral",
            Family::KDpmPP3MSde => "k-diffusion dpmpp_3m_sde",
            Family::Plms => "PLMS",
            Family::FPndm => "F-PNDM",
            Family::KDpm2 => "k-diffusion dpm_2",
            Family::KDpmPP2SAncestral => "k-diffusion dpmpp_2s_ancestral",
            Family::KDpmPPSde => "k-diffusion dpmpp_sde",
            Family::KDpmPP2MSde => "k-diffusion dpmpp_2m_sde",
            Family::DpmPP3MLogSnr => "DPM-Solver++(3M), log-SNR",
            Family::DpmFast => "k-diffusion dpm_fast",
            Family::DpmAdaptive => "k-diffusion dpm_adaptive",
            Family::UniPc => "UniPC",
        }
    }

    /// The samplers of this family for the given NFE budgets (each using at most its budget;
    /// budgets too small for the family are skipped). The adaptive ones cannot be given a
    /// budget: Dormand–Prince gets the tolerance ladder `10⁻¹ … 10⁻⁵`, `dpm_adaptive` the
    /// `rtol` ladder `0.2 … 10⁻⁴` (`atol = rtol/10`).
    pub fn ladder(self, budgets: &[usize]) -> Vec<Box<dyn Sampler>> {
        if self == Family::DormandPrince {
            return [1e-1, 1e-2, 1e-3, 1e-4, 1e-5]
                .iter()
                .map(|&tol| Box::new(AdaptivePfOde::new(tol, tol)) as Box<dyn Sampler>)
                .collect();
        }
        if self == Family::DpmAdaptive {
            return [0.2, 0.05, 1e-2, 1e-3, 1e-4]
                .iter()
                .map(|&tol| Box::new(DpmAdaptive::new(3, tol, tol / 10.0)) as Box<dyn Sampler>)
                .collect();
        }
        budgets
            .iter()
            .filter_map(|&nfe| self.at_budget(nfe))
            .collect()
    }

    /// A sampler of this family using at most `nfe` evaluations, if the budget allows one.
    pub fn at_budget(self, nfe: usize) -> Option<Box<dyn Sampler>> {
        let half = nfe / 2;
        Some(match self {
            _ if nfe == 0 => return None,
            Family::EulerMaruyama => Box::new(ReverseEulerMaruyama::new(nfe)),
            Family::PfEuler => Box::new(PfOde::new(PfMethod::Euler, nfe)),
            Family::PfHeun if half > 0 => Box::new(PfOde::new(PfMethod::Heun, half)),
            Family::PredictorCorrector if half > 0 => Box::new(PredictorCorrector::new(half)),
            Family::DdpmAncestral => Box::new(Ddim::ddpm_ancestral(nfe)),
            Family::Ddim => Box::new(Ddim::new(0.0, nfe)),
            Family::DpmSolverPP2M => Box::new(DpmSolverPP2M::new(nfe)),
            Family::ExpPc => Box::new(ExpPc::new(nfe)),
            Family::Hybrid if half > 0 => {
                Box::new(Hybrid::em_then_dpm_solver(0.5, half, nfe - half))
            }
            Family::ScoreSdePc if half > 0 => Box::new(PredictorCorrector::score_sde(
                Predictor::ReverseDiffusion,
                Corrector::Langevin,
                half,
            )),
            // heun's last step onto σ = 0 is one Euler step: 2 s − 1 NFE for s steps.
            Family::KHeun if nfe >= 3 => Box::new(KDiffusion::new(KMethod::Heun, (nfe + 1) / 2)),
            Family::KLms if nfe >= 2 => {
                Box::new(KDiffusion::new(KMethod::Lms { order: nfe.min(4) }, nfe))
            }
            Family::KDpmPP2M if nfe >= 2 => Box::new(KDiffusion::new(KMethod::DpmPP2M, nfe)),
            Family::KEulerAncestral if nfe >= 2 => {
                Box::new(KDiffusion::new(KMethod::EulerAncestral, nfe))
            }
            Family::KDpmPP3MSde if nfe >= 2 => Box::new(KDiffusion::new(KMethod::DpmPP3MSde, nfe)),
            // PLMS: one extra evaluation in its first step; F-PNDM: three extra each in three.
            Family::Plms if nfe >= 2 => Box::new(Pndm::plms(nfe - 1)),
            Family::FPndm if nfe >= 12 => Box::new(Pndm::f_pndm(nfe - 9)),
            // dpm_2's last step onto σ = 0 is one Euler step, as heun's.
            Family::KDpm2 if nfe >= 3 => Box::new(KDiffusion::new(KMethod::Dpm2, (nfe + 1) / 2)),
            // dpmpp_2s_ancestral: 2 NFE per step, 1 for the last onto σ = 0.
            Family::KDpmPP2SAncestral if nfe >= 3 => {
                Box::new(KDiffusion::new(KMethod::DpmPP2SAncestral, (nfe + 1) / 2))
            }
            Family::KDpmPPSde if nfe >= 3 => Box::new(KDiffusion::new(KMethod::DpmPPSde, (nfe + 1) / 2)),
            Family::KDpmPP2MSde if nfe >= 2 => {
                Box::new(KDiffusion::new(KMethod::DpmPP2MSde { heun: false }, nfe))
            }
            Family::DpmPP3MLogSnr => Box::new(
                KDiffusion::new(KMethod::DpmPP3MSde, nfe)
                    .eta(0.0)
                    .schedule(Schedule::new(nfe).spacing(Spacing::LogSnr)),
            ),
            Family::DpmFast => Box::new(DpmFast::new(nfe)),
            Family::UniPc => Box::new(ExpPc::unipc(nfe)),
            _ => return None,
        })
    }
}

/// One sampler's result in the comparison.
#[derive(Debug, Clone, PartialEq)]
pub struct SweepRow {
    /// The family.
    pub family: Family,
    /// The sampler with its settings.
    pub sampler: String,
    /// Score evaluations per particle.
    pub nfe: usize,
    /// Energy distance and sliced W2 to the reference data.
    pub quality: Quality,
    /// Wall-clock seconds of the sampling.
    pub seconds: f64,
}

/// Runs every `(family, sampler)` from the same `n` prior draws (`n` = the reference's
/// size, drawn from `seed`; noise from `seed + 1`) and scores it against `reference`.
pub fn nfe_quality_sweep(
    samplers: &[(Family, Box<dyn Sampler>)],
    sde: &dyn ForwardSde,
    score: &dyn Score,
    reference: ArrayView2<f64>,
    seed: u64,
) -> Result<Vec<SweepRow>> {
    let x_t = sde.prior_sample(reference.nrows(), reference.ncols(), &mut rng::seeded(seed));
    samplers
        .iter()
        .map(|(family, sampler)| {
            let start = Instant::now();
            let sol =
                sampler.sample(sde, score, x_t.view(), seed.wrapping_add(1), Record::Final)?;
            let seconds = start.elapsed().as_secs_f64();
            Ok(SweepRow {
                family: *family,
                sampler: sampler.name(),
                nfe: sol.nfe,
                quality: quality(sol.last().view(), reference)?,
                seconds,
            })
        })
        .collect()
}

/// The smallest NFE at which `family` scores an energy distance `≤ threshold` in `rows`.
pub fn nfe_to_reach(rows: &[SweepRow], family: Family, threshold: f64) -> Option<usize> {
    rows.iter()
        .filter(|r| r.family == family && r.quality.energy <= threshold)
        .map(|r| r.nfe)
        .min()
}

/// One switching time of [`hybrid_switch_sweep`]: the quality with the SDE early (seed 000
/// §2.5.2's order) and with the ODE early.
#[derive(Debug, Clone, PartialEq)]
pub struct SwitchRow {
    /// The switching time `t_s`.
    pub t_switch: f64,
    /// [`Hybrid::em_then_dpm_solver`]: Euler–Maruyama from `T` to `t_s`, DPM-Solver++(2M) after.
    pub sde_first: Quality,
    /// [`Hybrid::dpm_solver_then_em`]: DPM-Solver++(2M) from `T` to `t_s`, Euler–Maruyama after.
    pub ode_first: Quality,
}

/// Seed 000 §2.5.2's "SDE early, ODE late" put to the test at a fixed budget of `nfe` steps:
/// for each switching time the hybrid in the seed's order and in the reverse order, each
/// stage given steps in proportion to its share of `[ε, T]` (at least 2), beside the pure
/// reverse SDE and the pure DPM-Solver++(2M) with `nfe` steps (returned first, as
/// `(sde, ode)`). All of them run through [`nfe_quality_sweep`]: the same prior draws, the
/// same noise, scored against `reference`.
pub fn hybrid_switch_sweep(
    sde: &dyn ForwardSde,
    score: &dyn Score,
    reference: ArrayView2<f64>,
    nfe: usize,
    switches: &[f64],
    seed: u64,
) -> Result<((Quality, Quality), Vec<SwitchRow>)> {
    if nfe < 4 {
        return crate::error::invalid("nfe", nfe, "needs ≥ 4 steps: at least 2 per stage");
    }
    let (t_max, eps) = (sde.t_max(), super::DEFAULT_EPS);
    let mut entries: Vec<(Family, Box<dyn Sampler>)> = vec![
        (Family::EulerMaruyama, Box::new(ReverseEulerMaruyama::new(nfe))),
        (Family::DpmSolverPP2M, Box::new(DpmSolverPP2M::new(nfe))),
    ];
    for &t_s in switches {
        if !(t_s > eps && t_s < t_max) {
            return crate::error::invalid("t_switch", t_s, format!("must lie strictly between ε = {eps} and T = {t_max}"));
        }
        let early = ((nfe as f64 * (t_max - t_s) / (t_max - eps)).round() as usize).clamp(2, nfe - 2);
        entries.push((Family::Hybrid, Box::new(Hybrid::em_then_dpm_solver(t_s, early, nfe - early))));
        entries.push((Family::Hybrid, Box::new(Hybrid::dpm_solver_then_em(t_s, early, nfe - early))));
    }
    let rows = nfe_quality_sweep(&entries, sde, score, reference, seed)?;
    let pure = (rows[0].quality, rows[1].quality);
    let rows = switches
        .iter()
        .zip(rows[2..].chunks_exact(2))
        .map(|(&t_switch, pair)| SwitchRow {
            t_switch,
            sde_first: pair[0].quality,
            ode_first: pair[1].quality,
        })
        .collect();
    Ok((pure, rows))
}
