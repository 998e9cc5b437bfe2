//! `synth`: writes a GGUF model of a given shape with seeded random weights and a byte-fallback tokenizer.
//! Tensor data is generated block by block while it is written, so memory stays bounded for any shape.

use super::shapes::{Arch, Shape};
use gguf_rs_lib::format::{GGUFHeader, GGUFValueType, Metadata, MetadataArray, MetadataValue};
use gguf_rs_lib::tensor::{TensorInfo, TensorShape, TensorType};
use gguf_rs_lib::writer::GGUFStreamWriter;
use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

/// Tensor data alignment written into every file (GGUF's default).
const ALIGNMENT: u64 = 32;
/// Standard deviation of the random weights: small enough that activations stay finite in f16.
const WEIGHT_STD: f32 = 0.02;
/// Bytes generated per refill of a tensor's data stream.
const CHUNK_BYTES: usize = 1 << 20;

/// Storage type of the weight matrices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WeightType {
    F16,
    Q8_0,
    Q4_0,
}

impl WeightType {
    pub const ALL: [WeightType; 3] = [WeightType::F16, WeightType::Q8_0, WeightType::Q4_0];

    pub fn name(self) -> &'static str {
        match self {
            WeightType::F16 => "f16",
            WeightType::Q8_0 => "q8_0",
            WeightType::Q4_0 => "q4_0",
        }
    }

    pub fn parse(s: &str) -> Option<WeightType> {
        Self::ALL
            .into_iter()
            .find(|t| t.name().eq_ignore_ascii_case(s))
    }

    fn tensor_type(self) -> TensorType {
        match self {
            WeightType::F16 => TensorType::F16,
            WeightType::Q8_0 => TensorType::Q8_0,
            WeightType::Q4_0 => TensorType::Q4_0,
        }
    }

    /// llama.cpp's `general.file_type` (enum llama_ftype).
    fn file_type(self) -> u32 {
        match self {
            WeightType::F16 => 1,
            WeightType::Q8_0 => 7,
            WeightType::Q4_0 => 2,
        }
    }
}

/// What a synthesized model is made of.
#[derive(Debug, Clone, Serialize)]
pub struct SynthSpec {
    pub shape: Shape,
    pub weight_type: WeightType,
    pub seed: u64,
}

/// The sizes of a synthesized file, known before (and without) writing it.
#[derive(Debug, Clone, Serialize)]
pub struct SynthPlan {
    pub file_size_bytes: u64,
    pub n_params: u64,
    pub n_tensors: usize,
    /// Weight bytes one token reads, as `read_model_info` reports them of the written file.
    pub weights_read_per_token_bytes: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum SynthError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("{path}: GGUF writer rejected the model: {source}")]
    Gguf {
        path: PathBuf,
        source: gguf_rs_lib::GGUFError,
    },
    #[error("{path}: synthesis stopped (Ctrl-C); nothing was written")]
    Stopped { path: PathBuf },
}

#[derive(Clone, Copy)]
enum Init {
    Ones,
    Zeros,
    Random,
}

struct PlannedTensor {
    info: TensorInfo,
    init: Init,
}

