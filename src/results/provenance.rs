//! Where a result was measured: the host (through `sysinfo`) and the CPU features this process can see.

use serde::{Deserialize, Serialize};
use sysinfo::{CpuRefreshKind, MemoryRefreshKind, RefreshKind, System};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HostInfo {
    pub hostname: Option<String>,
    pub os: Option<String>,
    pub os_version: Option<String>,
    pub kernel: Option<String>,
    pub arch: String,
    pub cpu_model: Option<String>,
    pub cpu_physical_cores: Option<usize>,
    pub cpu_logical_cpus: usize,
    pub memory_total_bytes: Option<u64>,
    /// Vector extensions the CPU reports (the ones ggml can use).
    pub cpu_features: Vec<String>,
}

/// The x86 extensions ggml's CPU backend has kernels for, with the name `llama_print_system_info` uses.
#[cfg(target_arch = "x86_64")]
fn cpu_features() -> Vec<String> {
    let mut f = Vec::new();
    macro_rules! probe {
        ($feat:tt, $name:expr) => {
            if std::arch::is_x86_feature_detected!($feat) {
                f.push($name.to_string());
            }
        };
    }
    probe!("sse3", "SSE3");
    probe!("ssse3", "SSSE3");
    probe!("avx", "AVX");
    probe!("avx2", "AVX2");
    probe!("f16c", "F16C");
    probe!("fma", "FMA");
    probe!("bmi2", "BMI2");
    probe!("avx512f", "AVX512");
    probe!("avx512vbmi", "AVX512_VBMI");
    probe!("avx512vnni", "AVX512_VNNI");
    probe!("avx512bf16", "AVX512_BF16");
    probe!("avxvnni", "AVX_VNNI");
    f
}

#[cfg(not(target_arch = "x86_64"))]
fn cpu_features() -> Vec<String> {
    Vec::new()
}

impl HostInfo {
    pub fn collect() -> HostInfo {
        let sys = System::new_with_specifics(
            RefreshKind::nothing()
                .with_cpu(CpuRefreshKind::nothing())
                .with_memory(MemoryRefreshKind::nothing().with_ram()),
        )
        .ok();
        let cpu_model = sys
            .as_ref()
            .and_then(|s| s.cpus().first().map(|c| c.brand().trim().to_string()))
            .filter(|b| !b.is_empty());
        HostInfo {
            hostname: System::host_name().ok(),
            os: System::name().ok(),
            os_version: System::os_version().ok(),
            kernel: System::kernel_version().ok(),
            arch: System::cpu_arch(),
            cpu_model,
            cpu_physical_cores: System::physical_core_count().ok(),
            cpu_logical_cpus: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1),
            memory_total_bytes: sys.as_ref().map(|s| s.total_memory()).filter(|&m| m > 0),
            cpu_features: cpu_features(),
        }
    }

    /// llama-bench's default thread count: the physical cores.
    pub fn default_threads(&self) -> u32 {
        self.cpu_physical_cores
            .unwrap_or(self.cpu_logical_cpus)
            .max(1) as u32
    }
}

/// Features in `host` that `system_info` (llama.cpp's `NAME = 1 | …` list) does not report as built.
pub fn features_missing_from_build(host: &[String], system_info: &str) -> Vec<String> {
    let built: Vec<&str> = system_info
        .split('|')
        .filter_map(|kv| {
            let (k, v) = kv.split_once('=')?;
            let k = k.rsplit(':').next()?.trim();
            (v.trim() == "1").then_some(k)
        })
        .collect();
    host.iter()
        .filter(|f| !built.contains(&f.as_str()))
        .cloned()
        .collect()
}

/// A backend device as llama.cpp reports it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DeviceInfo {
    pub name: String,
    pub description: String,
    pub backend: String,
    pub memory_total_bytes: u64,
    /// Free memory the device reported when the run started; absent for a result written before it was recorded.
    #[serde(default)]
    pub memory_free_bytes: Option<u64>,
}

/// What llama.cpp says about how it was built and what it runs on.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct BuildInfo {
    /// Version of the `llama-cpp-sys-2` crate whose vendored llama.cpp is linked.
    pub llama_cpp_sys_version: String,
    pub ggml_version: String,
    pub ggml_commit: String,
    /// `llama_print_system_info()`: the CPU features ggml was compiled with, per backend.
    pub system_info: String,
    pub devices: Vec<DeviceInfo>,
    pub gpu_offload_supported: bool,
}

impl BuildInfo {
    /// The devices llama.cpp can offload layers to: every device but the CPU's.
    pub fn gpu_devices(&self) -> impl Iterator<Item = &DeviceInfo> {
        self.devices.iter().filter(|d| d.backend != "CPU")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_features_are_those_the_build_does_not_list() {
        let info = "CPU : SSE3 = 1 | SSSE3 = 1 | AVX = 1 | AVX2 = 1 | F16C = 1 | FMA = 1 | OPENMP = 1 | REPACK = 1 |";
        let host: Vec<String> = ["AVX", "AVX2", "AVX512", "FMA"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(
            features_missing_from_build(&host, info),
            vec!["AVX512".to_string()]
        );
    }
}
