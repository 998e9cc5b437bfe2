//! The only module that calls llama.cpp (`llama-cpp-2`): the process-wide backend, model loading, contexts and
//! the timed decode loops. Everything it times is recorded into buffers allocated before the clock starts.

pub mod amx;
pub mod matvec;

pub use crate::results::provenance::{BuildInfo, DeviceInfo};
use llama_cpp_2::context::params::{KvCacheType, LlamaContextParams};
use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::llama_backend::LlamaBackend;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::token::LlamaToken;
use serde::Serialize;
use std::collections::BTreeMap;
use std::num::NonZeroU32;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Instant;

static BACKEND: OnceLock<Result<LlamaBackend, String>> = OnceLock::new();
/// Whether llama.cpp's log goes to stderr (`-v`).
static LOG_TO_STDERR: AtomicBool = AtomicBool::new(false);
/// llama.cpp's log while a model loads, read for the buffers that hold its weights.
static LOG_CAPTURE: Mutex<Option<String>> = Mutex::new(None);
/// One model load at a time, so that a captured log belongs to one model.
static LOAD_LOCK: Mutex<()> = Mutex::new(());

unsafe extern "C" fn log_sink(
    _level: llama_cpp_sys_2::ggml_log_level,
    text: *const std::os::raw::c_char,
    _user_data: *mut std::os::raw::c_void,
) {
    if text.is_null() {
        return;
    }
    // SAFETY: llama.cpp passes a NUL-terminated string that lives for the call.
    let text = unsafe { std::ffi::CStr::from_ptr(text) }.to_string_lossy();
    if let Ok(mut capture) = LOG_CAPTURE.lock() {
        if let Some(buf) = capture.as_mut() {
            buf.push_str(&text);
        }
    }
    if LOG_TO_STDERR.load(Ordering::Relaxed) {
        eprint!("{text}");
    }
}

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("llama.cpp backend: {0}")]
    Backend(String),
    #[error("{path}: llama.cpp could not load the model (run with -v to see llama.cpp's log)")]
    Load { path: String },
    #[error("{model}: llama.cpp could not create a context with n_ctx={n_ctx} n_batch={n_batch} n_ubatch={n_ubatch} (out of memory? run with -v)")]
    Context {
        model: String,
        n_ctx: u32,
        n_batch: u32,
        n_ubatch: u32,
    },
    #[error("llama_decode failed with code {code} at position {pos}: {hint}")]
    Decode {
        code: i32,
        pos: i32,
        hint: &'static str,
    },
}

/// The llama.cpp backend, initialised once per process. llama.cpp's log is silenced unless `verbose` is set by
/// the first caller.
pub fn backend(verbose: bool) -> Result<&'static LlamaBackend, EngineError> {
    BACKEND
        .get_or_init(|| {
            #[cfg(feature = "dynamic-backends")]
            load_backend_modules(verbose);
            // Before the backends start, so that what they log while finding devices (ggml's Vulkan backend
            // lists every device) stays out of stderr unless -v.
            LOG_TO_STDERR.store(verbose, Ordering::Relaxed);
            // SAFETY: a callback that copies the text it is given and keeps no pointer to it; it sets the log of
            // both llama.cpp and ggml.
            unsafe { llama_cpp_sys_2::llama_log_set(Some(log_sink), std::ptr::null_mut()) };
            LlamaBackend::init().map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|e| EngineError::Backend(e.clone()))
}

/// Environment variable naming the directory of ggml backend modules (`libggml-*.so`) for a
/// `dynamic-backends` build; without it the directory of the executable is searched.
pub const BACKEND_DIR_ENV: &str = "TOKENMETER_BACKEND_DIR";

