//! The directory import benchmark: a 100,000-row CSV file imported into a fresh database with
//! the server's own command (`switchboard-server directory import`), then the same file with
//! 100 rows changed; wall time and the command's peak resident memory (VmHWM).

use std::{
    fmt::Write as _,
    path::Path,
    time::{Duration, Instant},
};

use anyhow::Context;
use tokio::process::Command;

/// Rows of the benchmark's company.
pub const ROWS: usize = 100_000;
/// Rows changed for the second import.
pub const CHANGED: usize = 100;

/// One run's figures.
#[derive(Debug, Clone, Copy)]
pub struct ImportRun {
    pub full_secs: f64,
    pub full_peak_mib: f64,
    pub delta_secs: f64,
}

/// A CSV company of [`ROWS`] people; the first `changed` of them with a new title.
fn company(changed: usize) -> String {
    let mut csv = String::from(
        "id,name,username,department,title,location,extension,mobile,other_numbers,email,xmpp\n",
    );
    for n in 0..ROWS {
        let title = if n < changed {
            "Team lead"
        } else {
            "Specialist"
        };
        let _ = writeln!(
            csv,
            "emp-{n:06},Person {n:06},,Department {},{title},Site {},{},+1 555 {:07},{};{},p{n}@example.com,",
            n % 40,
            n % 7,
            100_000 + n,
            n,
            200_000 + n,
            300_000 + n,
        );
    }
    csv
}

/// Runs one import and returns its wall time and the command's peak memory in MiB.
async fn import(server: &Path, database: &str, file: &Path) -> anyhow::Result<(f64, f64)> {
    let started = Instant::now();
    let mut child = Command::new(server)
        .args(["--database-url", database, "directory", "import"])
        .arg(file)
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .spawn()
        .context("starting the import")?;
    let pid = child.id().context("no pid")?;
    let mut peak_kib = 0;
    let status = loop {
        if let Ok(kib) = crate::system::peak_rss_kib(pid) {
            peak_kib = peak_kib.max(kib);
        }
        tokio::select! {
            status = child.wait() => break status?,
            _ = tokio::time::sleep(Duration::from_millis(20)) => {}
        }
    };
    anyhow::ensure!(status.success(), "the import failed: {status}");
    Ok((started.elapsed().as_secs_f64(), peak_kib as f64 / 1024.0))
}

/// One run in a fresh temporary directory.
pub async fn run(server: &Path) -> anyhow::Result<ImportRun> {
    let dir = std::env::temp_dir().join(format!("switchboard-import-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let database = format!("sqlite://{}", dir.join("bench.db").display());
    let file = dir.join("company.csv");
    std::fs::write(&file, company(0))?;
    let full = import(server, &database, &file).await;
    std::fs::write(&file, company(CHANGED))?;
    let delta = import(server, &database, &file).await;
    let _ = std::fs::remove_dir_all(&dir);
    let (full_secs, full_peak_mib) = full?;
    let (delta_secs, _) = delta?;
    Ok(ImportRun {
        full_secs,
        full_peak_mib,
        delta_secs,
    })
}
