//! PNDM (PLMS and F-PNDM) against diffusers' `PNDMScheduler`: `tests/reference/pndm.json`
//! was written by `tests/reference/make_reference.py` on the crate's VP SDE with the exact
//! noise prediction of the appendix mixture; the final states must agree to 1e-10 and the
//! NFE must be diffusers' number of model calls.

use diffusion_sde::framework::samplers::*;
use diffusion_sde::framework::MixtureMarginal;
use diffusion_sde::prelude::*;

#[path = "reference/fixtures.rs"]
mod fixtures;
use fixtures::{largest_difference, matrix};

#[test]
fn plms_and_f_pndm_match_diffusers_to_1e_10() {
    let fx = fixtures::fixture("pndm.json");
    let vp = &fx["vp"];
    let sde = VpSde::new(vp["beta_min"].as_f64().unwrap(), vp["beta_max"].as_f64().unwrap()).unwrap();
    let score = MixtureMarginal::new(sde, GaussianMixture::appendix_2d());
    let x = matrix(&fx["x_init"]);
    let runs = fx["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 4);
    for run in runs {
        let n = run["n"].as_u64().unwrap() as usize;
        let schedule = Schedule::new(n)
            .from(run["t_start"].as_f64().unwrap())
            .to(1.0 / vp["train_steps"].as_f64().unwrap())
            .to_zero();
        let warm_start = match run["method"].as_str().unwrap() {
            "plms" => WarmStart::Heun,
            _ => WarmStart::RungeKutta,
        };
        let pndm = Pndm { warm_start, schedule };
        let out = pndm.sample(&sde, &score, x.view(), 0, Record::Final).unwrap();
        let theirs = matrix(&run["final"]);
        let worst = largest_difference(out.last(), &theirs);
        assert!(worst <= 1e-10, "{}: largest difference {worst:e}", pndm.name());
        assert_eq!(out.nfe as u64, run["nfe"].as_u64().unwrap(), "{}", pndm.name());
    }
}
