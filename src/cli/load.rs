//! Command-line syntax of `load`.

use super::{BaselineArgs, ShardArgs, SweepArgs, TelemetryArgs};
use clap::Args;
use std::path::PathBuf;

#[derive(Args)]
pub struct LoadArgs {
    /// Model file or [[model]] name from models.toml; none: the embedded default model
    #[arg(short = 'm', long = "model")]
    pub model: Option<String>,
    /// Measure an OpenAI-compatible server at this URL (e.g. http://127.0.0.1:8080/v1) over HTTP instead of
    /// llama.cpp in-process; the engine flags do not apply
    #[arg(long = "endpoint")]
    pub endpoint: Option<String>,
    /// With --endpoint: the API, chat (/chat/completions) or completions (/completions) [default: chat]
    #[arg(long = "api")]
    pub api: Option<String>,
    /// With --endpoint: the model name each request asks for [default: the first model GET <endpoint>/models
    /// lists]
    #[arg(long = "served-model")]
    pub served_model: Option<String>,
    /// With --endpoint: the environment variable holding the API key, sent as `Authorization: Bearer`; the key
    /// is written to no file, log or message
    #[arg(long = "api-key-env")]
    pub api_key_env: Option<String>,
    /// With --endpoint: a request's whole time, from sending it to its stream's end; past it the request fails
    /// as a timeout [default: 10m]
    #[arg(long = "request-timeout")]
    pub request_timeout: Option<String>,
    /// With --endpoint: a PEM file of the certificates an https:// server's chain must end in (a private CA, or
    /// the server's own self-signed certificate), in place of the web PKI's roots
    #[arg(long = "ca-cert")]
    pub ca_cert: Option<PathBuf>,
    /// With --endpoint: what prompts are made of: words (N common words; the server's token count is recorded)
    /// or token-ids (exactly N random token ids below the vocabulary size the server states, as in-process load
    /// sends; --api completions only) [default: words]
    #[arg(long = "prompt")]
    pub prompt: Option<String>,
    /// Configuration file (default: ./models.toml when present)
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Closed loop: requests kept in flight, one level per value (default 1,2,4,8)
    #[arg(short = 'c', long = "concurrency", value_delimiter = ',')]
    pub concurrency: Vec<u32>,
    /// Open loop: Poisson arrival rates in requests/s, one level per value
    #[arg(long = "rate", value_delimiter = ',')]
    pub rate: Vec<f64>,
    /// Open loop: parallel sequence slots serving the arrivals
    #[arg(long = "parallel")]
    pub parallel: Option<u32>,
    /// Prompt tokens per request: N, a range A..B or a list A,B,C [default: the workload's, else 128]
    #[arg(long = "input-tokens")]
    pub input_tokens: Option<String>,
    /// Output tokens per request: N, a range A..B or a list A,B,C [default: the workload's, else 128]
    #[arg(long = "output-tokens")]
    pub output_tokens: Option<String>,
    /// A [[workload]] of models.toml: its request lengths (a {min, max} distribution becomes a range, else the
    /// mean) and its SLO, where --input-tokens, --output-tokens or --slo do not say otherwise
    #[arg(long = "workload")]
    pub workload: Option<String>,
    /// Requests per level (default: four per slot unless --duration is given)
    #[arg(long = "requests")]
    pub requests: Option<u32>,
    /// Length of each level (e.g. 30s, 2m); requests still running then are reported as not completed
    #[arg(long = "duration")]
    pub duration: Option<String>,
    /// Latency objective, e.g. ttft_p95=500ms,itl_p95=50ms [default: the workload's, else none]
    #[arg(long = "slo")]
    pub slo: Option<String>,
    /// Stop adding levels after one that misses the SLO or whose goodput (output t/s without an SLO) is not 5%
    /// above the best lower level's; the levels must rise (e.g. -c 1,2,4,8,16,32)
    #[arg(long = "until-saturated")]
    pub until_saturated: bool,
    /// Start a closed loop's requests together, as llama-batched-bench does, instead of staggered: no warm-up or
    /// cool-down is left out of the figures
    #[arg(long = "burst")]
    pub burst: bool,
    /// Multi-turn sessions in a closed loop: each client's conversation has this many turns, each prompt the
    /// whole history (system prompt, earlier messages and answers) plus a new message of --input-tokens; the
    /// result states the prefix reuse
    #[arg(long = "turns")]
    pub turns: Option<u32>,
    /// With --turns: tokens of the system prompt every session's prompts start with [default: 0]
    #[arg(long = "system-tokens")]
    pub system_tokens: Option<u32>,
    /// Replay a trace (JSON Lines: tokenmeter's arrival_ms/input_tokens/output_tokens/session/hash_ids, or
    /// Mooncake's timestamp/input_length/output_length/hash_ids): its arrivals, lengths and shared prompts; the
    /// result states the prefix reuse and how late each request was issued against the schedule
    #[arg(long = "trace")]
    pub trace: Option<PathBuf>,
    /// With --trace: replay at these multiples of its pace, one level each (e.g. 0.5,1,2) [default: 1]
    #[arg(long = "trace-speed", value_delimiter = ',')]
    pub trace_speed: Vec<f64>,
    /// Threads (default: physical cores)
    #[arg(short = 't', long = "threads")]
    pub threads: Option<u32>,
    /// Layers to offload to the GPU; -1: all
    #[arg(long = "n-gpu-layers", visible_alias = "ngl", default_value_t = -1, allow_negative_numbers = true)]
    pub n_gpu_layers: i32,
    /// llama.cpp's extra buffer types for the weights (repacked, AMX), 0 or 1
    #[arg(long = "repack", default_value_t = 1)]
    pub repack: u8,
    /// Logical batch size
    #[arg(short = 'b', long = "batch-size", default_value_t = 2048)]
    pub batch_size: u32,
    /// Physical batch size
    #[arg(long = "ubatch-size", visible_alias = "ub", default_value_t = 512)]
    pub ubatch_size: u32,
    /// Flash attention: on, off or auto
    #[arg(
        long = "flash-attn",
        visible_alias = "fa",
        default_value = "auto",
        allow_hyphen_values = true
    )]
    pub flash_attn: String,
    /// Keep the KV cache in host memory, 0 or 1
    #[arg(long = "no-kv-offload", visible_alias = "nkvo", default_value_t = 0)]
    pub no_kv_offload: u8,
    /// KV cache type for K
    #[arg(long = "cache-type-k", visible_alias = "ctk", default_value = "f16")]
    pub cache_type_k: String,
    /// KV cache type for V
    #[arg(long = "cache-type-v", visible_alias = "ctv", default_value = "f16")]
    pub cache_type_v: String,
    /// Memory-map the model, 0 or 1
    #[arg(long = "mmap", default_value_t = 1)]
    pub mmap: u8,
    /// Seed of request lengths, arrivals and token ids
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    #[command(flatten)]
    pub telemetry: TelemetryArgs,
    #[command(flatten)]
    pub sweep: SweepArgs,
    #[command(flatten)]
    pub baseline: BaselineArgs,
    #[command(flatten)]
    pub shard: ShardArgs,
    /// Output format on stdout: md, csv, json, jsonl
    #[arg(short = 'o', long = "output", default_value = "md")]
    pub output: String,
    /// Result file (default: results/<date>-<host>-<model>-load.json)
    #[arg(long = "out")]
    pub out: Option<PathBuf>,
    /// Directory for result files
    #[arg(long = "results-dir", default_value = "results")]
    pub results_dir: PathBuf,
    /// Run cases that preflight refuses for memory or for exceeding the model's trained context
    #[arg(long = "force")]
    pub force: bool,
}
