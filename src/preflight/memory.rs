//! The memory a case needs, estimated from the model's tensor table and hyperparameters before anything is
//! loaded, and the comparison with what is free. Pure functions over plain inputs; measuring free memory lives
//! in `preflight::facts`.
//!
//! RAM (the process's peak resident set):
//! - process: a measured constant for the binary, its libraries and the sensors ([`PROCESS_BASE_BYTES`]);
//! - weights: with mmap, every tensor's bytes (llama.cpp reads each one through the mapping while loading); without
//!   mmap, the bytes of the tensors that stay on the CPU; plus a second copy of the CPU tensors the CPU backend
//!   repacks for its matrix kernels (ggml-cpu `repack.cpp`, `ggml_repack_get_optimal_repack_type`: Q4_0, Q4_K and
//!   IQ4_NL matrices whose row count is a multiple of 8, on a CPU with AVX2; the token embedding is read by row and
//!   stays unpacked, but a tied output projection is its repacked duplicate);
//! - KV cache: `n_layer × n_stream × n_ctx_seq × (row(type_k, n_head_kv × head_dim_k) + row(type_v, n_head_kv ×
//!   head_dim_v))`, with llama.cpp's padding: `n_ctx_seq = pad256(pad256(n_ctx) / n_seq_max)` and one stream per
//!   sequence (llama-context.cpp constructor; llama-kv-cache.cpp `llama_kv_cache::llama_kv_cache`);
//! - compute: the part of llama.cpp's compute buffer a decode writes, `4 B × T × (A × n_embd + B × n_ff)` for the
//!   activations of a ubatch of `T` tokens, plus the attention scratch (flash attention: the f16 mask, `2 B × T ×
//!   n_kv`; without it the f32 scores and their softmax per head, `C × T × n_kv × n_head` with a fitted C of 5 B, and
//!   the f32 mask),
//!   plus the logits rows the ubatch outputs (`4 B × n_outputs × n_vocab`). A, B and C are fitted to measured peak
//!   RSS (results/reference/preflight-memory/).
//!
//! VRAM (per GPU, when layers are offloaded): the offloaded layers' tensors and their KV cache, split over the
//! GPUs in proportion to their free memory (llama.cpp's default layer split), plus on every GPU the compute
//! buffer llama.cpp reserves for a full ubatch, `4 B × T × (n_vocab + A × n_embd + B × n_ff)` plus the attention
//! scratch. This path is not calibrated against measurements.

/// Resident memory of the process before any model is loaded: the binary, llama.cpp's libraries, the sensors
/// and the allocator (peak RSS of `bench` on the 0.08 MiB `tiny` model minus its estimate, 2026-11-25; see
/// results/reference/preflight-memory/).
pub const PROCESS_BASE_BYTES: u64 = 14 << 20;

/// Activation bytes per embedding element of a ubatch token, in units of 4 B (fitted, see the module docs).
pub const ACT_EMBD_FACTOR: f64 = 1.2;
/// Activation bytes per feed-forward element of a ubatch token, in units of 4 B (fitted, see the module docs).
pub const ACT_FF_FACTOR: f64 = 4.5;

/// Without flash attention: bytes per head, ubatch token and KV cell for the attention scores and their softmax
/// (f32 scores, partly reused across layers; fitted, see the module docs).
pub const ATTN_SCORE_BYTES_PER_HEAD: u64 = 5;

/// llama.cpp pads the context to a multiple of 256 cells (llama-context.cpp, the constructor's `GGML_PAD(n_ctx,
/// 256)`).
pub const CTX_PAD: u64 = 256;

pub fn pad(x: u64, to: u64) -> u64 {
    x.div_ceil(to) * to
}

/// One tensor of the model file.
#[derive(Debug, Clone, PartialEq)]
pub struct TensorFacts {
    pub name: String,
    /// ggml's type name, e.g. "Q4_0", "F32".
    pub type_name: String,
    pub bytes: u64,
    /// Dimensions, innermost first (`ne`).
    pub dims: Vec<u64>,
}

/// What the estimate needs of a model: its hyperparameters and tensor table.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelFacts {
    pub n_layer: u64,
    pub n_embd: u64,
    pub n_head: u64,
    pub n_head_kv: u64,
    pub head_dim_k: u64,
    pub head_dim_v: u64,
    pub n_ff: u64,
    pub n_vocab: u64,
    pub tensors: Vec<TensorFacts>,
}