/// Loads ggml's backend modules (CPU variants, CUDA, Vulkan, …) for a `dynamic-backends` build: every module in
/// `TOKENMETER_BACKEND_DIR` or beside the executable, then the CPU variants built with the binary if no CPU
/// module was found there.
#[cfg(feature = "dynamic-backends")]
fn load_backend_modules(verbose: bool) {
    unsafe extern "C" fn quiet(
        _level: llama_cpp_sys_2::ggml_log_level,
        _text: *const std::os::raw::c_char,
        _user_data: *mut std::os::raw::c_void,
    ) {
    }
    if !verbose {
        // SAFETY: a callback that ignores its arguments; llama.cpp's own logging is set again after init.
        unsafe { llama_cpp_sys_2::ggml_log_set(Some(quiet), std::ptr::null_mut()) };
    }
    let dir = std::env::var_os(BACKEND_DIR_ENV)
        .map(std::path::PathBuf::from)
        .or_else(|| {
            std::env::current_exe()
                .ok()?
                .parent()
                .map(Path::to_path_buf)
        });
    if let Some(dir) = dir {
        llama_cpp_2::llama_backend::load_backends_from_path(&dir);
    }
    // SAFETY: a NUL-terminated name; the registry outlives the call.
    let has_cpu = unsafe { !llama_cpp_sys_2::ggml_backend_reg_by_name(c"CPU".as_ptr()).is_null() };
    if !has_cpu {
        llama_cpp_2::llama_backend::load_backends();
    }
}

/// KV cache storage types accepted by `--cache-type-k/--cache-type-v`.
pub const CACHE_TYPES: &[&str] = &[
    "f32", "f16", "bf16", "q8_0", "q4_0", "q4_1", "q5_0", "q5_1", "iq4_nl",
];

fn cache_type(name: &str) -> Option<KvCacheType> {
    Some(match name {
        "f32" => KvCacheType::F32,
        "f16" => KvCacheType::F16,
        "bf16" => KvCacheType::BF16,
        "q8_0" => KvCacheType::Q8_0,
        "q4_0" => KvCacheType::Q4_0,
        "q4_1" => KvCacheType::Q4_1,
        "q5_0" => KvCacheType::Q5_0,
        "q5_1" => KvCacheType::Q5_1,
        "iq4_nl" => KvCacheType::IQ4_NL,
        _ => return None,
    })
}

fn c_str(p: *const std::os::raw::c_char) -> String {
    if p.is_null() {
        return String::new();
    }
    // SAFETY: llama.cpp returns pointers to static NUL-terminated strings.
    unsafe { std::ffi::CStr::from_ptr(p) }
        .to_string_lossy()
        .into_owned()
}

pub fn build_info(verbose: bool) -> Result<BuildInfo, EngineError> {
    let b = backend(verbose)?;
    // SAFETY: these functions only read static build information.
    let (system_info, ggml_version, ggml_commit) = unsafe {
        (
            c_str(llama_cpp_sys_2::llama_print_system_info()),
            c_str(llama_cpp_sys_2::ggml_version()),
            c_str(llama_cpp_sys_2::ggml_commit()),
        )
    };
    Ok(BuildInfo {
        llama_cpp_sys_version: LLAMA_CPP_SYS_VERSION.to_string(),
        ggml_version,
        ggml_commit,
        system_info: system_info.trim().to_string(),
        devices: llama_cpp_2::list_llama_ggml_backend_devices()
            .into_iter()
            .map(|d| DeviceInfo {
                name: d.name,
                description: d.description,
                backend: d.backend,
                memory_total_bytes: d.memory_total as u64,
                memory_free_bytes: Some(d.memory_free as u64),
            })
            .collect(),
        gpu_offload_supported: b.supports_gpu_offload(),
    })
}

/// The version Cargo.lock resolved (read by build.rs); recorded in every result.
pub const LLAMA_CPP_SYS_VERSION: &str = env!("TOKENMETER_LLAMA_CPP_SYS_VERSION");

/// Model loading options.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct ModelParams {
    /// Layers offloaded to the GPU; negative: all.
    pub n_gpu_layers: i32,
    pub use_mmap: bool,
    /// llama.cpp's extra buffer types for the weights (llama-bench's `--repack`): CPU_REPACK's interleaved
    /// layouts, and AMX where ggml was built with it. Off: the weights stay in the model file's layout.
    #[serde(default = "default_repack")]
    pub repack: bool,
    /// Leaves ggml's AMX buffer type out of the extra buffer types (`amx::deny`): the weights go to CPU_REPACK
    /// instead. Takes effect only in a process that has not loaded a model yet (a worker).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub no_amx: bool,
}

