//! Choosing where candle runs: the CPU always; a CUDA GPU when built with `--features cuda`.

use candle_core::Device;

use crate::error::invalid;
use crate::Result;

/// The device named `"cpu"`, `"cuda"` or `"auto"` (CUDA when built with the feature and a GPU
/// is present, otherwise the CPU).
pub fn device(name: &str) -> Result<Device> {
    match name {
        "cpu" => {
            keep_freed_buffers();
            Ok(Device::Cpu)
        }
        "auto" => Ok(Device::cuda_if_available(0)?),
        "cuda" if cfg!(feature = "cuda") => Ok(Device::new_cuda(0)?),
        "cuda" => invalid(
            "device",
            name,
            "this build has no CUDA support; rebuild with `cargo build --release --features cuda`",
        ),
        other => invalid("device", other, "expected one of cpu, cuda, auto"),
    }
}

/// Lets glibc's `malloc` reuse the buffers candle frees instead of returning them to the
/// kernel: done once per process, on Linux with glibc, when a CPU model is made.
///
/// Every candle CPU operation allocates its output. A 1000 × 128 `f32` batch is 512 KB, above
/// glibc's `mmap` threshold, so by default each such output is a fresh `mmap` whose pages
/// fault in one by one and a `munmap` when freed; `perf` showed ~22 % of the appendix
/// training time in page faults (`examples/appendix_bench.rs`). Raising the `mmap` and trim
/// thresholds keeps freed blocks on the heap for the next step: measured 21 → 39 training
/// steps/s on one thread, system time 3.5 s → 0.01 s for 300 steps. The cost is that up to
/// the thresholds of freed memory stays with the process — once: all threads share one arena
/// (`M_ARENA_MAX = 1`), because a training step runs on whichever thread of rayon's pool takes
/// it ([`super::kernels`]' `in_pool`), and with an arena per thread each kept its own copy of
/// the step's buffers (the digits U-Net's peak 85 → 210 MiB; same speed with one arena).
pub fn keep_freed_buffers() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        static ONCE: std::sync::Once = std::sync::Once::new();
        ONCE.call_once(|| {
            // SAFETY: `mallopt` only sets allocator parameters; valid at any time.
            unsafe {
                libc::mallopt(libc::M_MMAP_THRESHOLD, 256 << 20);
                libc::mallopt(libc::M_TRIM_THRESHOLD, 1 << 30);
                libc::mallopt(libc::M_ARENA_MAX, 1);
            }
        });
    }
}

/// A short description for notebooks and logs, e.g. `"cpu"` or `"cuda:0"`.
pub fn describe(device: &Device) -> String {
    match device {
        Device::Cpu => "cpu".into(),
        Device::Cuda(_) => "cuda:0".into(),
        Device::Metal(_) => "metal".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_map_to_devices_and_bad_names_are_errors() {
        assert!(device("cpu").unwrap().is_cpu());
        assert!(device("auto").is_ok());
        let e = device("tpu").unwrap_err().to_string();
        assert!(e.contains("tpu"), "{e}");
        if !cfg!(feature = "cuda") {
            let e = device("cuda").unwrap_err().to_string();
            assert!(e.contains("--features cuda"), "{e}");
        }
    }
}
