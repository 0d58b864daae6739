//! Local mode as a child process, for tests that kill it (`kill -9`) and start it again:
//! `local-mode-child STACK DATA_DIR [Name=Value]...` starts local mode with that stack name,
//! data directory and template parameters on a free port, prints `API <url>` and
//! `EMULATOR_PID <pid>`, and runs until it is killed.

use std::io::Write;

use gennaker_local::{LocalOptions, start};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: local-mode-child STACK DATA_DIR [Name=Value]...";
    let stack_name = args.next().ok_or_else(|| anyhow::anyhow!(usage))?;
    let data_dir = args.next().ok_or_else(|| anyhow::anyhow!(usage))?;
    let parameters = args
        .map(|pair| {
            pair.split_once('=')
                .map(|(name, value)| (name.to_string(), value.to_string()))
                .ok_or_else(|| anyhow::anyhow!("'{pair}' is not Name=Value"))
        })
        .collect::<anyhow::Result<_>>()?;
    let running = start(LocalOptions {
        api_port: 0,
        stack_name,
        data_dir: Some(data_dir.into()),
        parameters,
        ..LocalOptions::default()
    })
    .await?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "API {}", running.api_url())?;
    writeln!(out, "EMULATOR_PID {}", running.emulator_pid().unwrap_or(0))?;
    out.flush()?;
    drop(out);
    std::future::pending::<()>().await;
    Ok(())
}
