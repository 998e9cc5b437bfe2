//! Leaving ggml's AMX buffer type out of one process. ggml offers AMX for the weights only when the kernel grants
//! the process permission for AMX tile data (`arch_prctl(ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA)`); a seccomp
//! filter that refuses that one request makes ggml take the host for one without AMX ("AMX is not ready to be
//! used!") and put the weights in CPU_REPACK instead. ggml asks once per process, at the first model load, so
//! this must come before it: a worker process does it at its start.

/// `arch_prctl`'s request for extended-state permission (asm/prctl.h).
#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
const ARCH_REQ_XCOMP_PERM: u64 = 0x1023;

/// Installs the filter in this process, once (it holds for its threads and children from then on). Every other
/// system call, and every other `arch_prctl`, is allowed.
#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
pub fn deny() -> Result<(), String> {
    static DONE: std::sync::OnceLock<Result<(), String>> = std::sync::OnceLock::new();
    DONE.get_or_init(install).clone()
}

#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
fn install() -> Result<(), String> {
    use seccompiler::{
        BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
        SeccompRule, TargetArch,
    };
    let rule = SeccompRule::new(vec![SeccompCondition::new(
        0,
        SeccompCmpArgLen::Qword,
        SeccompCmpOp::Eq,
        ARCH_REQ_XCOMP_PERM,
    )
    .map_err(|e| e.to_string())?])
    .map_err(|e| e.to_string())?;
    let filter = SeccompFilter::new(
        [(libc::SYS_arch_prctl, vec![rule])].into_iter().collect(),
        SeccompAction::Allow,
        SeccompAction::Errno(libc::EPERM as u32),
        TargetArch::x86_64,
    )
    .map_err(|e| e.to_string())?;
    let program: BpfProgram = filter
        .try_into()
        .map_err(|e: seccompiler::BackendError| e.to_string())?;
    seccompiler::apply_filter(&program).map_err(|e| format!("seccomp filter refused: {e}"))
}

/// Elsewhere ggml has no AMX to leave out.
#[cfg(not(all(target_os = "linux", target_arch = "x86_64")))]
pub fn deny() -> Result<(), String> {
    Ok(())
}

#[cfg(all(test, target_os = "linux", target_arch = "x86_64"))]
mod tests {
    const CHILD: &str = "TOKENMETER_TEST_AMX_DENY_CHILD";

    #[test]
    fn the_filter_refuses_the_amx_request_and_nothing_else() {
        if std::env::var_os(CHILD).is_some() {
            // The test binary run again for this test alone: the filter stays in that process.
            super::deny().expect("filter installed");
            // SAFETY: plain system calls with integer arguments and a pointer to a local.
            let amx =
                unsafe { libc::syscall(libc::SYS_arch_prctl, super::ARCH_REQ_XCOMP_PERM, 18) };
            let errno = std::io::Error::last_os_error().raw_os_error();
            let mut fs: u64 = 0;
            let other = unsafe { libc::syscall(libc::SYS_arch_prctl, 0x1003, &mut fs as *mut u64) };
            assert_eq!(
                (amx, errno),
                (-1, Some(libc::EPERM)),
                "the AMX request is refused"
            );
            assert_eq!(other, 0, "ARCH_GET_FS stays allowed");
            return;
        }
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "engine::amx::tests::the_filter_refuses_the_amx_request_and_nothing_else",
            ])
            .args(["--test-threads", "1"])
            .env(CHILD, "1")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(text.contains("1 passed"), "{text}");
    }
}
