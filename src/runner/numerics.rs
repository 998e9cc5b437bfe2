//! The numerics gate's measurements: the logits of a fixed prompt under a case's engine configuration and under
//! the CPU reference (no extra buffer types, no offload, flash attention off, f16 KV cache) on the same weights,
//! and the verdict from `stats::numerics`. The first `GATE_BATCH` tokens go in one batch (prompt processing's
//! kernels), the rest one per decode (generation's), so both paths are checked; a case that only decodes
//! (`tg128`) is gated on decodes alone, the kernels it measures.

use crate::engine::{self, ContextParams, EngineError, Model, ModelParams};
use crate::results::record::{Kernels, Numerics, NumericsVerdict};
use crate::stats::numerics::{self as num, LogitsDistance};
use base64::Engine as _;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::time::Instant;

/// Tokens of the gate prompt.
pub const GATE_TOKENS: usize = 16;
/// The first tokens, decoded as one batch.
pub const GATE_BATCH: usize = 12;
/// Positions whose logits are compared: three in the batch, two decoded alone.
pub const GATE_POSITIONS: [usize; 5] = [3, 7, 11, 13, 15];
/// Seed of the gate prompt's token ids.
pub const GATE_SEED: u64 = 0x6e75_6d65_7269_6373;

/// Test hook: `SCALE[:TEXT]` adds noise of SCALE × the reference logits' RMS to the logits of every case (whose
/// label contains TEXT, when given) before the gate compares them.
pub const PERTURB_ENV: &str = "TOKENMETER_TEST_PERTURB_LOGITS";

/// The gate prompt: BOS when the vocabulary adds one, then seeded ids spread over the vocabulary.
pub fn gate_tokens(model: &Model) -> Vec<i32> {
    let mut rng = ChaCha8Rng::seed_from_u64(GATE_SEED);
    (0..GATE_TOKENS)
        .map(|i| match (i, model.bos) {
            (0, Some(bos)) => bos,
            _ => rng.random_range(0..model.n_vocab.max(1)),
        })
        .collect()
}

/// The context the gate runs in: the case's threads, kernels' options and cache types, sized for the prompt.
pub fn gate_context(case: &ContextParams) -> ContextParams {
    ContextParams {
        n_ctx: GATE_TOKENS as u32,
        n_batch: GATE_BATCH as u32,
        n_ubatch: case.n_ubatch.clamp(1, GATE_BATCH as u32),
        n_seq_max: 1,
        ..case.clone()
    }
}

/// The reference's engine configuration.
pub fn reference_params(use_mmap: bool) -> ModelParams {
    ModelParams {
        n_gpu_layers: 0,
        use_mmap,
        repack: false,
        no_amx: false,
    }
}

pub fn reference_context(n_threads: u32) -> ContextParams {
    ContextParams {
        n_ctx: GATE_TOKENS as u32,
        n_batch: GATE_BATCH as u32,
        n_ubatch: GATE_BATCH as u32,
        n_threads,
        flash_attn: 0,
        offload_kqv: false,
        type_k: "f16".into(),
        type_v: "f16".into(),
        n_seq_max: 1,
    }
}

pub fn reference_label(n_threads: u32) -> String {
    format!("CPU, repack 0, ngl 0, flash attention off, f16 KV, t={n_threads}")
}

/// Logits at `GATE_POSITIONS` of the gate prompt on `model` under `context`, through `kernels`: the first
/// `GATE_BATCH` tokens in one batch and the rest decoded one at a time, or every token decoded alone.
pub fn gate_logits(
    model: &Model,
    context: &ContextParams,
    kernels: Kernels,
) -> Result<Vec<Vec<f32>>, EngineError> {
    let mut session = engine::new_session(model, &gate_context(context))?;
    let batch = match kernels {
        Kernels::BatchAndDecode => GATE_BATCH,
        Kernels::Decode => 1,
    };
    session.logits_at(&gate_tokens(model), batch, &GATE_POSITIONS)
}

/// The reference's logits, kept in a file for the workers that check a model's cases against it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reference {
    pub label: String,
    pub n_vocab: usize,
    pub positions: Vec<u32>,
    /// Each position's logits, as little-endian f32 bytes in base64.
    pub logits_f32le_base64: Vec<String>,
    pub elapsed_ns: u64,
}

