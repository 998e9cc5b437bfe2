//! The CPU's streaming-read bandwidth, the roofline's denominator for a CPU run: a buffer well beyond the
//! last-level cache (its size read from sysfs), a warm-up pass that faults the pages in, then several timed passes
//! whose median is the figure and whose minimum and maximum are kept as its spread. One measurement per host is
//! kept in a cache file, so runs on one host share one limit until it is measured again.

use crate::stats::median;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Where Linux describes cpu0's caches (`index*/level`, `index*/size`).
pub const CPU_CACHE_ROOT: &str = "/sys/devices/system/cpu/cpu0/cache";
/// Last-level cache assumed when sysfs does not say: the largest L3 of a desktop CPU (Ryzen 9 7950X3D, 128 MiB,
/// per AMD's data sheet, read 2026-11).
pub const DEFAULT_LLC_BYTES: u64 = 128 << 20;
/// The buffer is at least this many times the last-level cache, so almost every read comes from memory.
pub const LLC_MULTIPLE: u64 = 8;
/// And at least this large: a 256 MiB buffer read 25.4 and then 33.8 GB/s ten minutes apart on an EPYC with 32 MiB
/// of L3 (issue 9, 2026-11).
pub const MIN_BUFFER_BYTES: u64 = 1 << 30;
/// At most this fraction of the memory available when the probe starts.
pub const MAX_AVAILABLE_FRACTION: f64 = 0.25;
/// Timed passes after the warm-up pass; the median is reported.
pub const TIMED_PASSES: usize = 7;

/// The size of the largest cache at the highest level under `root` (e.g. `CPU_CACHE_ROOT`); `None` when it
/// cannot be read. Sizes are as sysfs writes them: `32768K`, `1M`, or bytes.
pub fn last_level_cache_bytes(root: &Path) -> Option<u64> {
    let mut best: Option<(u32, u64)> = None;
    for entry in std::fs::read_dir(root).ok()?.flatten() {
        let dir = entry.path();
        let name = entry.file_name();
        if !name.to_string_lossy().starts_with("index") {
            continue;
        }
        let read = |f: &str| std::fs::read_to_string(dir.join(f)).ok();
        let Some(level) = read("level").and_then(|s| s.trim().parse::<u32>().ok()) else {
            continue;
        };
        let Some(size) = read("size").and_then(|s| parse_cache_size(&s)) else {
            continue;
        };
        if best.is_none_or(|b| (level, size) > b) {
            best = Some((level, size));
        }
    }
    best.map(|b| b.1)
}

/// `32768K` → 32 MiB; `1M`, `2G` and plain bytes likewise.
pub fn parse_cache_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let (digits, unit) = match s.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => s.split_at(i),
        None => (s, ""),
    };
    let n: u64 = digits.parse().ok()?;
    let shift = match unit.trim() {
        "" => 0,
        "K" | "k" => 10,
        "M" => 20,
        "G" => 30,
        _ => return None,
    };
    Some(n << shift)
}

/// The probe's buffer: `max(LLC_MULTIPLE × llc, MIN_BUFFER_BYTES)` (`DEFAULT_LLC_BYTES` when the LLC is
/// unknown), capped at `MAX_AVAILABLE_FRACTION` of the available memory when that is known.
pub fn buffer_bytes(llc_bytes: Option<u64>, available_bytes: Option<u64>) -> u64 {
    let wanted = (LLC_MULTIPLE * llc_bytes.unwrap_or(DEFAULT_LLC_BYTES)).max(MIN_BUFFER_BYTES);
    match available_bytes {
        Some(a) => wanted
            .min((a as f64 * MAX_AVAILABLE_FRACTION) as u64)
            .max(8),
        None => wanted,
    }
}

/// Memory available to a new allocation now, when the system says.
pub fn available_memory_bytes() -> Option<u64> {
    use sysinfo::{MemoryRefreshKind, RefreshKind, System};
    let s = System::new_with_specifics(
        RefreshKind::nothing().with_memory(MemoryRefreshKind::nothing().with_ram()),
    )
    .ok()?;
    Some(s.available_memory()).filter(|&m| m > 0)
}

