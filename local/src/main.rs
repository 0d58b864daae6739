//! `gennaker`: runs Gennaker locally (API on 127.0.0.1:8084, engine, local AWS emulator)
//! until Ctrl-C. `gennaker token --user NAME --roles a,b` prints a bearer token from the
//! local issuer.

use gennaker_local::authorizer::{LOCAL_ADMIN_ROLE, LOCAL_ADMIN_USER, LocalIssuer, TokenRequest};
use gennaker_local::{LocalOptions, Running, start};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1).peekable();
    if args.peek().map(String::as_str) == Some("token") {
        args.next();
        return print_token(args);
    }
    // The console lines say what happens; RUST_LOG=info (or debug) adds the handlers' logs.
    gennaker_runtime::logging::init_with_default(false, "warn");
    let (options, quiet) = parse_args(args)?;
    let data_dir = options.data_dir.clone();
    let running = start(options).await?;
    print_banner(&running, data_dir.as_deref(), quiet);
    wait_for_stop_signal().await?;
    println!("Stopping…");
    running.stop().await;
    Ok(())
}

fn print_banner(running: &Running, data_dir: Option<&std::path::Path>, quiet: bool) {
    let data_dir = data_dir.map_or("none (in memory)".to_string(), |d| d.display().to_string());
    println!("Gennaker is running locally");
    println!("  API (Gate-compatible)  {}", running.api_url());
    println!("  web UI                 {}/ui", running.api_url());
    println!("  data directory         {data_dir}");
    println!("  AWS emulator           {}", running.emulator_endpoint());
    println!(
        "  authentication         {}",
        authentication_summary(running)
    );
    println!(
        "  bakes                  builders simulated: nothing is installed, images are the emulator's base images renamed"
    );
    if quiet {
        println!("Quiet: executions are not printed (RUST_LOG=info adds the logs).");
    }
    println!("Press Ctrl-C to stop.");
}

/// Whether the API asks for a token (local mode plays API Gateway's JWT authorizer).
fn authentication_summary(running: &Running) -> String {
    if running.requires_token() {
        "tokens required (`gennaker token --user alice --roles dev` prints one)".to_string()
    } else {
        format!(
            "a request without a token is the local administrator '{LOCAL_ADMIN_USER}'; tokens (`gennaker token --user alice --roles dev`) are verified; --require-auth refuses requests without one"
        )
    }
}

/// The options, and whether `--quiet` asked for no console lines.
fn parse_args(args: impl Iterator<Item = String>) -> anyhow::Result<(LocalOptions, bool)> {
    let mut options = LocalOptions {
        data_dir: Some(gennaker_local::data_dir::default_data_dir()),
        simulated_bakes: true,
        ..LocalOptions::default()
    };
    let mut quiet = false;
    let mut args = args.peekable();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "local" => {}
            "--require-auth" => options.auth.require_token = true,
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
            "--data-dir" => {
                let value = args
                    .next()
                    .ok_or_else(|| anyhow::anyhow!("--data-dir needs a directory"))?;
                options.data_dir = Some(value.into());
            }
            "--reset" => options.reset_data = true,
            "--quiet" | "-q" => quiet = true,
            "-h" | "--help" => {
                println!(
                    "usage: gennaker [local] [--port PORT] [--parameter Name=Value]... [--data-dir DIR] [--reset] [--quiet] [--require-auth]\n       gennaker token --user NAME [--roles a,b] [--hours N]\n\nStarts the local AWS emulator (installing it on first use), deploys template.yaml into it,\nand serves the Gate-compatible API on 127.0.0.1:PORT (default 8084). --parameter sets a\nparameter of template.yaml (e.g. JenkinsMasters, AllowedUrlPrefixes), as sam deploy's\n--parameter-overrides would.\n\nApplications, pipelines, executions and everything else Gennaker stores are kept in\n--data-dir (default {}) and are back after a restart, even after kill -9.\n--reset starts empty, discarding what the data directory holds.\n\nIt prints a line per execution and stage transition (--quiet: none); RUST_LOG=info\nor debug adds the logs of every handler.\n\nRequests are authenticated as API Gateway's JWT authorizer does, against a local issuer;\nwithout --require-auth a request with no token acts as the local administrator.\n`gennaker token` prints a bearer token from the local issuer for NAME with the roles given\n(the role {LOCAL_ADMIN_ROLE} makes an administrator).",
                    gennaker_local::data_dir::default_data_dir().display()
                );
                std::process::exit(0);
            }
            other => anyhow::bail!("unknown argument '{other}' (try --help)"),
        }
    }
    if !quiet {
        options.transitions = Some(gennaker_local::console::printer());
    }
    Ok((options, quiet))
}

/// `gennaker token --user NAME [--roles a,b] [--hours N]`: prints a token from the local
/// issuer, in the claims the template's `UserNameClaim` and `GroupsClaim` name.
fn print_token(args: impl Iterator<Item = String>) -> anyhow::Result<()> {
    let mut user = None;
    let mut roles = Vec::new();
    let mut hours = 12u64;
    let mut args = args.peekable();
    while let Some(arg) = args.next() {
        let mut value = || {
            args.next()
                .ok_or_else(|| anyhow::anyhow!("{arg} needs a value"))
        };
        match arg.as_str() {
            "--user" => user = Some(value()?),
            "--roles" => {
                roles = value()?
                    .split(',')
                    .map(|role| role.trim().to_string())
                    .filter(|role| !role.is_empty())
                    .collect()
            }
            "--hours" => {
                let text = value()?;
                hours = text
                    .parse()
                    .map_err(|_| anyhow::anyhow!("--hours: '{text}' is not a whole number"))?;
            }
            other => anyhow::bail!("gennaker token: unknown argument '{other}' (try --help)"),
        }
    }
    let user = user.ok_or_else(|| anyhow::anyhow!("gennaker token needs --user NAME"))?;
    let template = gennaker_local::template::Template::load(
        &gennaker_local::emulator::project_root().join("template.yaml"),
    )?;
    let issuer = LocalIssuer::load_or_create(&LocalIssuer::default_dir())?;
    let token = issuer.mint(&TokenRequest {
        user: &user,
        roles: &roles,
        user_claim: template
            .parameter_default("UserNameClaim")
            .unwrap_or("email"),
        groups_claim: template
            .parameter_default("GroupsClaim")
            .unwrap_or("groups"),
        lifetime: std::time::Duration::from_secs(hours * 3600),
    })?;
    println!("{token}");
    Ok(())
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
