//! Model shapes that `synth` can write: a tiny one for tests, a small default for the embedded benchmark, and
//! the shapes of published models (hyperparameters from each model's `config.json` on its Hugging Face card).

use serde::Serialize;

/// The llama.cpp architecture a shape is written as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Arch {
    /// Llama family: no attention biases.
    Llama,
    /// Qwen2 family: biases on the q, k and v projections.
    Qwen2,
}

impl Arch {
    /// The value of `general.architecture` and the prefix of the architecture's metadata keys.
    pub fn name(self) -> &'static str {
        match self {
            Arch::Llama => "llama",
            Arch::Qwen2 => "qwen2",
        }
    }
}

/// The hyperparameters that decide a transformer's tensor shapes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Shape {
    pub name: String,
    pub arch: Arch,
    pub n_layer: u64,
    pub n_embd: u64,
    pub n_head: u64,
    pub n_head_kv: u64,
    pub n_ff: u64,
    pub n_vocab: u64,
    pub n_ctx: u64,
    pub rope_freq_base: f32,
    pub rms_norm_eps: f32,
    /// The output projection reuses the token embedding (no `output.weight` tensor).
    pub tied_embeddings: bool,
}

/// Overrides of a preset's hyperparameters (`--layers --embd --heads --kv-heads --ff --vocab --ctx`).
#[derive(Debug, Clone, Default)]
pub struct ShapeOverrides {
    pub n_layer: Option<u64>,
    pub n_embd: Option<u64>,
    pub n_head: Option<u64>,
    pub n_head_kv: Option<u64>,
    pub n_ff: Option<u64>,
    pub n_vocab: Option<u64>,
    pub n_ctx: Option<u64>,
}

/// Smallest vocabulary the synthetic tokenizer needs: three special tokens and 256 byte tokens.
pub const MIN_VOCAB: u64 = 3 + 256;

type Preset = (&'static str, Arch, [u64; 7], f32, f32, bool);

/// Every preset: name, architecture, [layers, embd, heads, kv heads, ffn, vocab, context], rope base, rms eps, tied.
const PRESETS: &[Preset] = &[
    // For tests: loads and generates in milliseconds.
    (
        "tiny",
        Arch::Llama,
        [2, 64, 4, 2, 128, 512, 2048],
        10000.0,
        1e-5,
        false,
    ),
    // The embedded default benchmark: about 57M parameters, a full pp512/tg128 run in well under two minutes on
    // two cores.
    (
        "small",
        Arch::Llama,
        [8, 512, 8, 4, 1536, 32000, 4096],
        10000.0,
        1e-5,
        false,
    ),
    // Qwen/Qwen2.5-0.5B config.json
    (
        "qwen2.5-0.5b",
        Arch::Qwen2,
        [24, 896, 14, 2, 4864, 151936, 32768],
        1_000_000.0,
        1e-6,
        true,
    ),
    // meta-llama/Llama-3.2-1B config.json
    (
        "llama-3.2-1b",
        Arch::Llama,
        [16, 2048, 32, 8, 8192, 128256, 131072],
        500_000.0,
        1e-5,
        true,
    ),
    // meta-llama/Llama-3.1-8B config.json
    (
        "llama-3.1-8b",
        Arch::Llama,
        [32, 4096, 32, 8, 14336, 128256, 131072],
        500_000.0,
        1e-5,
        false,
    ),
    // Qwen/Qwen2.5-7B config.json
    (
        "qwen2.5-7b",
        Arch::Qwen2,
        [28, 3584, 28, 4, 18944, 152064, 131072],
        1_000_000.0,
        1e-6,
        false,
    ),
    // meta-llama/Llama-3.1-70B config.json
    (
        "llama-3.1-70b",
        Arch::Llama,
        [80, 8192, 64, 8, 28672, 128256, 131072],
        500_000.0,
        1e-5,
        false,
    ),
];

/// Names of the shapes `synth --shape` accepts.
pub fn preset_names() -> Vec<&'static str> {
    PRESETS.iter().map(|p| p.0).collect()
}

/// Problems with a requested shape.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ShapeError {
    #[error("unknown shape '{0}' (expected one of: {1})")]
    Unknown(String, String),
    #[error("invalid shape '{name}': {what}")]
    Invalid { name: String, what: String },
}