/// llama.cpp's default (`use_extra_bufts`), and what a result written before `repack` existed ran with.
pub fn default_repack() -> bool {
    true
}

/// A model loaded by llama.cpp, with what llama.cpp says about it.
pub struct Model {
    model: LlamaModel,
    pub path: String,
    /// `llama_model_desc`, e.g. "llama 1B Q4_0" (llama-bench's `model_type`).
    pub desc: String,
    pub size_bytes: u64,
    pub n_params: u64,
    pub n_vocab: i32,
    /// Layers llama.cpp put on GPU devices, of those it could (`offloaded 5/5 layers to GPU`); `None` for a
    /// build without GPU offload, whose loader does not say.
    pub offloaded_layers: Option<(u32, u32)>,
    /// The token a sequence starts with when the vocabulary adds one.
    pub bos: Option<i32>,
    /// The buffers llama.cpp put the weights in, by buffer type (`CPU_REPACK`, `CPU_Mapped`, `AMX`, `CUDA0`…),
    /// in MiB, as its loader reported them.
    pub weight_buffers_mib: BTreeMap<String, f64>,
}

/// The buffers of llama.cpp's `model buffer size` lines (`load_tensors:   CPU_REPACK model buffer size =
/// 22.29 MiB`), summed per buffer type.
pub fn weight_buffers_of_log(log: &str) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    for line in log.lines() {
        let Some((head, tail)) = line.split_once("model buffer size =") else {
            continue;
        };
        let Some(name) = head.split_whitespace().last() else {
            continue;
        };
        let Some(mib) = tail
            .split_whitespace()
            .next()
            .and_then(|v| v.parse::<f64>().ok())
        else {
            continue;
        };
        *out.entry(name.to_string()).or_insert(0.0) += mib;
    }
    out
}

/// llama.cpp's `load_tensors: offloaded 5/5 layers to GPU` line, as (5, 5).
pub fn offloaded_layers_of_log(log: &str) -> Option<(u32, u32)> {
    log.lines().find_map(|line| {
        let (_, tail) = line.split_once("offloaded ")?;
        let (fraction, _) = tail.split_once(" layers to GPU")?;
        let (n, of) = fraction.split_once('/')?;
        Some((n.trim().parse().ok()?, of.trim().parse().ok()?))
    })
}

pub fn load_model(path: &Path, params: ModelParams, verbose: bool) -> Result<Model, EngineError> {
    if params.no_amx && params.repack {
        amx::deny().map_err(|reason| EngineError::Backend(format!("leaving AMX out: {reason}")))?;
    }
    backend(verbose)?;
    let load_err = || EngineError::Load {
        path: path.display().to_string(),
    };
    let c_path = path
        .to_str()
        .and_then(|p| std::ffi::CString::new(p).ok())
        .ok_or_else(load_err)?;
    // SAFETY: plain-data defaults from llama.cpp.
    let mut mp = unsafe { llama_cpp_sys_2::llama_model_default_params() };
    mp.n_gpu_layers = params.n_gpu_layers.max(-1);
    // As `LlamaModelParams::with_use_mmap` sets it.
    mp.load_mode = if params.use_mmap {
        llama_cpp_sys_2::LLAMA_LOAD_MODE_MMAP
    } else {
        llama_cpp_sys_2::LLAMA_LOAD_MODE_NONE
    };
    // `LlamaModelParams` (llama-cpp-2 =0.1.160) has no setter for it: the model is loaded here directly.
    mp.use_extra_bufts = params.repack;
    let (ptr, log) = {
        let _one_load = LOAD_LOCK.lock().unwrap_or_else(|e| e.into_inner());
        *LOG_CAPTURE.lock().unwrap_or_else(|e| e.into_inner()) = Some(String::new());
        // SAFETY: a NUL-terminated path and parameters with no pointers of ours (no overrides, no callback).
        let ptr = unsafe { llama_cpp_sys_2::llama_model_load_from_file(c_path.as_ptr(), mp) };
        let log = LOG_CAPTURE
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
            .unwrap_or_default();
        (ptr, log)
    };
    let ptr = std::ptr::NonNull::new(ptr).ok_or_else(load_err)?;
    // SAFETY: `LlamaModel` (llama-cpp-2 =0.1.160) is `#[repr(transparent)]` over `Ptr`, itself
    // `#[repr(transparent)]` over `NonNull<llama_model>`; the model is owned by it from here on and freed by its
    // `Drop` (llama_free_model), as a model from `LlamaModel::load_from_file` is.
    let model: LlamaModel = unsafe { std::mem::transmute(ptr) };
    let mut buf = [0u8; 256];
    // SAFETY: the buffer outlives the call and its length is passed.
    let n = unsafe {
        llama_cpp_sys_2::llama_model_desc(model_ptr(&model), buf.as_mut_ptr().cast(), buf.len())
    };
    let desc =
        String::from_utf8_lossy(&buf[..n.clamp(0, buf.len() as i32 - 1) as usize]).into_owned();
    let vocab = model.vocab();
    let bos = vocab.should_add_bos().then(|| vocab.bos().0);
    Ok(Model {
        path: path.display().to_string(),
        desc,
        size_bytes: model.size(),
        n_params: model.n_params(),
        n_vocab: model.n_vocab(),
        offloaded_layers: offloaded_layers_of_log(&log),
        bos,
        weight_buffers_mib: weight_buffers_of_log(&log),
        model,
    })
}