fn plan_tensors(spec: &SynthSpec) -> Vec<PlannedTensor> {
    let s = &spec.shape;
    let w = spec.weight_type.tensor_type();
    let mut names: Vec<(String, Vec<u64>, TensorType, Init)> = Vec::new();
    names.push((
        "token_embd.weight".into(),
        vec![s.n_embd, s.n_vocab],
        w,
        Init::Random,
    ));
    names.push((
        "output_norm.weight".into(),
        vec![s.n_embd],
        TensorType::F32,
        Init::Ones,
    ));
    if !s.tied_embeddings {
        names.push((
            "output.weight".into(),
            vec![s.n_embd, s.n_vocab],
            w,
            Init::Random,
        ));
    }
    let kv = s.n_embd_kv();
    for i in 0..s.n_layer {
        let b = |n: &str| format!("blk.{i}.{n}");
        names.push((
            b("attn_norm.weight"),
            vec![s.n_embd],
            TensorType::F32,
            Init::Ones,
        ));
        names.push((
            b("attn_q.weight"),
            vec![s.n_embd, s.n_embd],
            w,
            Init::Random,
        ));
        names.push((b("attn_k.weight"), vec![s.n_embd, kv], w, Init::Random));
        names.push((b("attn_v.weight"), vec![s.n_embd, kv], w, Init::Random));
        if s.arch == Arch::Qwen2 {
            names.push((
                b("attn_q.bias"),
                vec![s.n_embd],
                TensorType::F32,
                Init::Zeros,
            ));
            names.push((b("attn_k.bias"), vec![kv], TensorType::F32, Init::Zeros));
            names.push((b("attn_v.bias"), vec![kv], TensorType::F32, Init::Zeros));
        }
        names.push((
            b("attn_output.weight"),
            vec![s.n_embd, s.n_embd],
            w,
            Init::Random,
        ));
        names.push((
            b("ffn_norm.weight"),
            vec![s.n_embd],
            TensorType::F32,
            Init::Ones,
        ));
        names.push((
            b("ffn_gate.weight"),
            vec![s.n_embd, s.n_ff],
            w,
            Init::Random,
        ));
        names.push((b("ffn_up.weight"), vec![s.n_embd, s.n_ff], w, Init::Random));
        names.push((
            b("ffn_down.weight"),
            vec![s.n_ff, s.n_embd],
            w,
            Init::Random,
        ));
    }
    let mut offset = 0u64;
    names
        .into_iter()
        .map(|(name, dims, ty, init)| {
            let shape = TensorShape::new_unchecked(dims);
            let info = TensorInfo::new(name, shape, ty, offset);
            offset += info.expected_data_size();
            offset = offset.div_ceil(ALIGNMENT) * ALIGNMENT;
            PlannedTensor { info, init }
        })
        .collect()
}

/// The synthetic tokenizer: `<unk> <s> </s>`, the 256 byte tokens `<0x00>`…`<0xFF>` (so any text tokenizes by
/// byte fallback) and then systematically generated, unique word pieces up to the vocabulary size.
pub fn vocabulary(n_vocab: u64) -> (Vec<String>, Vec<i32>) {
    const NORMAL: i32 = 1;
    const UNKNOWN: i32 = 2;
    const CONTROL: i32 = 3;
    const BYTE: i32 = 6;
    let n = n_vocab as usize;
    let mut tokens: Vec<String> = vec!["<unk>".into(), "<s>".into(), "</s>".into()];
    let mut types = vec![UNKNOWN, CONTROL, CONTROL];
    for b in 0..=255u8 {
        tokens.push(format!("<0x{b:02X}>"));
        types.push(BYTE);
    }
    let mut pieces: Vec<String> = vec!["\u{2581}".into()];
    pieces.extend((33u8..127).map(|c| (c as char).to_string()));
    let letters: Vec<char> = ('a'..='z').collect();
    let mut stems: Vec<String> = letters.iter().map(|c| c.to_string()).collect();
    'fill: while tokens.len() + pieces.len() < n {
        for stem in &stems {
            if stem.len() > 1 {
                pieces.push(stem.clone());
            }
            pieces.push(format!("\u{2581}{stem}"));
            if tokens.len() + pieces.len() >= n {
                break 'fill;
            }
        }
        stems = stems
            .iter()
            .flat_map(|s| letters.iter().map(move |c| format!("{s}{c}")))
            .collect();
    }
    pieces.truncate(n - tokens.len());
    types.extend(std::iter::repeat_n(NORMAL, pieces.len()));
    tokens.extend(pieces);
    (tokens, types)
}

