"""The bench driver behind `./workbook.sh bench [NAME...]`.

Each benchmark is a release example of the crate and its Python twin in bench/python/ (the
same experiment at the same sizes and seeds). They run back to back, `--reps` times, each
process alone: for every run the driver records its wall time, its peak resident memory
(the kernel's ru_maxrss of the child), and the CPU that *other* processes used meanwhile
(busy time of the whole machine from /proc/stat minus the child's own CPU time), flagging a
run as noisy when others kept more than `--noisy` cores busy on average. Both sides print
one line `BENCH {"bench": ..., "metrics": {...}}`; the table shows the medians over the
repetitions, the ratio crate / Python for each compared metric — the median of the
repetitions' own ratios, each from a crate run and the Python run right after it, so that a
slow spell of the machine, which these shared machines have, weighs on both sides of a ratio
— and whether its target is met; under it, what bounds each target the run misses (BOUNDS).
The whole record goes to target/bench/<date>.json and target/bench/latest.json (and, run by
run while it works, to target/bench/partial.json).

Standard library only. Usage (workbook.sh passes these):
    python bench/run.py --python VENV_PYTHON --examples DIR [--reps 3] [--noisy 0.25] [NAME...]
"""
import argparse
import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TWINS = os.path.join(ROOT, "bench", "python")

# name -> (example and its arguments, twin and its arguments, compared rows). A row is
# (label, crate metric, Python metric, target, unit); higher is better unless the label says
# "(lower is better)". A target is a ratio crate / Python to reach, ("<", x) a bound on the
# crate's own value (issue 21: the improved recipe trains in under 20 s), or None.
BENCHES = {
    "appendix": (
        ["appendix_bench"],
        ["appendix.py"],
        [
            ("appendix training (corrected, 2000 Adam steps)", "train_steps_per_s", "train_steps_per_s", 1.5, "steps/s"),
            ("reverse-SDE sampling with the trained net", "sample_particle_steps_per_s", "sample_particle_steps_per_s", 2.0, "particle-steps/s"),
            ("loss, mean of the last 100 steps (lower is better)", "loss_last100", "loss_last100", None, ""),
            ("energy distance of the SDE samples (lower is better)", "sde_energy", "sde_energy", None, ""),
        ],
    ),
    "appendix-improved": (
        ["appendix_bench", "--variant", "improved"],
        ["appendix.py", "--variant", "improved"],
        [
            ("improved appendix training (4000 steps, v, EMA, cosine)", "train_steps_per_s", "train_steps_per_s", None, "steps/s"),
            ("  its training time (lower is better)", "train_s", "train_s", ("<", 20.0), "s"),
            ("  energy distance of the SDE samples (lower is better)", "sde_energy", "sde_energy", None, ""),
        ],
    ),
    "unet": (
        ["digits", "--bench", "--steps", "200", "--per-class", "100", "--out", "target/bench/digits"],
        ["unet.py", "--steps", "200", "--per-class", "100"],
        [
            ("digits U-Net training (batch 128, 200 Adam steps)", "train_images_per_s", "train_images_per_s", 1.0, "images/s"),
            ("digits U-Net sampling, DPM-Solver++(2M) 10 steps, CFG", "sample_images_per_s", "sample_images_per_s", 1.0, "images/s"),
            ("  loss, mean of the last 100 steps (lower is better)", "loss_last100", "loss_last100", None, ""),
        ],
    ),
    "em": (
        ["em_throughput"],
        ["em_throughput.py"],
        [
            ("Euler–Maruyama f32, closed-form score, 100 000 × 1000", "em_f32_particle_steps_per_s", "em_f32_particle_steps_per_s", 2.0, "particle-steps/s"),
            ("Euler–Maruyama f64 (vs torch float32)", "em_f64_particle_steps_per_s", "em_f32_particle_steps_per_s", 1.5, "particle-steps/s"),
            ("Euler–Maruyama f64 (vs torch float64)", "em_f64_particle_steps_per_s", "em_f64_particle_steps_per_s", None, "particle-steps/s"),
            ("  f32 share of the crate's RNG ceiling (one thread)", "em_f32_rng_fraction", None, 0.5, ""),
            ("  standard normals f32, one thread (vs torch, 2 threads)", "normals_f32_per_s", "normals_f32_per_s", None, "1/s"),
        ],
    ),
}


