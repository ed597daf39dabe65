//! Debian packages a test needs (slapd, Prosody): installed with apt-get when missing, as
//! `scripts/bootstrap.sh --browser` does, once per test binary.

use std::{
    path::Path,
    process::{Command, Stdio},
    sync::Mutex,
};

/// Installs `packages` with apt-get unless every one of `binaries` is there already.
pub fn ensure_installed(packages: &[&str], binaries: &[&str]) {
    static INSTALL: Mutex<()> = Mutex::new(());
    let _once = INSTALL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if binaries.iter().all(|binary| Path::new(binary).exists()) {
        return;
    }
    eprintln!("installing {packages:?} from Debian (apt-get), as scripts/bootstrap.sh does");
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| out.stdout.starts_with(b"0\n"));
    let apt = |args: &[&str]| {
        let mut command = if root {
            Command::new("apt-get")
        } else {
            let mut sudo = Command::new("sudo");
            sudo.arg("apt-get");
            sudo
        };
        let status = command
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .stdin(Stdio::null())
            .status()
            .expect("apt-get runs");
        assert!(status.success(), "apt-get {args:?} failed: {status}");
    };
    apt(&["update", "-q"]);
    apt(&[&["install", "-y", "-q"], packages].concat());
    for binary in binaries {
        assert!(
            Path::new(binary).exists(),
            "{binary} is missing after apt-get install"
        );
    }
}
