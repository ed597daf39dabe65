//! What the benchmarks read from Linux: the machine they ran on, a process's resident memory
//! and the open-files limit (raised for the bench only).

use std::{path::Path, process::Command};

use anyhow::Context;

/// The value of `key` in a `key: value` file such as /proc/cpuinfo or /proc/<pid>/status.
fn field<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    text.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        (name.trim() == key).then(|| value.trim())
    })
}

/// Resident memory (VmRSS) of process `pid`, in KiB.
pub fn rss_kib(pid: u32) -> anyhow::Result<u64> {
    status_kib(pid, "VmRSS")
}

/// Peak resident memory (VmHWM) of process `pid` so far, in KiB.
pub fn peak_rss_kib(pid: u32) -> anyhow::Result<u64> {
    status_kib(pid, "VmHWM")
}

/// Threads of process `pid`.
pub fn threads(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let value = field(&status, "Threads").context("no Threads in the process status")?;
    Ok(value.parse()?)
}

/// Open file descriptors of process `pid` (sockets, the database's files, ...).
pub fn open_fds(pid: u32) -> anyhow::Result<u64> {
    Ok(std::fs::read_dir(format!("/proc/{pid}/fd"))?.count() as u64)
}

/// Clock ticks per second of /proc/<pid>/stat's times (Linux's USER_HZ).
const TICKS_PER_S: f64 = 100.0;

/// CPU time the process used so far, in seconds.
pub fn cpu_seconds(pid: u32) -> anyhow::Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .context("unreadable /proc stat")?
        .1
        .split_whitespace()
        .collect();
    let ticks: f64 = fields[11].parse::<f64>()? + fields[12].parse::<f64>()?;
    Ok(ticks / TICKS_PER_S)
}

/// A `kB` value of /proc/<pid>/status.
fn status_kib(pid: u32, key: &str) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let value = field(&status, key).with_context(|| format!("no {key} in the process status"))?;
    Ok(value.trim_end_matches("kB").trim().parse()?)
}

/// The soft limit on open files of this process (children inherit it).
pub fn open_files_limit() -> anyhow::Result<u64> {
    Ok(rlimit::getrlimit(rlimit::Resource::NOFILE)?.0)
}

/// Raises this process's open-files limit (children inherit it) to at least `needed` when
/// it is lower: the soft limit, and the hard one too where allowed (root, up to the kernel's
/// `fs.nr_open`). Returns the soft limit now, which may still be lower than `needed`.
pub fn raise_open_files_limit(needed: u64) -> anyhow::Result<u64> {
    let (soft, hard) = rlimit::getrlimit(rlimit::Resource::NOFILE)?;
    if soft < needed
        && rlimit::setrlimit(rlimit::Resource::NOFILE, needed, needed.max(hard)).is_err()
    {
        rlimit::setrlimit(rlimit::Resource::NOFILE, needed.min(hard), hard)?;
    }
    open_files_limit()
}

/// The machine, for the report: CPU, cores, memory, kernel, compiler, date.
#[derive(Debug, Clone)]
pub struct Machine {
    pub cpu: String,
    pub cores: usize,
    pub ram_gib: f64,
    pub kernel: String,
    pub rustc: String,
    pub date: String,
}

fn read(path: impl AsRef<Path>) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

fn output(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .output()
        .ok()
        .filter(|out| out.status.success())
        .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_owned())
        .unwrap_or_else(|| "unknown".into())
}

impl Machine {
    pub fn describe() -> Self {
        let cpuinfo = read("/proc/cpuinfo");
        let meminfo = read("/proc/meminfo");
        let mem_kib: f64 = field(&meminfo, "MemTotal")
            .and_then(|v| v.trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0.0);
        Machine {
            cpu: field(&cpuinfo, "model name")
                .unwrap_or("unknown")
                .to_owned(),
            cores: std::thread::available_parallelism().map_or(0, |n| n.get()),
            ram_gib: mem_kib / (1024.0 * 1024.0),
            kernel: read("/proc/sys/kernel/osrelease").trim().to_owned(),
            rustc: output("rustc", &["--version"]),
            date: output("date", &["-u", "+%Y-%m-%d %H:%M UTC"]),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_fields_of_proc_files() {
        let text = "Name:\tbench\nVmRSS:\t   1234 kB\nmodel name\t: Some CPU @ 2GHz\n";
        assert_eq!(field(text, "VmRSS"), Some("1234 kB"));
        assert_eq!(field(text, "model name"), Some("Some CPU @ 2GHz"));
        assert_eq!(field(text, "VmSwap"), None);
    }

    #[test]
    fn this_process_has_memory_and_an_open_files_limit() {
        assert!(rss_kib(std::process::id()).unwrap() > 0);
        assert!(open_files_limit().unwrap() > 0);
        assert!(threads(std::process::id()).unwrap() >= 1);
        assert!(open_fds(std::process::id()).unwrap() >= 1);
        assert!(rss_kib(u32::MAX).is_err(), "no such process");
    }
}