# Crate metric -> what bounds it, from the profiles in README.md (*What bounds the targets not
# met*): printed under the table for each target a run misses.
BOUNDS = {
    "train_steps_per_s": "gemm ≈ 58 % (about two thirds of the two cores' FMA peak inside it), SiLU and its "
                         "gradient 11 %, the threads' waking ≈ 10 %; 1.5× the twin is what the crate reaches in a "
                         "quiet spell of this machine, not in a slow one.",
    "train_s": "the appendix network's training step (as for appendix training: gemm and SiLU by hand) 4000 "
               "times, plus the weights' moving average.",
    "sample_particle_steps_per_s": "63 % of a sampling pass is gemm at ≈ 87 % of the two cores' FMA peak, 22 % the "
                                   "exact SiLU (its division); 2× needs a SiLU about three times cheaper.",
    "train_images_per_s": "gemm ≈ 40 % (microkernels and packing; products of 16–64 columns per image), the "
                          "im2col copies ≈ 13 %, zero fills and padded copies ≈ 8 %, the threads' sleeping and "
                          "waking ≈ 5 %; candle's own autograd ≈ 1 % (a backward pass by hand was no faster).",
    "sample_images_per_s": "the forward pass's convolutions (im2col + gemm) on 8×8 to 2×2 maps.",
    "em_f32_particle_steps_per_s": "the closed-form mixture score ≈ 47 % of a step (three exponentials per "
                                   "particle), the normals ≈ 33 %, the step's element-wise passes the rest.",
    "em_f64_particle_steps_per_s": "as f32, at half the vector width: score, normals (ziggurat), element-wise passes.",
    "em_f32_rng_fraction": "the share is the profile: the normals take ≈ 1/3 of a step, the closed-form score "
                           "(three exponentials and a softmax per particle) ≈ 1/2; 50 % needs the score and the "
                           "update together no slower than the normals.",
}


def busy_seconds():
    """Busy CPU seconds of the whole machine so far (all cores), from /proc/stat."""
    try:
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:9]]
    except OSError:
        return None
    return (sum(v) - v[3] - v[4]) / os.sysconf("SC_CLK_TCK")


