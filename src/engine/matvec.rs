//! The compute ceiling of generation: ggml's own matrix-vector product at batch 1 (what one generated token does
//! to every weight matrix), on a weight matrix small enough to stay in the last-level cache, so memory bandwidth
//! is not what limits it. The weights are quantized to the model's type and held in the buffer type generation
//! would read them from (CPU_REPACK or AMX with repack on, plain host memory with it off); the same CPU backend,
//! thread count and kernels as llama.cpp's decode run it. The rate is weight bytes processed per second.

use super::EngineError;
use llama_cpp_sys_2 as sys;
use std::ffi::c_void;
use std::time::Instant;

/// Columns of the matrix (a hidden size of 4096, as llama-3.1-8b's).
pub const COLS: i64 = 4096;

/// One measurement: the median pass and the spread of all timed passes, in GB/s (10^9 weight bytes per second).
#[derive(Debug, Clone, PartialEq)]
pub struct MatVecRate {
    pub gb_per_s: f64,
    pub min_gb_per_s: f64,
    pub max_gb_per_s: f64,
    pub passes: usize,
    pub matrix_bytes: u64,
    pub threads: u32,
    /// The buffer type that held the weights (`CPU`, `CPU_REPACK`, `AMX`).
    pub buffer_type: String,
}

fn ggml_type(name: &str) -> Option<sys::ggml_type> {
    Some(match name {
        "q4_0" => sys::GGML_TYPE_Q4_0,
        "q8_0" => sys::GGML_TYPE_Q8_0,
        "f16" => sys::GGML_TYPE_F16,
        _ => return None,
    })
}

/// Owns what the measurement allocates and frees it in reverse order.
struct Resources {
    ctx_w: *mut sys::ggml_context,
    ctx_c: *mut sys::ggml_context,
    buf_w: sys::ggml_backend_buffer_t,
    buf_c: sys::ggml_backend_buffer_t,
    backend: sys::ggml_backend_t,
}

impl Drop for Resources {
    fn drop(&mut self) {
        // SAFETY: each pointer is null or was returned by the matching ggml allocation and is freed once.
        unsafe {
            if !self.backend.is_null() {
                sys::ggml_backend_free(self.backend);
            }
            if !self.buf_c.is_null() {
                sys::ggml_backend_buffer_free(self.buf_c);
            }
            if !self.buf_w.is_null() {
                sys::ggml_backend_buffer_free(self.buf_w);
            }
            if !self.ctx_c.is_null() {
                sys::ggml_free(self.ctx_c);
            }
            if !self.ctx_w.is_null() {
                sys::ggml_free(self.ctx_w);
            }
        }
    }
}

fn c_name(p: *const std::os::raw::c_char) -> String {
    super::c_str(p)
}

fn fail(what: &str) -> EngineError {
    EngineError::Backend(format!("matrix-vector probe: {what}"))
}

/// Measures the matrix-vector rate of a `COLS`-column matrix of `weight_type` of about `matrix_bytes` (whole
/// rows, a multiple of 16 of them) with `threads` threads: an
/// untimed warm-up that also sizes the passes, then `passes` timed passes of at least `min_pass_s` seconds.
pub fn measure(
    weight_type: &str,
    matrix_bytes: u64,
    threads: u32,
    repack: bool,
    passes: usize,
    min_pass_s: f64,
) -> Result<MatVecRate, EngineError> {
    super::backend(false)?;
    let ty = ggml_type(weight_type).ok_or_else(|| fail("unsupported weight type"))?;
    // SAFETY: a pure size computation over a valid type.
    let row_bytes = unsafe { sys::ggml_row_size(ty, COLS) } as u64;
    let rows = ((matrix_bytes / row_bytes.max(1)) as i64).max(16) / 16 * 16;
    let mut r = Resources {
        ctx_w: std::ptr::null_mut(),
        ctx_c: std::ptr::null_mut(),
        buf_w: std::ptr::null_mut(),
        buf_c: std::ptr::null_mut(),
        backend: std::ptr::null_mut(),
    };
    // SAFETY: ggml's C API used as its headers document: contexts without data (no_alloc), tensors allocated in
    // backend buffers, data copied in with ggml_backend_tensor_set from host buffers that outlive the call, and
    // every resource released by `Resources`' Drop. Function pointers come from the CPU backend's registry by
    // name and are called with the signatures ggml-cpu.h declares for them. Each helper is given the device,
    // registry, buffer type, tensors and graph made here, as its Safety section asks.
    unsafe {
        let dev = sys::ggml_backend_dev_by_type(sys::GGML_BACKEND_DEVICE_TYPE_CPU);
        if dev.is_null() {
            return Err(fail("no CPU device"));
        }
        let reg = sys::ggml_backend_dev_backend_reg(dev);
        let buft = weight_buffer_type(dev, reg, repack);
        let buffer_type = c_name(sys::ggml_backend_buft_name(buft));
        let (a, x, graph) = build_product(&mut r, dev, buft, ty, rows)?;
        let bytes = fill_operands(a, x, ty, rows);
        r.backend = sys::ggml_backend_dev_init(dev, std::ptr::null());
        if r.backend.is_null() {
            return Err(fail("cannot start the CPU backend"));
        }
        set_threads(reg, r.backend, threads);
        let rates = timed_passes(r.backend, graph, bytes, passes, min_pass_s)?;
        Ok(rate_of(rates, bytes as u64, threads, buffer_type))
    }
}