/// Everything about one context that decides its memory.
#[derive(Debug, Clone, PartialEq)]
pub struct ContextShape {
    /// `n_ctx` as tokenmeter asks for it (before llama.cpp's padding).
    pub n_ctx: u64,
    pub n_seq_max: u64,
    /// Tokens of the largest ubatch the case decodes.
    pub ubatch_tokens: u64,
    /// Logits rows of that ubatch.
    pub ubatch_outputs: u64,
    /// llama.cpp's `n_ubatch` after its clamping: the ubatch its compute buffer is reserved for.
    pub n_ubatch: u64,
    /// -1 auto, 0 off, 1 on.
    pub flash_attn: i8,
    pub type_k: String,
    pub type_v: String,
    pub offload_kqv: bool,
    /// Negative: all.
    pub n_gpu_layers: i32,
    pub use_mmap: bool,
}

/// The host facts the estimate depends on.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HostFacts {
    /// The CPU backend repacks quantized matrices (x86 with AVX2).
    pub cpu_repacks: bool,
    /// The build has a GPU device that layers can be offloaded to.
    pub has_gpu: bool,
}

/// Bytes needed in one memory, by what needs them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Need {
    pub weights_bytes: u64,
    pub kv_bytes: u64,
    pub compute_bytes: u64,
    pub process_bytes: u64,
}

impl Need {
    pub fn total_bytes(&self) -> u64 {
        self.weights_bytes + self.kv_bytes + self.compute_bytes + self.process_bytes
    }
}

/// A case's estimate: host memory, and the offloaded part when layers go to a GPU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Estimate {
    pub ram: Need,
    /// `None`: nothing is offloaded.
    pub vram: Option<Need>,
}

/// Bytes per element and block size of a KV cache type (ggml's type traits).
pub fn cache_type_size(name: &str) -> Option<(u64, u64)> {
    Some(match name {
        "f32" => (4, 1),
        "f16" | "bf16" => (2, 1),
        "q8_0" => (34, 32),
        "q4_0" | "iq4_nl" => (18, 32),
        "q4_1" => (20, 32),
        "q5_0" => (22, 32),
        "q5_1" => (24, 32),
        _ => return None,
    })
}

/// `ggml_row_size`: bytes of `n` elements of a cache type.
fn row_bytes(type_name: &str, n: u64) -> u64 {
    let (size, block) = cache_type_size(type_name).unwrap_or((2, 1));
    n.div_ceil(block) * size
}

/// Cells per sequence and streams, as llama.cpp's context constructor computes them (non-unified KV cache, its
/// default).
pub fn kv_cells(n_ctx: u64, n_seq_max: u64) -> (u64, u64) {
    let n_seq = n_seq_max.max(1);
    let n_ctx = pad(n_ctx, CTX_PAD);
    (pad(n_ctx / n_seq, CTX_PAD), n_seq)
}

/// KV cache bytes of `n_layers` layers.
pub fn kv_bytes(m: &ModelFacts, c: &ContextShape, n_layers: u64) -> u64 {
    let (n_ctx_seq, n_stream) = kv_cells(c.n_ctx, c.n_seq_max);
    let per_cell = row_bytes(&c.type_k, m.n_head_kv * m.head_dim_k)
        + row_bytes(&c.type_v, m.n_head_kv * m.head_dim_v);
    n_layers * n_stream * n_ctx_seq * per_cell
}

fn activations(m: &ModelFacts, tokens: u64) -> f64 {
    4.0 * tokens as f64 * (ACT_EMBD_FACTOR * m.n_embd as f64 + ACT_FF_FACTOR * m.n_ff as f64)
}

fn attention_scratch(m: &ModelFacts, c: &ContextShape, tokens: u64) -> u64 {
    let (n_kv, _) = kv_cells(c.n_ctx, c.n_seq_max);
    if c.flash_attn == 0 {
        tokens * n_kv * (ATTN_SCORE_BYTES_PER_HEAD * m.n_head + 4)
    } else {
        tokens * n_kv * 2
    }
}

/// The compute memory a decode of the case's largest ubatch writes on the CPU, with the output buffer.
pub fn cpu_compute_bytes(m: &ModelFacts, c: &ContextShape) -> u64 {
    let t = c.ubatch_tokens.max(1);
    let outputs = c.ubatch_outputs.max(c.n_seq_max).max(1);
    activations(m, t) as u64 + attention_scratch(m, c, t) + 4 * outputs * m.n_vocab
}