fn model_ptr(model: &LlamaModel) -> *const llama_cpp_sys_2::llama_model {
    // `LlamaModel` (llama-cpp-2 =0.1.160) is `#[repr(transparent)]` over `Ptr`, itself `#[repr(transparent)]`
    // over `NonNull<llama_model>`: the struct is exactly the model pointer.
    // SAFETY: read-only use of the pointer for llama_model_desc.
    unsafe { *(model as *const LlamaModel as *const *const llama_cpp_sys_2::llama_model) }
}

impl Model {
    /// Text → tokens with the model's tokenizer (adds BOS when the vocabulary says so).
    pub fn tokenize(&self, text: &str) -> Vec<i32> {
        self.model
            .vocab()
            .tokenize(text.as_bytes(), true, false)
            .into_iter()
            .map(|t| t.0)
            .collect()
    }

    /// Tokens → text, leaving special tokens out.
    pub fn detokenize(&self, tokens: &[i32]) -> String {
        let toks: Vec<LlamaToken> = tokens.iter().map(|&t| LlamaToken(t)).collect();
        String::from_utf8_lossy(&self.model.vocab().detokenize(&toks, true, false)).into_owned()
    }
}

/// Context options (llama-bench's per-test parameters).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct ContextParams {
    pub n_ctx: u32,
    pub n_batch: u32,
    pub n_ubatch: u32,
    pub n_threads: u32,
    /// llama.cpp's `llama_flash_attn_type`: -1 auto, 0 disabled, 1 enabled.
    pub flash_attn: i8,
    pub offload_kqv: bool,
    pub type_k: String,
    pub type_v: String,
    pub n_seq_max: u32,
}

/// A context plus a batch buffer sized for `n_batch` tokens: the state the timed loops run on.
pub struct Session<'m> {
    ctx: LlamaContext<'m>,
    batch: LlamaBatch<'static>,
    n_batch: usize,
}

