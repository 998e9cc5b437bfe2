use super::*;
use crate::results::ResultFile;
use std::path::Path;

const REFERENCE: [&str; 6] = [
    include_str!(
        "../../../results/reference/bench-vs-llama-bench-qwen2.5-0.5b-q4_0/llama-bench-round1.json"
    ),
    include_str!(
        "../../../results/reference/bench-vs-llama-bench-qwen2.5-0.5b-q4_0/llama-bench-round2.json"
    ),
    include_str!(
        "../../../results/reference/bench-vs-llama-bench-qwen2.5-0.5b-q4_0/llama-bench-round3.json"
    ),
    include_str!(
        "../../../results/reference/bench-vs-llama-bench-qwen2.5-0.5b-q4_0/llama-bench-round4.json"
    ),
    include_str!(
        "../../../results/reference/bench-vs-llama-bench-qwen2.5-0.5b-q4_0/llama-bench-round5.json"
    ),
    include_str!(
        "../../../results/reference/bench-vs-llama-bench-qwen2.5-0.5b-q4_0/llama-bench-round6.json"
    ),
];
const TOKENMETER: &str = include_str!(
    "../../../results/reference/bench-vs-llama-bench-qwen2.5-0.5b-q4_0/tokenmeter-round1.result.json"
);

fn tokenmeter_file() -> ResultFile {
    crate::results::file::read_result_str(TOKENMETER, Path::new("tokenmeter-round1.result.json"))
        .unwrap()
}

#[test]
fn every_committed_llama_bench_json_reads_with_its_tests_and_samples() {
    for text in REFERENCE {
        assert!(looks_like(text));
        let r = read_str(text).unwrap();
        assert_eq!(r.len(), 2);
        assert_eq!((r[0].n_prompt, r[0].n_gen, r[0].n_depth), (512, 0, 0));
        assert_eq!((r[1].n_prompt, r[1].n_gen, r[1].n_depth), (0, 128, 0));
        for x in &r {
            assert_eq!(x.samples_ns.len(), 5);
            assert_eq!(x.samples_ts.len(), 5);
            assert_eq!(x.flash_attn, Some(-1));
            assert_eq!(x.n_threads, Some(2));
            assert_eq!(x.model_type.as_deref(), Some("qwen2 1B Q4_0"));
            assert_eq!(x.other["cpu_mask"], Value::from("0x0"));
            assert_eq!(x.other["poll"], Value::from(50));
            assert!(x.avg_ts.unwrap() > 0.0);
        }
    }
    let r = read_str(REFERENCE[0]).unwrap();
    assert_eq!(r[0].avg_ns, Some(2904469515.0));
    assert_eq!(r[0].samples_ns[0], 2607551551);
    assert_eq!(r[0].samples_ts[0], 196.353);
    // every field of the record is either typed or kept
    let keys: Vec<String> = r[0].fields().into_iter().map(|(k, _)| k).collect();
    assert_eq!(keys, FIELDS);
}

/// Reference round 1's first record as `llama-bench -o csv` writes it.
const CSV: &str = "build_commit,build_number,cpu_info,gpu_info,backends,model_filename,model_type,model_size,\
model_n_params,n_batch,n_ubatch,n_threads,cpu_mask,cpu_strict,poll,type_k,type_v,n_gpu_layers,n_cpu_moe,split_mode,\
main_gpu,no_kv_offload,flash_attn,devices,tensor_split,tensor_buft_overrides,load_mode,lazy_mode,embeddings,\
no_op_offload,no_host,repack,fit_target,fit_min_ctx,n_prompt,n_gen,n_depth,test_time,avg_ns,stddev_ns,avg_ts,stddev_ts
\"llama-cpp-sys-2-0.1.161\",\"0\",\"AMD EPYC\",\"\",\"CPU\",\"/tmp/qwen2.5-0.5b-q4_0.gguf\",\"qwen2 1B Q4_0\",\
\"278139392\",\"494032768\",\"2048\",\"512\",\"2\",\"0x0\",\"0\",\"50\",\"f16\",\"f16\",\"-1\",\"0\",\"layer\",\"0\",\
\"0\",\"-1\",\"auto\",\"0.00\",\"none\",\"auto\",\"auto\",\"0\",\"0\",\"0\",\"1\",\"0\",\"0\",\"512\",\"0\",\"0\",\
\"2026-11-25T03:59:33Z\",\"2904469515\",\"352990592\",\"178.244826\",\"20.247865\"
\"llama-cpp-sys-2-0.1.161\",\"0\",\"AMD EPYC\",\"\",\"CPU\",\"/tmp/a \"\"quoted\"\", name.gguf\",\"qwen2 1B Q4_0\",\
\"278139392\",\"494032768\",\"2048\",\"512\",\"2\",\"0x0\",\"0\",\"50\",\"f16\",\"f16\",\"-1\",\"0\",\"layer\",\"0\",\
\"0\",\"-1\",\"auto\",\"0.00\",\"none\",\"auto\",\"auto\",\"0\",\"0\",\"0\",\"1\",\"0\",\"0\",\"0\",\"128\",\"0\",\
\"2026-11-25T03:59:50Z\",\"3199503974\",\"172796860\",\"40.097943\",\"2.123520\"
";