fn metadata(spec: &SynthSpec) -> Metadata {
    let s = &spec.shape;
    let a = s.arch.name();
    let mut m = Metadata::new();
    let mut put = |k: &str, v: MetadataValue| m.insert(k.to_string(), v);
    put("general.architecture", MetadataValue::String(a.into()));
    put(
        "general.name",
        MetadataValue::String(format!(
            "tokenmeter synth {} {}",
            s.name,
            spec.weight_type.name()
        )),
    );
    put(
        "general.file_type",
        MetadataValue::U32(spec.weight_type.file_type()),
    );
    put("general.quantization_version", MetadataValue::U32(2));
    put(
        "tokenmeter.synth.shape",
        MetadataValue::String(s.name.clone()),
    );
    put("tokenmeter.synth.seed", MetadataValue::U64(spec.seed));
    put(
        &format!("{a}.context_length"),
        MetadataValue::U32(s.n_ctx as u32),
    );
    put(
        &format!("{a}.embedding_length"),
        MetadataValue::U32(s.n_embd as u32),
    );
    put(
        &format!("{a}.block_count"),
        MetadataValue::U32(s.n_layer as u32),
    );
    put(
        &format!("{a}.feed_forward_length"),
        MetadataValue::U32(s.n_ff as u32),
    );
    put(
        &format!("{a}.attention.head_count"),
        MetadataValue::U32(s.n_head as u32),
    );
    put(
        &format!("{a}.attention.head_count_kv"),
        MetadataValue::U32(s.n_head_kv as u32),
    );
    put(
        &format!("{a}.attention.layer_norm_rms_epsilon"),
        MetadataValue::F32(s.rms_norm_eps),
    );
    put(
        &format!("{a}.rope.freq_base"),
        MetadataValue::F32(s.rope_freq_base),
    );
    put(
        &format!("{a}.rope.dimension_count"),
        MetadataValue::U32(s.head_dim() as u32),
    );
    put(
        &format!("{a}.vocab_size"),
        MetadataValue::U32(s.n_vocab as u32),
    );
    let (tokens, types) = vocabulary(s.n_vocab);
    let n = tokens.len();
    let array = |ty, values| {
        MetadataValue::Array(Box::new(
            MetadataArray::new(ty, values).expect("homogeneous array"),
        ))
    };
    put(
        "tokenizer.ggml.model",
        MetadataValue::String("llama".into()),
    );
    put(
        "tokenizer.ggml.scores",
        array(
            GGUFValueType::F32,
            (0..n).map(|i| MetadataValue::F32(-(i as f32))).collect(),
        ),
    );
    put(
        "tokenizer.ggml.token_type",
        array(
            GGUFValueType::I32,
            types.into_iter().map(MetadataValue::I32).collect(),
        ),
    );
    put(
        "tokenizer.ggml.tokens",
        array(
            GGUFValueType::String,
            tokens.into_iter().map(MetadataValue::String).collect(),
        ),
    );
    put("tokenizer.ggml.unknown_token_id", MetadataValue::U32(0));
    put("tokenizer.ggml.bos_token_id", MetadataValue::U32(1));
    put("tokenizer.ggml.eos_token_id", MetadataValue::U32(2));
    put("tokenizer.ggml.add_bos_token", MetadataValue::Bool(true));
    put("tokenizer.ggml.add_eos_token", MetadataValue::Bool(false));
    m
}

/// Random tensor data, generated on demand in whole blocks of the tensor's type.
struct TensorStream {
    rng: ChaCha8Rng,
    ty: TensorType,
    init: Init,
    remaining: u64,
    buf: Vec<u8>,
    pos: usize,
}