/// The buffer type generation reads weights from: the CPU backend's first extra buffer type (CPU_REPACK, AMX)
/// with `repack`, else the device's own.
///
/// # Safety
/// `dev` is the CPU backend device and `reg` its registry, as ggml returned them.
unsafe fn weight_buffer_type(
    dev: sys::ggml_backend_dev_t,
    reg: sys::ggml_backend_reg_t,
    repack: bool,
) -> sys::ggml_backend_buffer_type_t {
    let mut buft = sys::ggml_backend_dev_buffer_type(dev);
    if repack {
        let get = sys::ggml_backend_reg_get_proc_address(
            reg,
            c"ggml_backend_dev_get_extra_bufts".as_ptr(),
        );
        if !get.is_null() {
            // The signature ggml-cpu.h declares for this name.
            let get: unsafe extern "C" fn(
                sys::ggml_backend_dev_t,
            ) -> *mut sys::ggml_backend_buffer_type_t = std::mem::transmute(get);
            let list = get(dev);
            if !list.is_null() && !(*list).is_null() {
                buft = *list;
            }
        }
    }
    buft
}

/// The graph `y = a·x` of a `rows` × `COLS` weight matrix `a` of type `ty` in `buft` and an f32 vector `x` in the
/// device's own buffer type; its contexts and buffers go into `r`.
///
/// # Safety
/// `dev` is the CPU backend device and `buft` a buffer type of it; `r` holds no contexts or buffers yet.
unsafe fn build_product(
    r: &mut Resources,
    dev: sys::ggml_backend_dev_t,
    buft: sys::ggml_backend_buffer_type_t,
    ty: sys::ggml_type,
    rows: i64,
) -> Result<
    (
        *mut sys::ggml_tensor,
        *mut sys::ggml_tensor,
        *mut sys::ggml_cgraph,
    ),
    EngineError,
> {
    let overhead = sys::ggml_tensor_overhead();
    r.ctx_w = sys::ggml_init(sys::ggml_init_params {
        mem_size: overhead * 2,
        mem_buffer: std::ptr::null_mut(),
        no_alloc: true,
    });
    r.ctx_c = sys::ggml_init(sys::ggml_init_params {
        mem_size: overhead * 8 + sys::ggml_graph_overhead(),
        mem_buffer: std::ptr::null_mut(),
        no_alloc: true,
    });
    if r.ctx_w.is_null() || r.ctx_c.is_null() {
        return Err(fail("ggml_init failed"));
    }
    let a = sys::ggml_new_tensor_2d(r.ctx_w, ty, COLS, rows);
    let x = sys::ggml_new_tensor_2d(r.ctx_c, sys::GGML_TYPE_F32, COLS, 1);
    let y = sys::ggml_mul_mat(r.ctx_c, a, x);
    let graph = sys::ggml_new_graph(r.ctx_c);
    sys::ggml_build_forward_expand(graph, y);
    r.buf_w = sys::ggml_backend_alloc_ctx_tensors_from_buft(r.ctx_w, buft);
    r.buf_c = sys::ggml_backend_alloc_ctx_tensors_from_buft(
        r.ctx_c,
        sys::ggml_backend_dev_buffer_type(dev),
    );
    if r.buf_w.is_null() || r.buf_c.is_null() {
        return Err(fail("cannot allocate the matrix"));
    }
    Ok((a, x, graph))
}