/// One run of the probe: the median pass and the spread of all timed passes, in GB/s (10^9 bytes/s).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReadBandwidth {
    pub gb_per_s: f64,
    pub min_gb_per_s: f64,
    pub max_gb_per_s: f64,
    pub passes: usize,
    pub buffer_bytes: u64,
    pub threads: usize,
}

/// Streaming-read bandwidth: `threads` threads each sum their share of a `bytes` buffer of `u64`s; one
/// untimed warm-up pass, then `passes` timed ones (at least one).
pub fn measure_cpu_read_bandwidth(bytes: u64, threads: usize, passes: usize) -> ReadBandwidth {
    let words = (bytes / 8).max(1) as usize;
    let threads = threads.clamp(1, words);
    // Written, not zero-allocated: untouched zero pages would all map to one physical page.
    let buf: Vec<u64> = (0..words as u64).collect();
    let chunk = words.div_ceil(threads);
    let pass = || {
        let t0 = Instant::now();
        std::thread::scope(|s| {
            for part in buf.chunks(chunk) {
                s.spawn(move || {
                    black_box(black_box(part).iter().fold(0u64, |a, &x| a.wrapping_add(x)))
                });
            }
        });
        (words * 8) as f64 / t0.elapsed().as_secs_f64() / 1e9
    };
    pass();
    let rates: Vec<f64> = (0..passes.max(1)).map(|_| pass()).collect();
    ReadBandwidth {
        gb_per_s: median(&rates).expect("at least one pass"),
        min_gb_per_s: rates.iter().copied().fold(f64::INFINITY, f64::min),
        max_gb_per_s: rates.iter().copied().fold(0.0, f64::max),
        passes: rates.len(),
        buffer_bytes: (words * 8) as u64,
        threads,
    }
}

/// A host's measurement as kept in the cache.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CachedBandwidth {
    pub host: Option<String>,
    pub cpu_model: Option<String>,
    /// The kernel's boot id when it was measured: cloud VMs share host names and CPU models, and a restarted
    /// one may run on another machine, so a measurement holds only until the next boot.
    #[serde(default)]
    pub boot_id: Option<String>,
    pub measured_at: DateTime<Utc>,
    #[serde(flatten)]
    pub bandwidth: ReadBandwidth,
}

/// The cache file of `host` under `cache_dir`: `bandwidth/<host>.json`.
pub fn cache_path(cache_dir: &Path, host: Option<&str>) -> PathBuf {
    let name = crate::fsutil::file_name_part_or(host.unwrap_or_default(), "unknown-host");
    cache_dir.join("bandwidth").join(format!("{name}.json"))
}

/// This boot's id (`/proc/sys/kernel/random/boot_id`); `None` where the kernel has none.
pub fn boot_id() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

/// The cached measurement at `path`, when it was taken on this host and CPU, since this boot, with `threads`
/// threads; a missing or unreadable file, or one from another host, boot or thread count, gives `None` (it is
/// measured again).
pub fn read_cached(path: &Path, key: &CacheKey) -> Option<CachedBandwidth> {
    let text = std::fs::read_to_string(path).ok()?;
    let c: CachedBandwidth = serde_json::from_str(&text).ok()?;
    (c.key() == *key).then_some(c)
}

/// What a cached measurement must match to be reused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheKey {
    pub host: Option<String>,
    pub cpu_model: Option<String>,
    pub boot_id: Option<String>,
    pub threads: usize,
}

impl CachedBandwidth {
    pub fn key(&self) -> CacheKey {
        CacheKey {
            host: self.host.clone(),
            cpu_model: self.cpu_model.clone(),
            boot_id: self.boot_id.clone(),
            threads: self.bandwidth.threads,
        }
    }
}