impl Reference {
    /// Loads `path` under the reference configuration and computes its logits.
    pub fn compute(
        path: &Path,
        use_mmap: bool,
        n_threads: u32,
        verbose: bool,
    ) -> Result<Reference, EngineError> {
        let model = engine::load_model(path, reference_params(use_mmap), verbose)?;
        let t0 = Instant::now();
        let logits = gate_logits(
            &model,
            &reference_context(n_threads),
            Kernels::BatchAndDecode,
        )?;
        let elapsed_ns = t0.elapsed().as_nanos() as u64;
        Ok(Reference::of(
            reference_label(n_threads),
            &logits,
            elapsed_ns,
        ))
    }

    pub fn of(label: String, logits: &[Vec<f32>], elapsed_ns: u64) -> Reference {
        let b64 = base64::engine::general_purpose::STANDARD;
        Reference {
            label,
            n_vocab: logits.first().map_or(0, Vec::len),
            positions: GATE_POSITIONS.iter().map(|&p| p as u32).collect(),
            logits_f32le_base64: logits
                .iter()
                .map(|l| b64.encode(l.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>()))
                .collect(),
            elapsed_ns,
        }
    }

    pub fn logits(&self) -> Option<Vec<Vec<f32>>> {
        let b64 = base64::engine::general_purpose::STANDARD;
        self.logits_f32le_base64
            .iter()
            .map(|s| {
                let bytes = b64.decode(s).ok()?;
                (bytes.len() == 4 * self.n_vocab).then(|| {
                    bytes
                        .chunks_exact(4)
                        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                        .collect()
                })
            })
            .collect()
    }

    pub fn write(&self, path: &Path) -> std::io::Result<()> {
        let text = serde_json::to_vec(self).map_err(std::io::Error::other)?;
        crate::fsutil::write_atomic(path, &text)
    }

    pub fn read(path: &Path) -> Result<Reference, String> {
        let text = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
        serde_json::from_slice(&text).map_err(|e| format!("{}: {e}", path.display()))
    }
}

/// `PERTURB_ENV` for a case labelled `label`: the scale, when the hook applies to it.
pub fn perturbation(label: &str) -> Option<f64> {
    let v = std::env::var(PERTURB_ENV).ok()?;
    let (scale, text) = v.split_once(':').unwrap_or((&v, ""));
    let scale: f64 = scale.trim().parse().ok()?;
    (scale > 0.0 && label.contains(text)).then_some(scale)
}

/// Adds seeded noise of `scale` × the RMS of `reference` to `logits`.
pub fn perturb(logits: &mut [Vec<f32>], reference: &[Vec<f32>], scale: f64) {
    let n: usize = reference.iter().map(Vec::len).sum();
    let rms = (reference
        .iter()
        .flatten()
        .map(|&x| (x as f64) * (x as f64))
        .sum::<f64>()
        / n.max(1) as f64)
        .sqrt();
    let mut rng = ChaCha8Rng::seed_from_u64(GATE_SEED);
    for x in logits.iter_mut().flatten() {
        *x += (scale * rms * rng.random_range(-1.0..=1.0)) as f32;
    }
}

/// The gate's record for logits `test` (computed in `gate_elapsed_ns`) against `reference`.
pub fn verdict(
    reference: &Reference,
    test: Result<Vec<Vec<f32>>, String>,
    gate_elapsed_ns: u64,
    label: &str,
    kernels: Kernels,
) -> Numerics {
    let mut record = Numerics {
        kernels,
        reference: Some(reference.label.clone()),
        positions: reference.positions.clone(),
        gate_elapsed_ns: Some(gate_elapsed_ns),
        reference_elapsed_ns: Some(reference.elapsed_ns),
        ..Numerics::not_verified("")
    };
    let Some(ref_logits) = reference.logits() else {
        record.reason = Some("the reference logits do not read".into());
        return record;
    };
    let mut test = match test {
        Ok(t) => t,
        Err(e) => {
            record.reason = Some(format!("the case's logits could not be computed: {e}"));
            return record;
        }
    };
    if let Some(scale) = perturbation(label) {
        perturb(&mut test, &ref_logits, scale);
        record.test_hook = Some(format!("{PERTURB_ENV}: noise of {scale} × the logits' RMS"));
    }
    let Some(d) = num::distance(&ref_logits, &test) else {
        record.reason = Some(format!(
            "the case's logits ({} positions) do not match the reference's shape ({} positions of {} tokens)",
            test.len(),
            ref_logits.len(),
            reference.n_vocab
        ));
        return record;
    };
    let passed = num::within(&d, record.nmse_max, record.kl_max);
    record.verdict = if passed {
        NumericsVerdict::Passed
    } else {
        NumericsVerdict::Failed
    };
    record.reason = (!passed).then(|| describe(&d, record.nmse_max, record.kl_max));
    record.distance = Some(d);
    record
}