impl Shape {
    /// A preset by name with overrides applied, checked for consistency.
    pub fn from_preset(name: &str, overrides: &ShapeOverrides) -> Result<Shape, ShapeError> {
        let p = PRESETS
            .iter()
            .find(|p| p.0 == name)
            .ok_or_else(|| ShapeError::Unknown(name.to_string(), preset_names().join(", ")))?;
        let [n_layer, n_embd, n_head, n_head_kv, n_ff, n_vocab, n_ctx] = p.2;
        let shape = Shape {
            name: name.to_string(),
            arch: p.1,
            n_layer: overrides.n_layer.unwrap_or(n_layer),
            n_embd: overrides.n_embd.unwrap_or(n_embd),
            n_head: overrides.n_head.unwrap_or(n_head),
            n_head_kv: overrides.n_head_kv.unwrap_or(n_head_kv),
            n_ff: overrides.n_ff.unwrap_or(n_ff),
            n_vocab: overrides.n_vocab.unwrap_or(n_vocab),
            n_ctx: overrides.n_ctx.unwrap_or(n_ctx),
            rope_freq_base: p.3,
            rms_norm_eps: p.4,
            tied_embeddings: p.5,
        };
        shape.validate()?;
        Ok(shape)
    }

    pub fn head_dim(&self) -> u64 {
        self.n_embd / self.n_head
    }

    pub fn n_embd_kv(&self) -> u64 {
        self.head_dim() * self.n_head_kv
    }

    fn validate(&self) -> Result<(), ShapeError> {
        let bad = |what: String| {
            Err(ShapeError::Invalid {
                name: self.name.clone(),
                what,
            })
        };
        for (key, v) in [
            ("layers", self.n_layer),
            ("embd", self.n_embd),
            ("heads", self.n_head),
            ("kv-heads", self.n_head_kv),
            ("ff", self.n_ff),
            ("ctx", self.n_ctx),
        ] {
            if v == 0 {
                return bad(format!("--{key} must be at least 1"));
            }
        }
        if !self.n_embd.is_multiple_of(self.n_head) {
            return bad(format!(
                "embd {} is not a multiple of heads {}",
                self.n_embd, self.n_head
            ));
        }
        if !self.n_head.is_multiple_of(self.n_head_kv) {
            return bad(format!(
                "heads {} is not a multiple of kv-heads {}",
                self.n_head, self.n_head_kv
            ));
        }
        if !self.head_dim().is_multiple_of(2) {
            return bad(format!(
                "head dimension {} must be even (rope)",
                self.head_dim()
            ));
        }
        // Quantized rows are stored in blocks of 32 values along each row.
        for (key, v) in [("embd", self.n_embd), ("ff", self.n_ff)] {
            if !v.is_multiple_of(32) {
                return bad(format!("{key} {v} must be a multiple of 32"));
            }
        }
        if self.n_vocab < MIN_VOCAB {
            return bad(format!(
                "vocab {} is below the minimum {MIN_VOCAB}",
                self.n_vocab
            ));
        }
        if self.n_vocab > i32::MAX as u64 {
            return bad(format!(
                "vocab {} does not fit llama.cpp's token ids",
                self.n_vocab
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn published_shapes_are_consistent() {
        for name in preset_names() {
            let shape = Shape::from_preset(name, &ShapeOverrides::default()).unwrap();
            assert!(shape.n_embd_kv() <= shape.n_embd, "{name}");
        }
    }

    #[test]
    fn overrides_replace_preset_values() {
        let o = ShapeOverrides {
            n_layer: Some(3),
            n_vocab: Some(1000),
            ..Default::default()
        };
        let s = Shape::from_preset("tiny", &o).unwrap();
        assert_eq!((s.n_layer, s.n_vocab, s.n_embd), (3, 1000, 64));
    }

    #[test]
    fn inconsistent_heads_are_rejected() {
        let o = ShapeOverrides {
            n_head: Some(3),
            ..Default::default()
        };
        assert!(matches!(
            Shape::from_preset("tiny", &o),
            Err(ShapeError::Invalid { .. })
        ));
    }

    #[test]
    fn unknown_shape_names_the_choices() {
        let e = Shape::from_preset("gpt-5", &ShapeOverrides::default()).unwrap_err();
        assert!(e.to_string().contains("llama-3.1-8b"));
    }
}