/// Writes `c` to `path` atomically, replacing any earlier measurement.
pub fn write_cached(path: &Path, c: &CachedBandwidth) -> std::io::Result<()> {
    let text = serde_json::to_vec_pretty(c).map_err(std::io::Error::other)?;
    crate::fsutil::write_atomic(path, &text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_sizes_read_as_sysfs_writes_them() {
        assert_eq!(parse_cache_size("32768K\n"), Some(32 << 20));
        assert_eq!(parse_cache_size("1M"), Some(1 << 20));
        assert_eq!(parse_cache_size("512"), Some(512));
        assert_eq!(parse_cache_size("lots"), None);
    }

    #[test]
    fn the_last_level_cache_is_the_largest_at_the_highest_level() {
        let root = tempfile::tempdir().unwrap();
        for (i, level, size) in [(0, "1", "32K"), (1, "2", "1024K"), (2, "3", "32768K")] {
            let d = root.path().join(format!("index{i}"));
            std::fs::create_dir(&d).unwrap();
            std::fs::write(d.join("level"), level).unwrap();
            std::fs::write(d.join("size"), size).unwrap();
        }
        assert_eq!(last_level_cache_bytes(root.path()), Some(32 << 20));
        assert_eq!(last_level_cache_bytes(&root.path().join("absent")), None);
    }

    #[test]
    fn the_buffer_is_eight_llcs_or_a_gib_capped_by_available_memory() {
        const GIB: u64 = 1 << 30;
        assert_eq!(buffer_bytes(Some(32 << 20), None), GIB);
        assert_eq!(buffer_bytes(Some(256 << 20), None), 2 * GIB);
        assert_eq!(buffer_bytes(None, None), GIB);
        assert_eq!(buffer_bytes(Some(256 << 20), Some(4 * GIB)), GIB);
        assert_eq!(buffer_bytes(Some(32 << 20), Some(2 * GIB)), GIB / 2);
    }

    #[test]
    fn the_figure_is_the_median_pass_and_its_spread_the_extremes() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median(&[]), None);
        let bw = measure_cpu_read_bandwidth(16 << 20, 2, 3);
        assert_eq!((bw.passes, bw.buffer_bytes, bw.threads), (3, 16 << 20, 2));
        assert!(bw.min_gb_per_s > 0.0 && bw.min_gb_per_s <= bw.gb_per_s);
        assert!(bw.gb_per_s <= bw.max_gb_per_s && bw.max_gb_per_s.is_finite());
    }

    #[test]
    fn a_cached_measurement_is_reused_only_on_its_own_host_boot_and_thread_count() {
        let dir = tempfile::tempdir().unwrap();
        let path = cache_path(dir.path(), Some("box/1"));
        assert_eq!(path, dir.path().join("bandwidth").join("box-1.json"));
        let c = CachedBandwidth {
            host: Some("box/1".into()),
            cpu_model: Some("AMD EPYC".into()),
            boot_id: Some("boot-1".into()),
            measured_at: "2026-11-25T20:00:00Z".parse().unwrap(),
            bandwidth: ReadBandwidth {
                gb_per_s: 29.0,
                min_gb_per_s: 28.0,
                max_gb_per_s: 30.0,
                passes: 7,
                buffer_bytes: 1 << 30,
                threads: 2,
            },
        };
        assert_eq!(read_cached(&path, &c.key()), None);
        write_cached(&path, &c).unwrap();
        assert_eq!(read_cached(&path, &c.key()), Some(c.clone()));
        let other = |f: fn(&mut CacheKey)| {
            let mut k = c.key();
            f(&mut k);
            read_cached(&path, &k)
        };
        assert_eq!(other(|o| o.host = Some("box/2".into())), None);
        assert_eq!(other(|o| o.cpu_model = Some("Intel".into())), None);
        assert_eq!(other(|o| o.threads = 4), None, "another thread count");
        assert_eq!(
            other(|o| o.boot_id = Some("boot-2".into())),
            None,
            "rebooted: perhaps moved"
        );
        assert_eq!(other(|o| o.boot_id = None), None);
    }
}
