//! The compute ceiling of generation on the CPU: ggml's matrix-vector product at batch 1 on a matrix that stays
//! in the last-level cache (`engine::matvec`), in weight bytes per second. Generation can go no faster than this
//! rate over the weight bytes one token reads, whatever the memory bandwidth; on a few cores it is often the
//! tighter of the two ceilings. One measurement per host boot, build, thread count, weight type and repack
//! setting is kept in a cache file beside the bandwidth figure, with its spread.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The matrix is this fraction of the last-level cache, so it stays there between products.
pub const LLC_FRACTION: f64 = 0.25;
/// And at most this large (8 MiB: well inside the 32 MiB L3 of the EPYC and Xeon VMs this was measured on).
pub const MAX_MATRIX_BYTES: u64 = 8 << 20;
/// Timed passes; the median is the figure, the extremes its spread.
pub const PASSES: usize = 7;
/// Each pass runs at least this long.
pub const MIN_PASS_S: f64 = 0.05;

/// The matrix's size for a last-level cache of `llc_bytes` (unknown: `MAX_MATRIX_BYTES`).
pub fn matrix_bytes(llc_bytes: Option<u64>) -> u64 {
    llc_bytes
        .map(|l| (l as f64 * LLC_FRACTION) as u64)
        .unwrap_or(MAX_MATRIX_BYTES)
        .clamp(1 << 20, MAX_MATRIX_BYTES)
}

/// What a cached measurement must match to be reused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComputeKey {
    pub host: Option<String>,
    pub boot_id: Option<String>,
    /// The build's identity (tokenmeter, ggml and its compiled features, the executable).
    pub build: String,
    pub threads: u32,
    pub weight_type: String,
    pub repack: bool,
}

/// One measurement of the matrix-vector rate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ComputeRate {
    pub gb_per_s: f64,
    pub min_gb_per_s: f64,
    pub max_gb_per_s: f64,
    pub passes: usize,
    pub matrix_bytes: u64,
    /// The buffer type that held the weights (`CPU`, `CPU_REPACK`, `AMX`).
    pub buffer_type: String,
    pub measured_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CachedCompute {
    pub key: ComputeKey,
    pub rate: ComputeRate,
}

/// `<cache_dir>/compute/<host>.json`.
pub fn cache_path(cache_dir: &Path, host: Option<&str>) -> PathBuf {
    let file = super::bandwidth::cache_path(cache_dir, host);
    cache_dir
        .join("compute")
        .join(file.file_name().expect("a file name"))
}

pub fn read_cached(path: &Path, key: &ComputeKey) -> Option<ComputeRate> {
    let text = std::fs::read(path).ok()?;
    let all: Vec<CachedCompute> = serde_json::from_slice(&text).ok()?;
    all.into_iter().find(|c| c.key == *key).map(|c| c.rate)
}

/// Adds (or replaces) `key`'s measurement in the cache at `path`, keeping the other entries of the same boot.
pub fn write_cached(path: &Path, key: &ComputeKey, rate: &ComputeRate) -> std::io::Result<()> {
    let mut all: Vec<CachedCompute> = std::fs::read(path)
        .ok()
        .and_then(|t| serde_json::from_slice(&t).ok())
        .unwrap_or_default();
    all.retain(|c| c.key != *key && c.key.boot_id == key.boot_id && c.key.build == key.build);
    all.push(CachedCompute {
        key: key.clone(),
        rate: rate.clone(),
    });
    let text = serde_json::to_vec_pretty(&all).map_err(std::io::Error::other)?;
    crate::fsutil::write_atomic(path, &text)
}

/// Removes `key`'s measurement from the cache at `path` (one a later measurement contradicted).
pub fn forget_cached(path: &Path, key: &ComputeKey) -> std::io::Result<()> {
    let Ok(text) = std::fs::read(path) else {
        return Ok(());
    };
    let mut all: Vec<CachedCompute> = serde_json::from_slice(&text).unwrap_or_default();
    all.retain(|c| c.key != *key);
    let text = serde_json::to_vec_pretty(&all).map_err(std::io::Error::other)?;
    crate::fsutil::write_atomic(path, &text)
}

/// Generation's ceiling from this rate: tokens/s when every weight byte of a token is processed at it.
pub fn tg_ceiling(gb_per_s: f64, bytes_per_token: u64) -> Option<f64> {
    (bytes_per_token > 0 && gb_per_s > 0.0).then(|| gb_per_s * 1e9 / bytes_per_token as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_forgotten_measurement_is_measured_again_and_the_others_stay() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("box.json");
        let rate = ComputeRate {
            gb_per_s: 20.0,
            min_gb_per_s: 19.0,
            max_gb_per_s: 21.0,
            passes: 7,
            matrix_bytes: 1 << 23,
            buffer_type: "CPU_REPACK".into(),
            measured_at: Utc::now(),
        };
        write_cached(&path, &key(1), &rate).unwrap();
        write_cached(&path, &key(2), &rate).unwrap();
        forget_cached(&path, &key(2)).unwrap();
        assert_eq!(read_cached(&path, &key(2)), None);
        assert_eq!(read_cached(&path, &key(1)), Some(rate));
    }

    fn key(threads: u32) -> ComputeKey {
        ComputeKey {
            host: Some("box".into()),
            boot_id: Some("b1".into()),
            build: "build".into(),
            threads,
            weight_type: "q4_0".into(),
            repack: true,
        }
    }

    fn rate(gb: f64) -> ComputeRate {
        ComputeRate {
            gb_per_s: gb,
            min_gb_per_s: gb - 1.0,
            max_gb_per_s: gb + 1.0,
            passes: 7,
            matrix_bytes: 8 << 20,
            buffer_type: "CPU_REPACK".into(),
            measured_at: "2026-12-02T12:00:00Z".parse().unwrap(),
        }
    }

    #[test]
    fn the_matrix_is_a_quarter_of_the_llc_within_bounds() {
        assert_eq!(matrix_bytes(Some(16 << 20)), 4 << 20);
        assert_eq!(matrix_bytes(Some(256 << 20)), MAX_MATRIX_BYTES);
        assert_eq!(matrix_bytes(Some(1 << 20)), 1 << 20);
        assert_eq!(matrix_bytes(None), MAX_MATRIX_BYTES);
    }

    #[test]
    fn a_cached_rate_is_reused_only_for_its_own_key_and_entries_of_another_boot_are_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let path = cache_path(dir.path(), Some("box"));
        assert_eq!(path, dir.path().join("compute").join("box.json"));
        write_cached(&path, &key(1), &rate(10.0)).unwrap();
        write_cached(&path, &key(2), &rate(20.0)).unwrap();
        assert_eq!(read_cached(&path, &key(1)), Some(rate(10.0)));
        assert_eq!(read_cached(&path, &key(2)), Some(rate(20.0)));
        assert_eq!(read_cached(&path, &key(4)), None);
        let rebooted = ComputeKey {
            boot_id: Some("b2".into()),
            ..key(1)
        };
        assert_eq!(read_cached(&path, &rebooted), None);
        write_cached(&path, &rebooted, &rate(30.0)).unwrap();
        assert_eq!(
            read_cached(&path, &key(2)),
            None,
            "another boot's entries are gone"
        );
    }

    #[test]
    fn the_ceiling_is_the_rate_over_the_bytes_a_token_reads() {
        assert_eq!(tg_ceiling(27.0, 27_000_000), Some(1000.0));
        assert_eq!(tg_ceiling(27.0, 0), None);
        assert_eq!(tg_ceiling(0.0, 10), None);
    }
}
