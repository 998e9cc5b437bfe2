//! Records the git commit tokenmeter is built from (absent outside a checkout) and the llama-cpp-sys-2 version
//! Cargo.lock resolved, so the provenance in result files cannot drift from what was compiled.

use std::process::Command;

/// The version of `llama-cpp-sys-2` in Cargo.lock.
fn locked_llama_cpp_sys_version() -> String {
    let text = std::fs::read_to_string("Cargo.lock").expect("Cargo.lock beside Cargo.toml");
    let lock: toml::Table = text.parse().expect("Cargo.lock is TOML");
    lock.get("package")
        .and_then(|p| p.as_array())
        .into_iter()
        .flatten()
        .filter_map(|p| p.as_table())
        .find(|p| p.get("name").and_then(|n| n.as_str()) == Some("llama-cpp-sys-2"))
        .and_then(|p| p.get("version"))
        .and_then(|v| v.as_str())
        .expect("Cargo.lock: a [[package]] named llama-cpp-sys-2 with a version")
        .to_string()
}

fn main() {
    println!(
        "cargo:rustc-env=TOKENMETER_LLAMA_CPP_SYS_VERSION={}",
        locked_llama_cpp_sys_version()
    );
    println!("cargo:rerun-if-changed=Cargo.lock");
    let commit = Command::new("git")
        .args(["rev-parse", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    let dirty = Command::new("git")
        .args(["status", "--porcelain", "--untracked-files=no"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .is_some_and(|o| !o.stdout.is_empty());
    let value = if commit.is_empty() {
        String::new()
    } else if dirty {
        format!("{commit}-dirty")
    } else {
        commit
    };
    println!("cargo:rustc-env=TOKENMETER_GIT_COMMIT={value}");
    println!("cargo:rerun-if-changed=.git/HEAD");
    println!("cargo:rerun-if-changed=.git/index");
    println!("cargo:rerun-if-changed=.git/refs");
}