/// The compute buffer llama.cpp reserves on a GPU: a full ubatch with every token's logits.
pub fn gpu_compute_bytes(m: &ModelFacts, c: &ContextShape) -> u64 {
    let t = c.n_ubatch.max(1);
    activations(m, t) as u64 + attention_scratch(m, c, t) + 4 * t * m.n_vocab
}

/// The layer a tensor belongs to (`blk.N.`), if any.
fn layer_of(name: &str) -> Option<u64> {
    name.strip_prefix("blk.")?.split('.').next()?.parse().ok()
}

/// Whether the CPU backend keeps a repacked copy of a tensor (see the module docs).
fn repacked(t: &TensorFacts) -> bool {
    matches!(t.type_name.as_str(), "Q4_0" | "Q4_K" | "IQ4_NL")
        && t.dims.len() == 2
        && t.dims[1].is_multiple_of(8)
}

/// Layers offloaded and whether the output layer is (llama.cpp offloads the last `n_gpu_layers` repeating
/// layers, and the output layer too when `n_gpu_layers > n_layer`).
fn offloaded(m: &ModelFacts, c: &ContextShape, h: &HostFacts) -> (u64, bool) {
    if !h.has_gpu || c.n_gpu_layers == 0 {
        return (0, false);
    }
    let ngl = if c.n_gpu_layers < 0 {
        m.n_layer + 1
    } else {
        c.n_gpu_layers as u64
    };
    (ngl.min(m.n_layer), ngl > m.n_layer)
}

/// The estimate for one case.
pub fn estimate(m: &ModelFacts, c: &ContextShape, h: &HostFacts) -> Estimate {
    let (n_off, output_off) = offloaded(m, c, h);
    let first_gpu_layer = m.n_layer - n_off;
    let on_gpu = |t: &TensorFacts| match layer_of(&t.name) {
        Some(l) => l >= first_gpu_layer,
        None => output_off && t.name.starts_with("output"),
    };
    let tied = !m.tensors.iter().any(|t| t.name == "output.weight");
    let mut ram_weights = 0u64;
    let mut gpu_weights = 0u64;
    for t in &m.tensors {
        if on_gpu(t) {
            // Read through the mapping while loading too, but those pages are clean page cache, not a need.
            gpu_weights += t.bytes;
            continue;
        }
        if c.use_mmap {
            ram_weights += t.bytes;
        }
        let copy = h.cpu_repacks && repacked(t) && t.name != "token_embd.weight";
        if copy || !c.use_mmap {
            ram_weights += t.bytes;
        }
    }
    if tied && !output_off {
        if let Some(e) = m.tensors.iter().find(|t| t.name == "token_embd.weight") {
            if h.cpu_repacks && repacked(e) {
                ram_weights += e.bytes;
            }
        }
    }
    let gpu_kv_layers = if c.offload_kqv { n_off } else { 0 };
    let ram = Need {
        weights_bytes: ram_weights,
        kv_bytes: kv_bytes(m, c, m.n_layer - gpu_kv_layers),
        compute_bytes: cpu_compute_bytes(m, c),
        process_bytes: PROCESS_BASE_BYTES,
    };
    let vram = (n_off > 0 || output_off).then(|| Need {
        weights_bytes: gpu_weights,
        kv_bytes: kv_bytes(m, c, gpu_kv_layers),
        compute_bytes: gpu_compute_bytes(m, c),
        process_bytes: 0,
    });
    Estimate { ram, vram }
}

/// Free memory: RAM, and each GPU's VRAM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FreeMemory {
    /// `None`: unknown (the check is skipped).
    pub ram_bytes: Option<u64>,
    pub gpus: Vec<GpuFree>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GpuFree {
    pub name: String,
    pub free_bytes: u64,
}

/// Bytes as GiB from 1 GiB up, else as MiB.
pub fn size(bytes: u64) -> String {
    if bytes >= 1 << 30 {
        format!("{:.2} GiB", bytes as f64 / (1u64 << 30) as f64)
    } else {
        format!("{:.1} MiB", bytes as f64 / (1u64 << 20) as f64)
    }
}

fn breakdown(n: &Need) -> String {
    let mut parts = vec![
        format!("weights {}", size(n.weights_bytes)),
        format!("KV {}", size(n.kv_bytes)),
        format!("compute {}", size(n.compute_bytes)),
    ];
    if n.process_bytes > 0 {
        parts.push(format!("process {}", size(n.process_bytes)));
    }
    parts.join(" + ")
}