/// `NMSE 0.31 > 0.01, KL 0.8 nats > 0.01, top-1 2/5`.
pub fn describe(d: &LogitsDistance, nmse_max: f64, kl_max: f64) -> String {
    let cmp = |v: f64, max: f64| if v > max { ">" } else { "<=" };
    format!(
        "NMSE {:.3e} {} {nmse_max:.0e}, KL {:.3e} nats {} {kl_max:.0e}, top-1 {}/{}",
        d.nmse,
        cmp(d.nmse, nmse_max),
        d.kl_divergence,
        cmp(d.kl_divergence, kl_max),
        (d.top1_agreement * d.positions as f64).round() as usize,
        d.positions
    )
}

/// The gate of `case_label` against the reference logits kept at `reference` (not verified, with the reason,
/// when that file does not read).
pub fn check_file(
    model: &Model,
    context: &ContextParams,
    kernels: Kernels,
    reference: &Path,
    case_label: &str,
) -> Numerics {
    match Reference::read(reference) {
        Ok(r) => check(model, context, kernels, &r, case_label),
        Err(e) => Numerics::not_verified(format!("the reference did not read: {e}")),
    }
}

/// The gate of `case_label` on a loaded `model` under `context`, against `reference`.
pub fn check(
    model: &Model,
    context: &ContextParams,
    kernels: Kernels,
    reference: &Reference,
    case_label: &str,
) -> Numerics {
    let t0 = Instant::now();
    let logits = gate_logits(model, context, kernels).map_err(|e| e.to_string());
    verdict(
        reference,
        logits,
        t0.elapsed().as_nanos() as u64,
        case_label,
        kernels,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference() -> (Reference, Vec<Vec<f32>>) {
        let logits: Vec<Vec<f32>> = (0..GATE_POSITIONS.len())
            .map(|p| {
                (0..50)
                    .map(|i| ((i * 7 + p * 3) % 13) as f32 - 6.0)
                    .collect()
            })
            .collect();
        (Reference::of("ref".into(), &logits, 5), logits)
    }

    #[test]
    fn a_reference_reads_back_bit_for_bit() {
        let (r, logits) = reference();
        assert_eq!(r.logits().unwrap(), logits);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ref.json");
        r.write(&path).unwrap();
        assert_eq!(Reference::read(&path).unwrap(), r);
    }

    #[test]
    fn the_same_logits_pass_and_perturbed_ones_fail() {
        let (r, logits) = reference();
        let ok = verdict(&r, Ok(logits.clone()), 7, "pp512", Kernels::BatchAndDecode);
        assert_eq!(ok.verdict, NumericsVerdict::Passed);
        assert_eq!(ok.distance.as_ref().unwrap().nmse, 0.0);
        assert_eq!(
            (ok.gate_elapsed_ns, ok.reference_elapsed_ns),
            (Some(7), Some(5))
        );
        let mut bad = logits.clone();
        perturb(&mut bad, &logits, 0.5);
        let failed = verdict(&r, Ok(bad), 7, "pp512", Kernels::BatchAndDecode);
        assert_eq!(failed.verdict, NumericsVerdict::Failed);
        assert!(failed.reason.unwrap().starts_with("NMSE"));
    }

    #[test]
    fn logits_that_could_not_be_computed_are_not_verified_with_the_reason() {
        let (r, _) = reference();
        let n = verdict(&r, Err("decode failed".into()), 1, "tg128", Kernels::Decode);
        assert_eq!(n.verdict, NumericsVerdict::NotVerified);
        assert!(n.reason.unwrap().contains("decode failed"));
        let short = verdict(&r, Ok(vec![vec![0.0; 50]]), 1, "tg128", Kernels::Decode);
        assert_eq!(short.verdict, NumericsVerdict::NotVerified);
    }
}