#[test]
fn csv_in_llama_benchs_style_reads_as_the_json_does_without_samples() {
    assert!(looks_like(CSV));
    assert_eq!(detect(CSV), LlamaBenchFormat::Csv);
    let r = read_str(CSV).unwrap();
    let json = &read_str(REFERENCE[0]).unwrap()[0];
    let expected = LlamaBenchRecord {
        samples_ns: vec![],
        samples_ts: vec![],
        ..json.clone()
    };
    assert_eq!(r[0], expected);
    assert_eq!(
        r[1].model_filename.as_deref(),
        Some("/tmp/a \"quoted\", name.gguf")
    );
    assert_eq!((r[1].n_prompt, r[1].n_gen), (0, 128));
    assert_eq!(r[1].stddev_ts, Some(2.12352));
}

#[test]
fn jsonl_reads_one_record_per_line() {
    let json = read_str(REFERENCE[1]).unwrap();
    let mut out = Vec::new();
    write_jsonl(&json, &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    assert_eq!(text.lines().count(), 2);
    assert!(
        text.starts_with("{\"build_commit\": \"llama-cpp-sys-2-0.1.161\", \"build_number\": 0,")
    );
    assert!(looks_like(&text));
    assert_eq!(detect(&text), LlamaBenchFormat::Jsonl);
    assert_eq!(read_str(&text).unwrap(), json);
}

#[test]
fn an_old_record_with_bool_flash_attn_and_no_depth_reads() {
    let old = r#"[{"build_commit": "3b2c5f3", "build_number": 2954, "cuda": false, "vulkan": false,
        "kompute": false, "metal": true, "sycl": false, "rpc": "0", "gpu_blas": true, "blas": true,
        "cpu_info": "Apple M2", "gpu_info": "Apple M2", "model_filename": "models/7B/q4_0.gguf",
        "model_type": "llama 7B Q4_0", "model_size": 3825065984, "model_n_params": 6738415616,
        "n_batch": 2048, "n_ubatch": 512, "n_threads": 4, "type_k": "f16", "type_v": "f16",
        "n_gpu_layers": 99, "split_mode": "layer", "main_gpu": 0, "no_kv_offload": false,
        "flash_attn": true, "tensor_split": "0.00", "use_mmap": true, "embeddings": false,
        "n_prompt": 0, "n_gen": 128, "test_time": "2024-05-21T10:00:00Z", "avg_ns": 3330000000,
        "stddev_ns": 10000000, "avg_ts": 38.44, "stddev_ts": 0.12,
        "samples_ns": [3320000000, 3340000000], "samples_ts": [38.55, 38.32]}]"#;
    let r = &read_str(old).unwrap()[0];
    assert_eq!(r.flash_attn, Some(1));
    assert_eq!(r.n_depth, 0);
    assert_eq!(r.build_number, Some(2954));
    assert_eq!(r.other["metal"], Value::Bool(true));
    assert_eq!(r.other["use_mmap"], Value::Bool(true));
    assert_eq!(r.samples_ns, vec![3320000000, 3340000000]);
    // written back, llama-bench's fields come first and the old ones after
    let mut out = Vec::new();
    write_jsonl(std::slice::from_ref(r), &mut out).unwrap();
    assert_eq!(&read_str(std::str::from_utf8(&out).unwrap()).unwrap()[0], r);
}

#[test]
fn from_case_round_trips_through_jsonl_and_csv() {
    let file = tokenmeter_file();
    let records: Vec<LlamaBenchRecord> = file.cases.iter().map(|c| from_case(&file, c)).collect();
    let r = &records[0];
    assert_eq!(r.build_commit.as_deref(), Some("llama-cpp-sys-2-0.1.161"));
    assert_eq!(r.build_number, Some(0));
    assert_eq!(r.test_time.as_deref(), Some("2026-11-25T03:59:01Z"));
    assert_eq!(r.samples_ns, file.cases[0].summary.samples_ns);
    let keys: Vec<String> = r.fields().into_iter().map(|(k, _)| k).collect();
    assert_eq!(keys, FIELDS, "every field llama-bench writes, in its order");

    let mut jsonl = Vec::new();
    write_jsonl(&records, &mut jsonl).unwrap();
    assert_eq!(
        read_str(std::str::from_utf8(&jsonl).unwrap()).unwrap(),
        records
    );

    let mut csv = Vec::new();
    write_csv(&records, &mut csv).unwrap();
    let csv = String::from_utf8(csv).unwrap();
    assert_eq!(csv.lines().next().unwrap(), CSV.lines().next().unwrap());
    let without_samples: Vec<LlamaBenchRecord> = records
        .iter()
        .map(|r| LlamaBenchRecord {
            samples_ns: vec![],
            samples_ts: vec![],
            ..r.clone()
        })
        .collect();
    assert_eq!(read_str(&csv).unwrap(), without_samples);
}