/// Fills the weights `a` (a smooth, sign-changing pattern, quantized by ggml to `ty`) and the vector `x`;
/// returns the weights' size in bytes.
///
/// # Safety
/// `a` is a `rows` × `COLS` tensor of type `ty` and `x` a `COLS` f32 tensor, both allocated in backend buffers.
unsafe fn fill_operands(
    a: *mut sys::ggml_tensor,
    x: *mut sys::ggml_tensor,
    ty: sys::ggml_type,
    rows: i64,
) -> usize {
    let n = (rows * COLS) as usize;
    let src: Vec<f32> = (0..n).map(|i| ((i % 97) as f32 - 48.0) / 64.0).collect();
    let bytes = sys::ggml_nbytes(a);
    let mut q = vec![0u8; bytes];
    sys::ggml_quantize_chunk(
        ty,
        src.as_ptr(),
        q.as_mut_ptr().cast::<c_void>(),
        0,
        rows,
        COLS,
        std::ptr::null(),
    );
    sys::ggml_backend_tensor_set(a, q.as_ptr().cast::<c_void>(), 0, bytes);
    let v: Vec<f32> = (0..COLS).map(|i| ((i % 13) as f32 - 6.0) / 8.0).collect();
    sys::ggml_backend_tensor_set(x, v.as_ptr().cast::<c_void>(), 0, v.len() * 4);
    bytes
}

/// Sets the CPU backend's thread count (at least 1), when its registry offers the setter.
///
/// # Safety
/// `reg` is the CPU backend's registry and `backend` a CPU backend started from it.
unsafe fn set_threads(reg: sys::ggml_backend_reg_t, backend: sys::ggml_backend_t, threads: u32) {
    let set_threads =
        sys::ggml_backend_reg_get_proc_address(reg, c"ggml_backend_set_n_threads".as_ptr());
    if !set_threads.is_null() {
        // The signature ggml-cpu.h declares for this name.
        let set_threads: unsafe extern "C" fn(sys::ggml_backend_t, i32) =
            std::mem::transmute(set_threads);
        set_threads(backend, threads.max(1) as i32);
    }
}

/// GB/s of each of `passes` (at least 1) timed passes of `graph`, each repeating the product as often as an
/// untimed warm-up of 3 says takes `min_pass_s`; `bytes` are the weight bytes one product reads.
///
/// # Safety
/// `graph` is a graph whose tensors are allocated in buffers `backend` can compute.
unsafe fn timed_passes(
    backend: sys::ggml_backend_t,
    graph: *mut sys::ggml_cgraph,
    bytes: usize,
    passes: usize,
    min_pass_s: f64,
) -> Result<Vec<f64>, EngineError> {
    let compute = |times: usize| -> Result<f64, EngineError> {
        let t0 = Instant::now();
        for _ in 0..times {
            if sys::ggml_backend_graph_compute(backend, graph) != sys::GGML_STATUS_SUCCESS {
                return Err(fail("graph compute failed"));
            }
        }
        Ok(bytes as f64 * times as f64 / t0.elapsed().as_secs_f64() / 1e9)
    };
    let warm = compute(3)?;
    let per_product_s = bytes as f64 / 1e9 / warm.max(1e-9);
    let iters = ((min_pass_s / per_product_s).ceil() as usize).clamp(1, 1_000_000);
    let mut rates = Vec::with_capacity(passes.max(1));
    for _ in 0..passes.max(1) {
        rates.push(compute(iters)?);
    }
    Ok(rates)
}

/// The median pass and the spread of the passes' rates (at least one).
fn rate_of(
    mut rates: Vec<f64>,
    matrix_bytes: u64,
    threads: u32,
    buffer_type: String,
) -> MatVecRate {
    rates.sort_by(f64::total_cmp);
    let k = rates.len();
    let median = if k % 2 == 1 {
        rates[k / 2]
    } else {
        (rates[k / 2 - 1] + rates[k / 2]) / 2.0
    };
    MatVecRate {
        gb_per_s: median,
        min_gb_per_s: rates[0],
        max_gb_per_s: rates[k - 1],
        passes: k,
        matrix_bytes,
        threads,
        buffer_type,
    }
}