pub fn new_session<'m>(model: &'m Model, p: &ContextParams) -> Result<Session<'m>, EngineError> {
    let b = backend(false)?;
    let err = || EngineError::Context {
        model: model.path.clone(),
        n_ctx: p.n_ctx,
        n_batch: p.n_batch,
        n_ubatch: p.n_ubatch,
    };
    let type_k = cache_type(&p.type_k).ok_or_else(err)?;
    let type_v = cache_type(&p.type_v).ok_or_else(err)?;
    let fa = match p.flash_attn {
        1 => llama_cpp_sys_2::LLAMA_FLASH_ATTN_TYPE_ENABLED,
        0 => llama_cpp_sys_2::LLAMA_FLASH_ATTN_TYPE_DISABLED,
        _ => llama_cpp_sys_2::LLAMA_FLASH_ATTN_TYPE_AUTO,
    };
    let cp = LlamaContextParams::default()
        .with_n_ctx(NonZeroU32::new(p.n_ctx))
        .with_n_batch(p.n_batch)
        .with_n_ubatch(p.n_ubatch)
        .with_n_threads(p.n_threads as i32)
        .with_n_threads_batch(p.n_threads as i32)
        .with_flash_attention_policy(fa)
        .with_offload_kqv(p.offload_kqv)
        .with_type_k(type_k)
        .with_type_v(type_v)
        .with_n_seq_max(p.n_seq_max)
        .with_embeddings(false);
    let ctx = model.model.new_context(b, cp).map_err(|_| err())?;
    // llama.cpp caps the logical batch at the context size: batches are cut to what it really accepts.
    let n_batch = (ctx.n_batch() as usize).max(1);
    Ok(Session {
        ctx,
        batch: LlamaBatch::new(n_batch, 1),
        n_batch,
    })
}

fn decode_error(e: llama_cpp_2::DecodeError, pos: i32) -> EngineError {
    let (code, hint) = match e {
        llama_cpp_2::DecodeError::NoKvCacheSlot => (1, "no KV cache slot (context too small)"),
        llama_cpp_2::DecodeError::NTokensZero => (-1, "empty batch"),
        llama_cpp_2::DecodeError::Unknown(c) => (c, "llama.cpp error (out of memory?)"),
    };
    EngineError::Decode { code, pos, hint }
}

impl Session<'_> {
    /// The logits llama.cpp computes for `tokens` of sequence 0 from position 0: the first `batch_len` tokens in
    /// one batch (prompt processing's kernels), the rest one token per decode (generation's), as the full
    /// distribution over the vocabulary at each index of `positions` (indexes into `tokens`, ascending).
    pub fn logits_at(
        &mut self,
        tokens: &[i32],
        batch_len: usize,
        positions: &[usize],
    ) -> Result<Vec<Vec<f32>>, EngineError> {
        let batch_len = batch_len.clamp(1, tokens.len().max(1)).min(self.n_batch);
        let mut out = Vec::with_capacity(positions.len());
        self.clear();
        self.batch.clear();
        for (i, &t) in tokens[..batch_len].iter().enumerate() {
            self.batch
                .add(LlamaToken(t), i as i32, &[0], positions.contains(&i))
                .expect("batch sized for n_batch");
        }
        self.ctx
            .decode(&mut self.batch)
            .map_err(|e| decode_error(e, 0))?;
        self.ctx.synchronize();
        for &i in positions.iter().filter(|&&i| i < batch_len) {
            out.push(self.ctx.get_logits_ith(i as i32).to_vec());
        }
        for (i, &t) in tokens.iter().enumerate().skip(batch_len) {
            self.batch.clear();
            self.batch
                .add(LlamaToken(t), i as i32, &[0], true)
                .expect("batch holds one token");
            self.ctx
                .decode(&mut self.batch)
                .map_err(|e| decode_error(e, i as i32))?;
            self.ctx.synchronize();
            if positions.contains(&i) {
                out.push(self.ctx.get_logits_ith(0).to_vec());
            }
        }
        Ok(out)
    }

    /// Empties the KV cache (a fresh cache for the next repetition).
    pub fn clear(&mut self) {
        self.ctx.clear_kv_cache();
    }

    /// Prompt processing: decodes `tokens` for sequence 0 starting at `pos0`, in batches of `n_batch`; only the
    /// last token of each batch produces logits (as `llama_batch_get_one` does).
    pub fn prompt(&mut self, tokens: &[i32], pos0: i32) -> Result<(), EngineError> {
        let mut pos = pos0;
        for chunk in tokens.chunks(self.n_batch) {
            self.batch.clear();
            let last = chunk.len() - 1;
            for (i, &t) in chunk.iter().enumerate() {
                self.batch
                    .add(LlamaToken(t), pos + i as i32, &[0], i == last)
                    .expect("batch sized for n_batch");
            }
            self.ctx
                .decode(&mut self.batch)
                .map_err(|e| decode_error(e, pos))?;
            pos += chunk.len() as i32;
        }
        self.ctx.synchronize();
        Ok(())
    }

    /// Generation: decodes one token at a time for sequence 0 from `pos0`, waiting for each result, and stores
    /// the nanoseconds since `t0` at which each token's decode finished into `stamps_ns` (same length as
    /// `tokens`, allocated by the caller).
    pub fn generate(
        &mut self,
        tokens: &[i32],
        pos0: i32,
        t0: Instant,
        stamps_ns: &mut [u64],
    ) -> Result<(), EngineError> {
        for (i, (&t, stamp)) in tokens.iter().zip(stamps_ns.iter_mut()).enumerate() {
            self.batch.clear();
            let pos = pos0 + i as i32;
            self.batch
                .add(LlamaToken(t), pos, &[0], true)
                .expect("batch holds one token");
            self.ctx
                .decode(&mut self.batch)
                .map_err(|e| decode_error(e, pos))?;
            self.ctx.synchronize();
            *stamp = t0.elapsed().as_nanos() as u64;
        }
        Ok(())
    }
}

