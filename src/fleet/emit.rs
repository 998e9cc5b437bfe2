//! The files that start a sweep's shards on a scheduler: a Slurm job-array script and a Kubernetes Indexed Job
//! manifest. Both run `tokenmeter COMMAND --sweep NAME --shard auto --resume auto`; the shard count and the run
//! id are written into them, so that a re-submitted shard (a Slurm requeue, a replaced pod) joins the same run, and
//! one that runs again on the same host resumes its checkpoint.

use super::{ShardUnit, RESUME_AUTO, RUN_ID_ENV, SHARD_COUNT_ENV};
use crate::fsutil::file_name_part;

/// What both files need.
#[derive(Debug, Clone, PartialEq)]
pub struct EmitSpec {
    pub sweep: String,
    /// `bench` or `load`.
    pub command: &'static str,
    pub shards: u32,
    pub per: ShardUnit,
    pub run_id: String,
    /// Shards running at once (Slurm's `%K`, the Job's `parallelism`).
    pub max_parallel: u32,
    /// GPUs per shard: 1 on a GPU fleet; 0 leaves out `--gres` (CPU nodes).
    pub gpus: u32,
    /// The longest shard's estimated wall time, for Slurm's time limit.
    pub longest_shard_s: f64,
    /// Slurm: absolute paths on shared storage.
    pub binary: String,
    pub config: String,
    pub results_dir: String,
    /// Kubernetes: the image built from the Dockerfile, the GPU product label value and the volume claims.
    pub image: String,
    pub gpu_product: String,
}

