//! The HTTP client's own ceiling: how many requests and streamed chunks per second `load --endpoint` can send
//! and read when the server answers instantly, so a user knows when the client, not the server, is the limit.
//!
//! `cargo bench --bench http_client [-- ROUNDS]` (default 5 rounds). The server is the tests' fake
//! OpenAI-compatible server on 127.0.0.1 (`tests/http_load/fake.rs`) streaming each chunk without a pause, one
//! connection per request (it closes each; a real server keeps them alive, so this ceiling is the lower one). Each
//! round runs closed-loop levels of c = 1, 8, 32 and 64 through the same level runner as `load --endpoint`
//! (a thread per request, SSE parsed and timed per chunk), 400 requests of 16 output tokens each, and one level of
//! c = 8 with 256 output tokens for the chunk rate; the levels alternate within a round so the machine's drift
//! hits all alike. Prints each level's completed requests/s and chunks/s per round and the median.

#[path = "../tests/http_load/fake.rs"]
#[allow(dead_code)]
mod fake;

use std::sync::atomic::AtomicBool;
use std::time::Instant;
use tokenmeter::results::load::Lengths;
use tokenmeter::runner::http::level::run_level;
use tokenmeter::runner::http::{Api, HttpTarget};
use tokenmeter::runner::load::{Arrivals, LevelSpec};
use tokenmeter::stats::median;

/// One level's completed requests/s and chunks/s over its whole time.
fn level(target: &HttpTarget, c: u32, requests: u32, output_tokens: u32) -> (f64, f64) {
    let spec = LevelSpec {
        arrivals: Arrivals::Closed { concurrency: c },
        input_tokens: Lengths::Fixed(16),
        output_tokens: Lengths::Fixed(output_tokens),
        requests: Some(requests),
        duration_ns: None,
        drain_ns: None,
        seed: 1,
        burst: false,
        pattern: None,
    };
    let stop = AtomicBool::new(false);
    let t = Instant::now();
    let run = run_level(target, "fake-model", &spec, t, &stop, |_| {});
    let secs = run.duration_ns as f64 / 1e9;
    let completed = run.requests.iter().filter(|r| r.completed).count();
    assert_eq!(
        completed,
        run.requests.len(),
        "every request against the instant server completes"
    );
    let chunks: u64 = run
        .requests
        .iter()
        .filter_map(|r| r.stream.as_ref())
        .map(|s| u64::from(s.chunks))
        .sum();
    (completed as f64 / secs, chunks as f64 / secs)
}

fn main() {
    let rounds = std::env::args()
        .skip(1)
        .find_map(|a| a.parse::<u32>().ok())
        .unwrap_or(5)
        .max(1);
    let (addr, _) = fake::serve(|_| fake::Act::Instant);
    let target = HttpTarget::new(&format!("http://{addr}/v1"), Api::Chat).expect("endpoint");
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    println!(
        "HTTP client ceiling against an instant server on 127.0.0.1 ({cpu}, {} CPUs), {rounds} rounds",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    let levels: [(u32, u32, u32); 5] = [
        (1, 400, 16),
        (8, 400, 16),
        (32, 400, 16),
        (64, 400, 16),
        (8, 100, 256),
    ];
    let mut got: Vec<(Vec<f64>, Vec<f64>)> = vec![(Vec::new(), Vec::new()); levels.len()];
    for r in 0..rounds {
        for (i, &(c, n, out)) in levels.iter().enumerate() {
            let (rps, cps) = level(&target, c, n, out);
            println!(
                "round {}: c={c:<3} {n} requests x {out:>3} tokens: {rps:>8.0} requests/s {cps:>9.0} chunks/s",
                r + 1
            );
            got[i].0.push(rps);
            got[i].1.push(cps);
        }
    }
    println!("median over {rounds} rounds:");
    for (&(c, n, out), (rps, cps)) in levels.iter().zip(&got) {
        println!(
            "  c={c:<3} {n} requests x {out:>3} tokens: {:>8.0} requests/s {:>9.0} chunks/s",
            median(rps).unwrap_or(f64::NAN),
            median(cps).unwrap_or(f64::NAN)
        );
    }
}