impl TensorStream {
    fn new(seed: u64, index: u64, planned: &PlannedTensor) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(index);
        TensorStream {
            rng,
            ty: planned.info.tensor_type(),
            init: planned.init,
            remaining: planned.info.expected_data_size(),
            buf: Vec::new(),
            pos: 0,
        }
    }

    fn refill(&mut self) {
        let (block_bytes, scale) = match self.ty {
            // 2-byte f16 scale, then 32 int8 values (uniform in [-128, 127], sd ≈ 73.9)
            TensorType::Q8_0 => (34, Some(WEIGHT_STD / 73.9)),
            // 2-byte f16 scale, then 32 4-bit values (nibble - 8, uniform in [-8, 7], sd ≈ 4.6)
            TensorType::Q4_0 => (18, Some(WEIGHT_STD / 4.6)),
            TensorType::F16 => (2, None),
            _ => (4, None),
        };
        let blocks = ((CHUNK_BYTES / block_bytes) as u64).min(self.remaining / block_bytes as u64);
        let len = (blocks as usize) * block_bytes;
        self.buf.resize(len, 0);
        self.pos = 0;
        match (self.init, self.ty) {
            (Init::Ones, TensorType::F32) => {
                for c in self.buf.chunks_exact_mut(4) {
                    c.copy_from_slice(&1.0f32.to_le_bytes());
                }
            }
            (Init::Zeros, _) => self.buf.fill(0),
            (_, TensorType::F16) => {
                self.rng.fill_bytes(&mut self.buf);
                // uniform in [-a, a] has sd a/√3
                let a = WEIGHT_STD * 3f32.sqrt();
                for c in self.buf.chunks_exact_mut(2) {
                    let u = u16::from_le_bytes([c[0], c[1]]) as f32 / u16::MAX as f32;
                    let v = half::f16::from_f32((2.0 * u - 1.0) * a);
                    c.copy_from_slice(&v.to_le_bytes());
                }
            }
            _ => {
                self.rng.fill_bytes(&mut self.buf);
                if let Some(d) = scale {
                    let d = half::f16::from_f32(d).to_le_bytes();
                    for block in self.buf.chunks_exact_mut(block_bytes) {
                        block[..2].copy_from_slice(&d);
                    }
                }
            }
        }
        self.remaining -= len as u64;
    }
}

impl Read for TensorStream {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.pos == self.buf.len() {
            if self.remaining == 0 {
                return Ok(0);
            }
            self.refill();
        }
        let n = out.len().min(self.buf.len() - self.pos);
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// Counts bytes and discards them: sizes a file without writing it.
struct CountingSink(u64);

impl Write for CountingSink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0 += buf.len() as u64;
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn write_header<W: Write>(
    w: &mut GGUFStreamWriter<W>,
    meta: &Metadata,
    tensors: &[PlannedTensor],
) -> gguf_rs_lib::Result<()> {
    w.write_header(&GGUFHeader::new(tensors.len() as u64, meta.len() as u64))?;
    w.write_metadata(meta)?;
    let infos: Vec<TensorInfo> = tensors.iter().map(|t| t.info.clone()).collect();
    w.write_tensor_infos(&infos)?;
    w.align_for_tensor_data()?;
    Ok(())
}

/// File size and parameter count of `spec`, computed without writing tensor data.
pub fn plan(spec: &SynthSpec) -> SynthPlan {
    let tensors = plan_tensors(spec);
    let mut w = GGUFStreamWriter::new(CountingSink(0));
    write_header(&mut w, &metadata(spec), &tensors).expect("synthesized header is valid");
    let header_bytes = w.into_inner().0;
    let last = tensors.last().expect("a model has tensors");
    let size_of = |name: &str| {
        tensors
            .iter()
            .find(|t| t.info.name() == name)
            .map(|t| t.info.expected_data_size())
    };
    SynthPlan {
        file_size_bytes: header_bytes + last.info.data_offset() + last.info.expected_data_size(),
        n_params: tensors.iter().map(|t| t.info.element_count()).sum(),
        n_tensors: tensors.len(),
        weights_read_per_token_bytes: super::inspect::weights_read_per_token(
            tensors.iter().map(|t| t.info.expected_data_size()).sum(),
            size_of("token_embd.weight"),
            size_of("output.weight").is_some(),
        ),
    }
}

/// Tensor data that stops with an error once `stop` is set, so a large model's synthesis ends within one chunk of
/// a Ctrl-C.
struct Stoppable<'a, R> {
    inner: R,
    stop: &'a AtomicBool,
}

impl<R: Read> Read for Stoppable<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.stop.load(Ordering::Relaxed) {
            return Err(io::Error::other("stopped"));
        }
        self.inner.read(buf)
    }
}

/// Writes the model to `path` atomically (a temporary file in the same directory, renamed when complete).
pub fn write(spec: &SynthSpec, path: &Path) -> Result<SynthPlan, SynthError> {
    write_until(spec, path, &AtomicBool::new(false))
}