/// `sh` single-quoting.
fn sh(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// A YAML double-quoted scalar (JSON's string syntax is YAML's).
fn yq(s: &str) -> String {
    serde_json::to_string(s).expect("a string serializes")
}

/// Slurm's `--time`: four times the longest estimate plus ten minutes, in whole minutes (a shard that runs
/// slower than estimated still finishes; one that hangs is stopped).
fn time_limit(s: f64) -> String {
    let minutes = ((4.0 * s.max(0.0)) / 60.0).ceil() as u64 + 10;
    format!("{:02}:{:02}:00", minutes / 60, minutes % 60)
}

/// The job-array script (`scripts/slurm/tokenmeter-array.sbatch` is this for the shipped example sweep).
pub fn slurm(s: &EmitSpec) -> String {
    let gres = if s.gpus > 0 {
        format!("#SBATCH --gres=gpu:{}\n", s.gpus)
    } else {
        String::new()
    };
    format!(
        r#"#!/usr/bin/env bash
# tokenmeter sweep '{sweep}' as a Slurm job array: one array task per shard ({shards} shards, one {per} each
# at most), {devices} per task. Written by `tokenmeter plan {sweep} --emit slurm`.
#
#   sbatch tokenmeter-array.sbatch                 # every shard
#   sbatch --array=1,4 tokenmeter-array.sbatch     # again, the shards `tokenmeter fleet status` lists as failed
#   tokenmeter fleet status {results}/{run_id}
#   tokenmeter report {results}/{run_id} -o report.html
#
# Each task copies the binary, the configuration (models.toml and its models/ directory) and a shared
# tokenmeter cache (TOKENMETER_SHARED_CACHE: synthesized models, bandwidth measurements) to node-local disk,
# runs its shard, and writes one result file into the shared results
# directory: {results}/{run_id}/<host>-<device>-<index>of{shards}.json (a later attempt at the index:
# ….a2.json, ….a3.json; no file is removed, and `fleet status` says which one counts). A task Slurm re-queues
# resumes its checkpoint when it lands on the same host. The environment variables below override the paths
# written here.
#SBATCH --job-name=tokenmeter-{sweep}
#SBATCH --array=0-{last}%{parallel}
#SBATCH --ntasks=1
#SBATCH --requeue
{gres}#SBATCH --time={time}
#SBATCH --output=tokenmeter-%A_%a.out
set -euo pipefail

TOKENMETER_BIN=${{TOKENMETER_BIN:-{binary}}}
CONFIG=${{TOKENMETER_CONFIG:-{config}}}
RESULTS=${{TOKENMETER_RESULTS:-{results_q}}}
SHARED_CACHE=${{TOKENMETER_SHARED_CACHE:-}}
export {run_id_env}=${{{run_id_env}:-{run_id_q}}}
export {count_env}={shards}

LOCAL=${{SLURM_TMPDIR:-${{TMPDIR:-/tmp}}}}/tokenmeter-${{SLURM_JOB_ID:-$$}}
mkdir -p "$LOCAL/config" "$LOCAL/cache/models"
trap 'rm -rf "$LOCAL"' EXIT
cp "$TOKENMETER_BIN" "$LOCAL/tokenmeter"
cp "$CONFIG" "$LOCAL/config/models.toml"
if [ -d "$(dirname "$CONFIG")/models" ]; then cp -r "$(dirname "$CONFIG")/models" "$LOCAL/config/"; fi
if [ -n "$SHARED_CACHE" ] && [ -d "$SHARED_CACHE" ]; then cp -r "$SHARED_CACHE/." "$LOCAL/cache/"; fi
mkdir -p "$RESULTS"
cd "$LOCAL"
# Paths relative to $LOCAL, which differs from job to job: a later attempt at the shard on this host then names
# the models as this one does (a bench checkpoint holds their paths) and resumes its checkpoint.
export TOKENMETER_CACHE_DIR=cache
# Slurm sends SIGTERM (time limit, preemption, scancel) to tokenmeter too, which saves what it measured and exits
# 143: the script waits for it and exits with its status.
trap 'echo "tokenmeter-array: signalled; waiting for tokenmeter to save" >&2' TERM HUP

# shellcheck disable=SC2086 # TOKENMETER_ARGS holds extra flags, one word each
"$LOCAL/tokenmeter" {command} --config config/models.toml --sweep {sweep_q} --shard auto --resume {resume} \
  --per {per} --results-dir "$RESULTS" ${{TOKENMETER_ARGS:-}}
"#,
        sweep = s.sweep,
        sweep_q = sh(&s.sweep),
        shards = s.shards,
        per = s.per.name(),
        last = s.shards.saturating_sub(1),
        parallel = s.max_parallel.clamp(1, s.shards.max(1)),
        time = time_limit(s.longest_shard_s),
        binary = sh(&s.binary),
        config = sh(&s.config),
        results = s.results_dir,
        results_q = sh(&s.results_dir),
        run_id = s.run_id,
        run_id_q = sh(&s.run_id),
        run_id_env = RUN_ID_ENV,
        count_env = SHARD_COUNT_ENV,
        command = s.command,
        resume = RESUME_AUTO,
        devices = match s.gpus {
            0 => "no GPU".to_string(),
            1 => "one GPU".to_string(),
            n => format!("{n} GPUs"),
        },
    )
}

/// A Kubernetes object name (a DNS label): [`file_name_part`] with `.` and `_` made `-` as well, at most 63
/// characters, starting and ending with a letter or digit.
fn k8s_name(s: &str) -> String {
    let mut out = String::new();
    for c in file_name_part(s).chars() {
        let c = if c.is_ascii_alphanumeric() { c } else { '-' };
        if c != '-' || !out.ends_with('-') {
            out.push(c);
        }
    }
    out.truncate(63);
    out.trim_matches('-').to_string()
}

/// The Indexed Job and the ReadWriteMany claim its shards write to
/// (`deploy/kubernetes/tokenmeter-indexed-job.yaml` is this for the shipped example sweep).
pub fn kubernetes(s: &EmitSpec) -> String {
    let name = k8s_name(&format!("tokenmeter-{}", s.sweep));
    format!(
        r#"# tokenmeter sweep '{sweep}' as a Kubernetes Indexed Job: {shards} completions, one shard each, one GPU per pod on
# nodes whose nvidia.com/gpu.product label is {product}. Written by `tokenmeter plan {sweep} --emit kubernetes`.
#
#   kubectl create configmap tokenmeter-config --from-file=models.toml
#   kubectl apply -f tokenmeter-indexed-job.yaml
#   kubectl wait --for=condition=complete --timeout=24h job/{name}
#
# A pod reads its index from JOB_COMPLETION_INDEX (set by Kubernetes for an Indexed Job) and the shard count from
# {count_env}, which must equal spec.completions (the downward API does not expose completions). Results go to
# the ReadWriteMany claim tokenmeter-results as /results/{run_id}/<host>-<device>-<index>of{shards}.json (a
# later attempt: ….a2.json; no file is removed). A pod's host name is <job>-<index>, so a replaced pod resumes
# its index's checkpoint (--resume auto). Model files named by `path` in models.toml are read from the claim
# tokenmeter-models mounted at /models; synthesized models are written to the pod's own disk.
apiVersion: batch/v1
kind: Job
metadata:
  name: {name}
  labels:
    app.kubernetes.io/name: tokenmeter
    tokenmeter/sweep: {sweep_label}
spec:
  completionMode: Indexed
  completions: {shards}
  parallelism: {parallel}
  backoffLimit: {backoff}
  template:
    metadata:
      labels:
        app.kubernetes.io/name: tokenmeter
        tokenmeter/sweep: {sweep_label}
    spec:
      restartPolicy: Never
      nodeSelector:
        nvidia.com/gpu.product: {product_q}
      containers:
        - name: tokenmeter
          image: {image_q}
          args: ["{command}", "--config", "/config/models.toml", "--sweep", {sweep_q}, "--shard", "auto", "--resume", "{resume}", "--per", "{per}", "--results-dir", "/results"]
          env:
            - name: {count_env}
              value: "{shards}"
            - name: {run_id_env}
              value: {run_id_q}
            - name: TOKENMETER_CACHE_DIR
              value: /cache
          resources:
            limits:
              nvidia.com/gpu: {gpus}
          volumeMounts:
            - name: results
              mountPath: /results
            - name: config
              mountPath: /config
              readOnly: true
            - name: models
              mountPath: /models
              readOnly: true
            - name: cache
              mountPath: /cache
      volumes:
        - name: results
          persistentVolumeClaim:
            claimName: tokenmeter-results
        - name: config
          configMap:
            name: tokenmeter-config
        - name: models
          persistentVolumeClaim:
            claimName: tokenmeter-models
            readOnly: true
        - name: cache
          emptyDir: {{}}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: tokenmeter-results
spec:
  accessModes: ["ReadWriteMany"]
  resources:
    requests:
      storage: 1Gi
"#,
        sweep = s.sweep,
        sweep_q = yq(&s.sweep),
        sweep_label = yq(&k8s_name(&s.sweep)),
        name = name,
        shards = s.shards,
        parallel = s.max_parallel.clamp(1, s.shards.max(1)),
        backoff = 2 * s.shards,
        product = s.gpu_product,
        product_q = yq(&s.gpu_product),
        image_q = yq(&s.image),
        command = s.command,
        resume = RESUME_AUTO,
        per = s.per.name(),
        run_id = s.run_id,
        run_id_q = yq(&s.run_id),
        run_id_env = RUN_ID_ENV,
        count_env = SHARD_COUNT_ENV,
        gpus = s.gpus.max(1),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> EmitSpec {
        EmitSpec {
            sweep: "fleet-example".into(),
            command: "bench",
            shards: 3,
            per: ShardUnit::Case,
            run_id: "fleet-example-1".into(),
            max_parallel: 8,
            gpus: 1,
            longest_shard_s: 600.0,
            binary: "/shared/bin/tokenmeter".into(),
            config: "/shared/models.toml".into(),
            results_dir: "/shared/results".into(),
            image: "tokenmeter:cuda".into(),
            gpu_product: "NVIDIA-H100-80GB-HBM3".into(),
        }
    }

    #[test]
    fn the_array_covers_every_shard_and_asks_for_one_gpu() {
        let text = slurm(&spec());
        assert!(text.contains("#SBATCH --array=0-2%3\n"), "{text}");
        assert!(text.contains("#SBATCH --gres=gpu:1\n"));
        assert!(text.contains("#SBATCH --time=00:50:00\n"));
        assert!(text.contains("export TOKENMETER_SHARD_COUNT=3\n"));
        assert!(text.contains("#SBATCH --requeue\n"), "{text}");
        assert!(
            text.contains("--sweep 'fleet-example' --shard auto --resume auto \\\n"),
            "{text}"
        );
        let cpu = slurm(&EmitSpec { gpus: 0, ..spec() });
        assert!(!cpu.contains("--gres"));
    }

    #[test]
    fn the_task_waits_for_tokenmeter_to_save_and_names_paths_relative_to_its_directory() {
        let text = slurm(&spec());
        let trap = text.find("' TERM HUP\n").expect("a TERM and HUP trap");
        let cd = text.find("cd \"$LOCAL\"\n").expect("cd");
        let run = text.find("\"$LOCAL/tokenmeter\" bench").expect("the run");
        assert!(cd < trap && trap < run, "{text}");
        assert!(
            text[cd..run].contains("export TOKENMETER_CACHE_DIR=cache\n"),
            "{text}"
        );
        assert!(
            text[run..].contains(" --config config/models.toml "),
            "{text}"
        );
    }

    #[test]
    fn names_with_quotes_stay_one_shell_word() {
        assert_eq!(sh("it's"), r"'it'\''s'");
    }

    #[test]
    fn job_names_are_dns_labels() {
        assert_eq!(
            k8s_name("tokenmeter-Fleet_Example"),
            "tokenmeter-fleet-example"
        );
        assert_eq!(k8s_name("_a.b__c-"), "a-b-c");
        assert_eq!(k8s_name("_"), "");
        let long = k8s_name(&format!("tokenmeter-{}", "x".repeat(80)));
        assert_eq!(long.len(), 63);
        assert!(k8s_name(&format!("{}-y", "x".repeat(62))).ends_with('x'));
    }
}