#[test]
fn a_tokenmeter_result_file_is_not_llama_bench_output() {
    assert!(!looks_like(TOKENMETER));
    assert!(!looks_like(
        "{\"schema_version\": 4, \"n_prompt\": 1, \"n_gen\": 2}"
    ));
    assert!(!looks_like("a,b\n1,2\n"));
}

#[test]
fn hostile_input_is_one_line_error_naming_what_is_wrong() {
    let cases = [
        ("", "empty"),
        ("[{\"n_prompt\": 5", "JSON array"),
        ("[{\"n_gen\": 5}]", "record 1: missing n_prompt"),
        ("[{\"n_prompt\": 1e400, \"n_gen\": 1}]", "JSON array"),
        (
            "[{\"n_prompt\": 99999999999, \"n_gen\": 1}]",
            "record 1: n_prompt: expected an integer from 0 to 4294967295",
        ),
        (
            "[{\"n_prompt\": -1, \"n_gen\": 1}]",
            "n_prompt: expected an integer",
        ),
        (
            "[{\"n_prompt\": \"5\", \"n_gen\": 1}]",
            "n_prompt: expected an integer",
        ),
        (
            "[{\"n_prompt\": 1, \"n_gen\": 1, \"flash_attn\": 7}]",
            "flash_attn: expected -1, 0 or 1",
        ),
        (
            "[{\"n_prompt\": 1, \"n_gen\": 1, \"flash_attn\": 300}]",
            "flash_attn: expected an integer",
        ),
        (
            "[{\"n_prompt\": 1, \"n_gen\": 1, \"samples_ns\": [1, -2]}]",
            "samples_ns[1]",
        ),
        (
            "[{\"n_prompt\": 1, \"n_gen\": 1, \"avg_ts\": \"fast\"}]",
            "avg_ts: expected a number",
        ),
        (
            "[{\"n_prompt\": 1, \"n_gen\": 1, \"model_type\": 3}]",
            "model_type: expected a string",
        ),
        ("[1]", "record 1: expected a record object"),
        (
            "{\"n_prompt\": 1, \"n_gen\": 1}\n\n{\"n_gen\": 1}\n",
            "line 3: missing n_prompt",
        ),
        ("{\"n_prompt\": 1, \"n_gen\": 1}\n{\"n_pro", "line 2"),
        (
            "n_prompt,n_gen\n\"1\",\"2\"\n\"x\",\"2\"\n",
            "line 3: n_prompt: expected an integer",
        ),
        ("n_prompt,n_gen\n\"1\",\"2\",\"3\"\n", "line 2"),
        ("hello\n", "not llama-bench output"),
    ];
    for (text, needle) in cases {
        let e = read_str(text).unwrap_err();
        assert!(e.contains(needle), "{text:?}: {e}");
        assert!(!e.contains('\n'), "{e}");
    }
}

#[test]
fn read_path_names_the_file() {
    let dir = std::env::temp_dir().join(format!("tokenmeter-llama-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("broken.json");
    std::fs::write(&path, "[{\"n_gen\": 1}]").unwrap();
    let e = read_path(&path).unwrap_err().to_string();
    assert!(
        e.contains("broken.json") && e.contains("missing n_prompt"),
        "{e}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// What the `llama_bench` fuzz target asserts of any text.
fn holds_for(text: &str) {
    let _ = looks_like(text);
    match read_str(text) {
        Err(e) => assert!(!e.is_empty() && !e.contains('\n'), "{e:?}"),
        Ok(records) if records.is_empty() => {}
        Ok(records) => {
            let mut jsonl = Vec::new();
            write_jsonl(&records, &mut jsonl).unwrap();
            let again = read_str(std::str::from_utf8(&jsonl).unwrap());
            assert_eq!(again.as_ref(), Ok(&records), "{text:?}");
            write_csv(&records, &mut Vec::new()).unwrap();
        }
    }
}

#[test]
fn the_fuzz_seeds_and_every_truncation_of_them_read_or_fail_in_one_line() {
    let seeds = [
        include_str!("../../../fuzz/corpus/llama_bench/llama-bench.json"),
        include_str!("../../../fuzz/corpus/llama_bench/llama-bench.csv"),
        include_str!("../../../fuzz/corpus/llama_bench/from-tokenmeter.jsonl"),
        include_str!("../../../fuzz/corpus/llama_bench/old-version.json"),
    ];
    for seed in seeds {
        assert!(!read_str(seed).unwrap().is_empty());
        for end in (0..seed.len()).filter(|&i| seed.is_char_boundary(i)) {
            holds_for(&seed[..end]);
        }
    }
}