/// One token of a multi-sequence batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchToken {
    pub token: i32,
    pub pos: i32,
    pub seq: i32,
    /// Whether this token's logits (the next token's distribution) are computed.
    pub logits: bool,
}

/// What the load generator drives: one decode call over tokens of several sequences, and freeing a finished
/// sequence's KV cells. `Session` is the llama.cpp implementation.
pub trait BatchDecoder {
    /// Most tokens one `decode` call takes.
    fn n_batch(&self) -> usize;
    fn decode(&mut self, tokens: &[BatchToken]) -> Result<(), EngineError>;
    fn release(&mut self, seq: i32);
}

impl BatchDecoder for Session<'_> {
    fn n_batch(&self) -> usize {
        self.n_batch
    }

    fn decode(&mut self, tokens: &[BatchToken]) -> Result<(), EngineError> {
        self.batch.clear();
        for t in tokens {
            self.batch
                .add(LlamaToken(t.token), t.pos, &[t.seq], t.logits)
                .expect("caller keeps batches within n_batch");
        }
        let pos = tokens.first().map_or(0, |t| t.pos);
        self.ctx
            .decode(&mut self.batch)
            .map_err(|e| decode_error(e, pos))?;
        self.ctx.synchronize();
        Ok(())
    }

    fn release(&mut self, seq: i32) {
        // Removing a whole sequence cannot fail for a valid, non-negative id.
        let _ = self.ctx.clear_kv_cache_seq(Some(seq as u32), None, None);
    }
}

/// Whether a cache type name is one llama.cpp accepts here.
pub fn is_cache_type(name: &str) -> bool {
    cache_type(name).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// llama.cpp's loader log for the `small` shape with `-ngl 4` on a Vulkan device.
    const LOG: &str = "load_tensors: loading model tensors, this can take a while... (mmap = true)
load_tensors: offloading output layer to GPU
load_tensors: offloading 3 repeating layers to GPU
load_tensors: offloaded 4/9 layers to GPU
load_tensors:      Vulkan0 model buffer size =    12.71 MiB
load_tensors:   CPU_Mapped model buffer size =    29.85 MiB
load_tensors:   CPU_REPACK model buffer size =     9.57 MiB
";

    #[test]
    fn the_loader_log_gives_the_buffers_per_device_and_the_offloaded_layers() {
        let buffers = weight_buffers_of_log(LOG);
        assert_eq!(buffers.len(), 3, "{buffers:?}");
        assert_eq!(buffers["Vulkan0"], 12.71);
        assert_eq!(buffers["CPU_Mapped"], 29.85);
        assert_eq!(buffers["CPU_REPACK"], 9.57);
        assert_eq!(offloaded_layers_of_log(LOG), Some((4, 9)));
    }

    #[test]
    fn a_build_without_offload_says_nothing_of_layers() {
        let cpu = "load_tensors:   CPU_Mapped model buffer size =    29.85 MiB\n";
        assert_eq!(offloaded_layers_of_log(cpu), None);
        assert_eq!(weight_buffers_of_log(cpu)["CPU_Mapped"], 29.85);
    }
}
