//! What this machine allows before anything is measured: the device the profile runs on and the memory free on
//! it, which models fit that memory, whether other work keeps the CPUs busy, and whether a model's trained
//! context holds the depth test.

use super::models::Candidate;
use super::{DEPTH_TOKENS, GEN_TOKENS};
use crate::preflight;
use crate::results::HostInfo;
use std::time::Duration;

/// Memory a model needs beyond its weights before it is tried: KV cache, compute buffers, the process.
const HEADROOM_BYTES: u64 = 1 << 30;

/// The device the phases run on, and the memory free on it.
pub struct Device {
    /// The GPUs' names, or `CPU (<model>)`.
    pub name: String,
    pub free_bytes: Option<u64>,
    /// `GPU memory` or `RAM`.
    pub memory: &'static str,
}

impl Device {
    /// The GPUs when `has_gpu` and any was found, else the CPU and its RAM.
    pub fn of(host: &HostInfo, has_gpu: bool, free: &preflight::memory::FreeMemory) -> Device {
        if has_gpu && !free.gpus.is_empty() {
            Device {
                name: free
                    .gpus
                    .iter()
                    .map(|g| g.name.clone())
                    .collect::<Vec<_>>()
                    .join(", "),
                free_bytes: Some(free.gpus.iter().map(|g| g.free_bytes).sum::<u64>()),
                memory: "GPU memory",
            }
        } else {
            Device {
                name: format!(
                    "CPU ({})",
                    host.cpu_model.as_deref().unwrap_or("unknown model")
                ),
                free_bytes: free.ram_bytes,
                memory: "RAM",
            }
        }
    }

    /// The models that fit this device's free memory, and each of the others with why (`name: why`).
    pub fn fitting(&self, all: Vec<Candidate>) -> (Vec<Candidate>, Vec<String>) {
        let mut left_out = Vec::new();
        let fit = all
            .into_iter()
            .filter(
                |c| match does_not_fit(c.size.file_size_bytes, self.free_bytes, self.memory) {
                    Some(why) => {
                        left_out.push(format!("{}: {why}", c.name));
                        false
                    }
                    None => true,
                },
            )
            .collect();
        (fit, left_out)
    }
}

/// Why a model of `file_bytes` does not fit `free_bytes` of device memory, or `None`.
pub fn does_not_fit(file_bytes: u64, free_bytes: Option<u64>, memory: &str) -> Option<String> {
    let free = free_bytes?;
    let need = file_bytes + file_bytes / 10 + HEADROOM_BYTES;
    (need > free).then(|| {
        format!(
            "needs ~{} of {memory} (weights {} + KV, buffers), {} free",
            preflight::memory::size(need),
            preflight::memory::size(file_bytes),
            preflight::memory::size(free)
        )
    })
}

/// Why the depth test does not suit a model trained on `n_ctx_train` positions, or `None`.
pub fn short_context(n_ctx_train: Option<u64>) -> Option<String> {
    let need = (DEPTH_TOKENS + GEN_TOKENS) as u64;
    n_ctx_train.filter(|n| *n < need).map(|n| {
        format!("the model's trained context ({n} tokens) is shorter than depth {DEPTH_TOKENS} + {GEN_TOKENS}")
    })
}

/// A warning when other work keeps the CPUs busy (a quarter of their time or more, over a short look before
/// anything runs): llama.cpp's threads wait on each other at every operation, so one descheduled thread stalls
/// them all, and generation on a busy CPU can be many times slower than on an idle one.
pub fn busy_machine(cpu_busy_percent: f32, cpus: usize) -> Option<String> {
    (cpu_busy_percent >= 25.0).then(|| {
        format!(
            "the machine is busy (its {cpus} CPUs {cpu_busy_percent:.0}% in use by other work): its rates will \
             be lower and noisier than on an idle machine"
        )
    })
}

/// How busy the CPUs are, in percent of all of them, over half a second; `None` when it cannot be read.
pub fn cpu_busy_percent() -> Option<f32> {
    let mut s = sysinfo::System::new().ok()?;
    s.refresh_cpu_usage();
    std::thread::sleep(sysinfo::MINIMUM_CPU_UPDATE_INTERVAL.max(Duration::from_millis(500)));
    s.refresh_cpu_usage();
    Some(s.global_cpu_usage())
}