/// [`write`], ending with `SynthError::Stopped` (and no file) once `stop` is set.
pub fn write_until(
    spec: &SynthSpec,
    path: &Path,
    stop: &AtomicBool,
) -> Result<SynthPlan, SynthError> {
    let io_err = |source| SynthError::Io {
        path: path.to_path_buf(),
        source,
    };
    let gguf_err = |source| SynthError::Gguf {
        path: path.to_path_buf(),
        source,
    };
    let tmp = crate::fsutil::temp_beside(path).map_err(io_err)?;
    let file = io::BufWriter::with_capacity(1 << 20, tmp.as_file().try_clone().map_err(io_err)?);
    let tensors = plan_tensors(spec);
    let mut w = GGUFStreamWriter::new(file);
    write_header(&mut w, &metadata(spec), &tensors).map_err(gguf_err)?;
    for (i, t) in tensors.iter().enumerate() {
        let stream = Stoppable {
            inner: TensorStream::new(spec.seed, i as u64, t),
            stop,
        };
        let written = w.write_tensor_data_chunked(&t.info, stream);
        if stop.load(Ordering::Relaxed) {
            return Err(SynthError::Stopped {
                path: path.to_path_buf(),
            });
        }
        written.map_err(gguf_err)?;
    }
    w.finalize().map_err(gguf_err)?;
    let file = w.into_inner();
    file.into_inner().map_err(|e| io_err(e.into_error()))?;
    crate::fsutil::persist(tmp, path).map_err(io_err)?;
    Ok(plan(spec))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gguf::shapes::ShapeOverrides;

    #[test]
    fn a_stopped_synthesis_leaves_no_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.gguf");
        let spec = SynthSpec {
            shape: Shape::from_preset("tiny", &ShapeOverrides::default()).unwrap(),
            weight_type: WeightType::Q4_0,
            seed: 1,
        };
        let e = write_until(&spec, &path, &AtomicBool::new(true)).unwrap_err();
        assert!(matches!(e, SynthError::Stopped { .. }), "{e}");
        assert!(!path.exists());
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            0,
            "no temporary file left"
        );
    }

    #[test]
    fn plan_predicts_the_bytes_a_token_reads_of_the_written_file() {
        let dir = tempfile::tempdir().unwrap();
        for tied in [false, true] {
            let mut shape = Shape::from_preset("tiny", &ShapeOverrides::default()).unwrap();
            shape.tied_embeddings = tied;
            let spec = SynthSpec {
                shape,
                weight_type: WeightType::Q4_0,
                seed: 1,
            };
            let path = dir.path().join(format!("tied-{tied}.gguf"));
            let planned = write(&spec, &path).unwrap();
            let info = crate::gguf::read_model_info(&path).unwrap();
            assert_eq!(
                planned.weights_read_per_token_bytes, info.weights_read_per_token_bytes,
                "tied: {tied}"
            );
            let all: u64 = info.tensor_types.values().map(|t| t.size_bytes).sum();
            // untied: the embedding is left out; tied: it is the output matrix, read whole
            assert_eq!(info.weights_read_per_token_bytes < all, !tied);
        }
    }

    #[test]
    fn vocabulary_has_the_requested_size_and_unique_tokens() {
        for n in [259u64, 512, 32000] {
            let (tokens, types) = vocabulary(n);
            assert_eq!(tokens.len() as u64, n);
            assert_eq!(types.len() as u64, n);
            let unique: std::collections::HashSet<_> = tokens.iter().collect();
            assert_eq!(unique.len() as u64, n);
        }
    }

    #[test]
    fn plan_counts_parameters_of_the_tiny_shape() {
        let shape = Shape::from_preset("tiny", &ShapeOverrides::default()).unwrap();
        let spec = SynthSpec {
            shape,
            weight_type: WeightType::Q8_0,
            seed: 1,
        };
        // embd 64, kv 32, ff 128, vocab 512, 2 layers, untied
        let per_layer = 64 + 64 * 64 + 2 * 64 * 32 + 64 * 64 + 64 + 3 * 64 * 128;
        assert_eq!(plan(&spec).n_params, 2 * 512 * 64 + 64 + 2 * per_layer);
    }
}