def run_one(argv, env):
    """Runs argv; returns its BENCH line's content with wall, CPU, peak memory and contention."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        busy0, t0 = busy_seconds(), time.perf_counter()
        proc = subprocess.Popen(argv, stdout=out, stderr=err, env=env, cwd=ROOT)
        # Reaped here, not by Popen: wait4 gives this child's own rusage (CPU, ru_maxrss).
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        busy1 = busy_seconds()
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if proc.returncode != 0:
        tail = "\n".join((stderr or stdout).strip().splitlines()[-15:])
        raise SystemExit(f"bench: {' '.join(argv)} exited with {proc.returncode}:\n{tail}")
    lines = [l for l in stdout.splitlines() if l.startswith("BENCH ")]
    if not lines:
        raise SystemExit(f"bench: {' '.join(argv)} printed no BENCH line")
    result = json.loads(lines[-1][len("BENCH "):])
    own = usage.ru_utime + usage.ru_stime
    others = None if busy0 is None else max(0.0, (busy1 - busy0 - own) / wall)
    result["run"] = {
        "wall_s": round(wall, 3),
        "cpu_s": round(own, 3),
        "peak_mib": round(usage.ru_maxrss / 1024, 1),
        "other_cores": None if others is None else round(others, 3),
    }
    return result


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def fmt(v):
    if v is None:
        return "–"
    if v == 0 or 0.01 <= abs(v) < 1e5:
        return f"{v:.4g}"
    return f"{v:.3e}"


def machine():
    model = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {"cpu": model, "cores": os.cpu_count(), "system": platform.platform()}


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--python", help="the bench venv's python")
    p.add_argument("--examples", help="folder of the release examples")
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--noisy", type=float, default=0.25, help="other processes' cores that flag a run")
    p.add_argument("--threads", type=int, default=2, help="RAYON_NUM_THREADS (torch uses 2)")
    p.add_argument("--list-examples", action="store_true", help="print the examples the NAMEs need, and stop")
    p.add_argument("names", nargs="*")
    args = p.parse_args()
    names = args.names or list(BENCHES)
    unknown = [n for n in names if n not in BENCHES]
    if unknown:
        sys.exit(f"bench: unknown benchmark(s) {', '.join(unknown)}; known: {', '.join(BENCHES)}")
    if args.list_examples:
        print("\n".join(sorted({BENCHES[n][0][0] for n in names})))
        return
    if not (args.python and args.examples):
        sys.exit("bench: --python and --examples are required")
    if args.reps < 1:
        sys.exit(f"bench: --reps {args.reps}: need at least 1")
    env = dict(os.environ, RAYON_NUM_THREADS=str(args.threads), OMP_NUM_THREADS=str(args.threads))
    record = {"date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), "machine": machine(),
              "reps": args.reps, "noisy_threshold_cores": args.noisy, "threads": args.threads, "benches": {}}
    for name in names:
        example, twin, _ = BENCHES[name]
        runs = {"crate": [], "python": []}
        for rep in range(1, args.reps + 1):
            for side, argv in (("crate", [os.path.join(args.examples, example[0]), *example[1:]]),
                               ("python", [args.python, os.path.join(TWINS, twin[0]), *twin[1:]])):
                r = run_one(argv, env)
                runs[side].append(r)
                o = r["run"]["other_cores"]
                flag = " NOISY" if o is not None and o > args.noisy else ""
                print(f"bench: {name} rep {rep}/{args.reps} {side:<6} {r['run']['wall_s']:8.1f} s, "
                      f"peak {r['run']['peak_mib']:7.1f} MiB, other processes {fmt(o)} cores{flag}",
                      file=sys.stderr, flush=True)
                record["benches"][name] = runs
                save(record, "partial.json")  # what finished so far, should the run be stopped
        record["benches"][name] = runs
    print_table(record, names)
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    save(record, f"{stamp}.json")
    save(record, "latest.json")
    print(f"\nrecord: target/bench/{stamp}.json (and target/bench/latest.json)")


def save(record, name):
    """Writes the record to target/bench/NAME whole or not at all."""
    out_dir = os.path.join(ROOT, "target", "bench")
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, name)
    with open(path + ".tmp", "w") as f:
        json.dump(record, f, indent=1)
    os.replace(path + ".tmp", path)


def print_table(record, names):
    m = record["machine"]
    print(f"\n{record['date']}, {m['cpu']}, {m['cores']} cores, {record['threads']} threads each side, "
          f"medians of {record['reps']}")
    print()
    print("| experiment | crate | PyTorch | ratio | target | peak MiB crate / PyTorch | other processes (cores, max) |")
    print("|---|---|---|---|---|---|---|")
    missed = []
    for name in names:
        runs = record["benches"][name]
        peak = (median([r["run"]["peak_mib"] for r in runs["crate"]]),
                median([r["run"]["peak_mib"] for r in runs["python"]]))
        others = max((r["run"]["other_cores"] or 0.0) for side in runs.values() for r in side)
        noisy = " **noisy**" if others > record["noisy_threshold_cores"] else ""
        for i, (label, ck, pk, target, unit) in enumerate(BENCHES[name][2]):
            c = median([r["metrics"].get(ck) for r in runs["crate"]])
            py = median([r["metrics"].get(pk) for r in runs["python"]]) if pk else None
            lower = "lower is better" in label
            if pk is None:
                ratio = c
            else:
                pairs = [(r["metrics"].get(ck), q["metrics"].get(pk)) for r, q in zip(runs["crate"], runs["python"])]
                ratio = median([(b / a if lower else a / b) for a, b in pairs if a and b])
            if isinstance(target, tuple):
                verdict = f"< {target[1]:g} {unit}: {'met' if c is not None and c < target[1] else 'NOT met'}"
            else:
                verdict = "–" if target is None or ratio is None else (
                    f"≥ {target}{'×' if pk else ''}: {'met' if ratio >= target else 'NOT met'}")
            if "NOT met" in verdict:
                missed.append((label.strip(), ck))
            last = i == 0
            print(f"| {label} | {fmt(c)} {unit} | {fmt(py)} | {fmt(ratio)}{'×' if pk else ''} | {verdict} | "
                  f"{f'{fmt(peak[0])} / {fmt(peak[1])}' if last else ''} | {f'{others:.2f}{noisy}' if last else ''} |")
    if missed:
        print("\nTargets not met, and what bounds them (the profiles: README.md, *What bounds the targets not met*):")
        for label, ck in missed:
            print(f"- {label}: {BOUNDS.get(ck, 'no profile recorded yet')}")


if __name__ == "__main__":
    main()
