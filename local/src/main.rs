//! `gennaker`: runs Gennaker locally (API on 127.0.0.1:8084, engine, local AWS emulator)
//! until Ctrl-C.

use gennaker_local::{LocalOptions, start};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    gennaker_runtime::logging::init(false);
    let options = parse_args(std::env::args().skip(1))?;
    let running = start(options).await?;
    println!(
        "Gennaker is running: API at {} (Gate-compatible), AWS emulator at {}",
        running.api_url(),
        running.emulator_endpoint()
    );
    println!("Press Ctrl-C to stop.");
    wait_for_stop_signal().await?;
    println!("Stopping…");
    running.stop().await;
    Ok(())
}

fn parse_args(args: impl Iterator<Item = String>) -> anyhow::Result<LocalOptions> {
    let mut options = LocalOptions::default();
    let mut args = args.peekable();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "local" => {}
            "--port" => {
                let value = args
                    .next()
                    .ok_or_else(|| anyhow::anyhow!("--port needs a value"))?;
                options.api_port = value
                    .parse()
                    .map_err(|_| anyhow::anyhow!("--port: '{value}' is not a port number"))?;
            }
            "--parameter" => {
                let value = args
                    .next()
                    .ok_or_else(|| anyhow::anyhow!("--parameter needs Name=Value"))?;
                let (name, value) = value
                    .split_once('=')
                    .ok_or_else(|| anyhow::anyhow!("--parameter: '{value}' is not Name=Value"))?;
                options
                    .parameters
                    .insert(name.to_string(), value.to_string());
            }
            "-h" | "--help" => {
                println!(
                    "usage: gennaker [local] [--port PORT] [--parameter Name=Value]...\n\nStarts the local AWS emulator (installing it on first use), deploys template.yaml into it,\nand serves the Gate-compatible API on 127.0.0.1:PORT (default 8084). --parameter sets a\nparameter of template.yaml (e.g. JenkinsMasters, AllowedUrlPrefixes), as sam deploy's\n--parameter-overrides would."
                );
                std::process::exit(0);
            }
            other => anyhow::bail!("unknown argument '{other}' (try --help)"),
        }
    }
    Ok(options)
}

/// Ctrl-C (SIGINT) or SIGTERM, so `kill` stops the emulator cleanly too.
async fn wait_for_stop_signal() -> anyhow::Result<()> {
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        result = tokio::signal::ctrl_c() => result?,
        _ = terminate.recv() => {}
    }
    Ok(())
}
