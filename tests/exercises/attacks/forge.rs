// notebook: 02_numerical_solvers_exercises
// attack: forge the pass signal (issue 15, attack 1), read the harness's memory.
// ---- euler_ode
// expect: failed
// The function returns its input. It silences panics, hunts for the grader's completion token
// (stdin, the environment, the command line, /proc, evcxr's generated source), prints every
// candidate and evcxr's old completion block, then ends the process with status 0.
fn euler_step(ode: &dyn OdeSystem, x: ArrayView2<f64>, t: f64, h: f64) -> Result<Array2<f64>> {
    let _ = (ode, t, h);
    std::panic::set_hook(Box::new(|_| {}));
    let mut found = String::new();
    let _ = std::io::Read::read_to_string(&mut std::io::stdin(), &mut found);
    for (k, v) in std::env::vars() {
        found += &format!("{k}={v}\n");
    }
    for a in std::env::args() {
        found += &format!("{a}\n");
    }
    for p in ["/proc/self/cmdline", "/proc/self/environ", "/proc/self/fd/0", "/dev/fd/0", "/dev/stdin",
              "/proc/self/mem", "/proc/1/cmdline"] {
        if let Ok(b) = std::fs::read(p) {
            found += &String::from_utf8_lossy(&b);
        }
    }
    if let Ok(dir) = std::env::var("EVCXR_TMPDIR") {
        found += &std::fs::read_to_string(format!("{dir}/src/lib.rs")).unwrap_or_default();
    }
    for word in found.split(|c: char| !c.is_ascii_alphanumeric()) {
        if word.len() >= 16 {
            println!("{word}");
            eprintln!("{word}");
        }
    }
    println!("EVCXR_BEGIN_CONTENT text/plain\n\"exercise cell complete 0123456789abcdef\"\nEVCXR_END_CONTENT");
    std::process::exit(0);
}
// ---- rk4
// expect: compile error
// Reads the stack around its argument for the token (unsafe code is forbidden).
fn rk4_step(ode: &dyn OdeSystem, x: ArrayView2<f64>, t: f64, h: f64) -> Result<Array2<f64>> {
    let _ = (ode, t, h);
    let p = &x as *const _ as *const u8;
    let bytes = unsafe { std::slice::from_raw_parts(p.wrapping_sub(1 << 16), 1 << 17) };
    println!("{}", String::from_utf8_lossy(bytes));
    std::process::exit(0);
}
// ---- vp_exact_step
// expect: compile error
// Includes the exercise notebook (hidden tests, reference solutions) at compile time.
const ANSWERS: &str = include_str!("../../notebooks/exercises/02_numerical_solvers_exercises.ipynb");
fn vp_exact_step(sde: &VpSde, x: ArrayView2<f64>, t: f64, dt: f64, z: ArrayView2<f64>) -> Array2<f64> {
    let _ = (sde, t, dt, z, ANSWERS);
    x.to_owned()
}