/// The estimate in one line, e.g. `~1.20 GiB RAM (weights … + KV … + compute … + process …)`.
pub fn describe(e: &Estimate) -> String {
    let mut s = format!("~{} RAM ({})", size(e.ram.total_bytes()), breakdown(&e.ram));
    if let Some(v) = &e.vram {
        s.push_str(&format!(
            ", ~{} VRAM ({})",
            size(v.total_bytes()),
            breakdown(v)
        ));
    }
    s
}

/// Why the estimate does not fit what is free, or `None` when it fits (or nothing is known of what is free).
/// Offloaded weights and KV are split over the GPUs in proportion to their free memory; each GPU also holds a
/// compute buffer.
pub fn shortfall(e: &Estimate, free: &FreeMemory) -> Option<String> {
    if let Some(ram_free) = free.ram_bytes {
        if e.ram.total_bytes() > ram_free {
            return Some(format!(
                "needs ~{} ({}), {} free",
                size(e.ram.total_bytes()),
                breakdown(&e.ram),
                size(ram_free)
            ));
        }
    }
    let v = e.vram.as_ref()?;
    let total_free: u64 = free.gpus.iter().map(|g| g.free_bytes).sum();
    if free.gpus.is_empty() {
        return None;
    }
    let split = v.weights_bytes + v.kv_bytes;
    for g in &free.gpus {
        let share = if total_free == 0 {
            split / free.gpus.len() as u64
        } else {
            (split as u128 * g.free_bytes as u128 / total_free as u128) as u64
        };
        let need = share + v.compute_bytes;
        if need > g.free_bytes {
            return Some(format!(
                "needs ~{} on {} ({} of the offloaded weights {} + KV {}, compute {}), {} free",
                size(need),
                g.name,
                size(share),
                size(v.weights_bytes),
                size(v.kv_bytes),
                size(v.compute_bytes),
                size(g.free_bytes)
            ));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tensor(name: &str, type_name: &str, bytes: u64, dims: &[u64]) -> TensorFacts {
        TensorFacts {
            name: name.into(),
            type_name: type_name.into(),
            bytes,
            dims: dims.to_vec(),
        }
    }

    /// The `small` synth shape's hyperparameters, with a hand-made tensor table: two layers of one Q4_0 matrix
    /// and one F32 norm, an embedding and an output projection.
    fn small(tied: bool) -> ModelFacts {
        let mut tensors = vec![
            tensor("token_embd.weight", "Q4_0", 1000, &[512, 32000]),
            tensor("blk.0.ffn_up.weight", "Q4_0", 100, &[512, 1536]),
            tensor("blk.0.attn_norm.weight", "F32", 10, &[512]),
            tensor("blk.1.ffn_up.weight", "Q4_0", 100, &[512, 1536]),
            tensor("blk.1.attn_norm.weight", "F32", 10, &[512]),
        ];
        if !tied {
            tensors.push(tensor("output.weight", "Q4_0", 1000, &[512, 32000]));
        }
        ModelFacts {
            n_layer: 2,
            n_embd: 512,
            n_head: 8,
            n_head_kv: 4,
            head_dim_k: 64,
            head_dim_v: 64,
            n_ff: 1536,
            n_vocab: 32000,
            tensors,
        }
    }

    fn context(n_ctx: u64, n_seq_max: u64) -> ContextShape {
        ContextShape {
            n_ctx,
            n_seq_max,
            ubatch_tokens: 512,
            ubatch_outputs: 1,
            n_ubatch: 512,
            flash_attn: -1,
            type_k: "f16".into(),
            type_v: "f16".into(),
            offload_kqv: true,
            n_gpu_layers: -1,
            use_mmap: true,
        }
    }

    const CPU: HostFacts = HostFacts {
        cpu_repacks: true,
        has_gpu: false,
    };

    #[test]
    fn cells_are_padded_to_256_per_sequence_as_llama_cpp_does() {
        assert_eq!(kv_cells(640, 1), (768, 1));
        assert_eq!(kv_cells(512, 1), (512, 1));
        // 16 slots of 40 positions: 640 → 768 cells, 48 per sequence → 256 each
        assert_eq!(kv_cells(640, 16), (256, 16));
    }

    #[test]
    fn kv_bytes_match_llama_cpps_log_for_the_small_shape() {
        // llama.cpp logs "CPU KV buffer size = 4.00 MiB" for `small` (8 layers) at n_ctx 512, f16
        let m = ModelFacts {
            n_layer: 8,
            ..small(false)
        };
        assert_eq!(kv_bytes(&m, &context(512, 1), 8), 4 << 20);
        let mut q8 = context(512, 1);
        q8.type_k = "q8_0".into();
        q8.type_v = "q8_0".into();
        // 256 values per K row and per V row: 8 blocks of 34 bytes
        assert_eq!(kv_bytes(&m, &q8, 8), 8 * 512 * 2 * 8 * 34);
    }

    #[test]
    fn mapped_weights_count_once_and_repacked_matrices_twice() {
        let e = estimate(&small(false), &context(512, 1), &CPU);
        // all 2220 bytes mapped, plus repacked copies of the two layer matrices and the output (not the embedding)
        assert_eq!(e.ram.weights_bytes, 2220 + 200 + 1000);
        assert_eq!(e.vram, None);
        let no_repack = HostFacts {
            cpu_repacks: false,
            has_gpu: false,
        };
        assert_eq!(
            estimate(&small(false), &context(512, 1), &no_repack)
                .ram
                .weights_bytes,
            2220
        );
    }

    #[test]
    fn a_tied_output_is_a_repacked_copy_of_the_embedding() {
        let e = estimate(&small(true), &context(512, 1), &CPU);
        assert_eq!(e.ram.weights_bytes, 1220 + 200 + 1000);
    }

    #[test]
    fn without_mmap_each_cpu_tensor_is_held_once() {
        let mut c = context(512, 1);
        c.use_mmap = false;
        let e = estimate(&small(false), &c, &CPU);
        assert_eq!(e.ram.weights_bytes, 2220);
    }

    #[test]
    fn compute_is_activations_attention_mask_and_logits_rows() {
        let m = small(false);
        let c = context(512, 1);
        let activations = (4.0 * 512.0 * (ACT_EMBD_FACTOR * 512.0 + ACT_FF_FACTOR * 1536.0)) as u64;
        assert_eq!(
            cpu_compute_bytes(&m, &c),
            activations + 512 * 512 * 2 + 4 * 32000
        );
        let mut no_fa = c.clone();
        no_fa.flash_attn = 0;
        assert_eq!(
            cpu_compute_bytes(&m, &no_fa),
            activations + 512 * 512 * (ATTN_SCORE_BYTES_PER_HEAD * 8 + 4) + 4 * 32000
        );
    }

    #[test]
    fn offloaded_layers_and_their_kv_go_to_the_gpus() {
        let gpu = HostFacts {
            cpu_repacks: true,
            has_gpu: true,
        };
        let m = small(false);
        let mut c = context(512, 1);
        c.n_gpu_layers = 1;
        let e = estimate(&m, &c, &gpu);
        let v = e.vram.expect("one layer offloaded");
        // the last layer: its matrix and norm, and one layer of KV
        assert_eq!(v.weights_bytes, 110);
        assert_eq!(v.kv_bytes, kv_bytes(&m, &c, 1));
        assert_eq!(e.ram.kv_bytes, kv_bytes(&m, &c, 1));
        c.n_gpu_layers = -1;
        let all = estimate(&m, &c, &gpu);
        assert_eq!(all.vram.unwrap().weights_bytes, 220 + 1000);
        // the embedding stays on the CPU (mapped once; read by row, never repacked)
        assert_eq!(all.ram.weights_bytes, 1000);
        assert_eq!(all.ram.kv_bytes, 0);
    }

    #[test]
    fn each_gpu_takes_its_share_of_the_offload_and_a_compute_buffer() {
        let e = Estimate {
            ram: Need::default(),
            vram: Some(Need {
                weights_bytes: 9 << 30,
                kv_bytes: 3 << 30,
                compute_bytes: 1 << 30,
                process_bytes: 0,
            }),
        };
        let free = |a: u64, b: u64| FreeMemory {
            ram_bytes: Some(64 << 30),
            gpus: vec![
                GpuFree {
                    name: "GPU 0 (fake)".into(),
                    free_bytes: a << 30,
                },
                GpuFree {
                    name: "GPU 1 (fake)".into(),
                    free_bytes: b << 30,
                },
            ],
        };
        // 12 GiB split 3:1 over 24 and 8 GiB free: 9 + 1 and 3 + 1 GiB
        assert_eq!(shortfall(&e, &free(24, 8)), None);
        // split 2:1 over 8 and 4 GiB: 8 + 1 > 8 on GPU 0
        assert_eq!(
            shortfall(&e, &free(8, 4)).unwrap(),
            "needs ~9.00 GiB on GPU 0 (fake) (8.00 GiB of the offloaded weights 9.00 GiB + KV 3.00 GiB, \
             compute 1.00 GiB), 8.00 GiB free"
        );
    }
}
