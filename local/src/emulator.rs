//! The local AWS emulator (moto server): installed into a project-local virtualenv on first
//! use, started as a child process bound to 127.0.0.1, stopped with its owner.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use tokio::process::{Child, Command};

/// The moto release Gennaker is tested against (see `../shared/research/emulators.md`).
const MOTO_REQUIREMENT: &str = "moto[server]==5.2.5";
const STARTUP_DEADLINE: Duration = Duration::from_secs(60);
/// Starts moto's server with its request-id rewrite kept to XML responses.
const MOTO_SERVER: &str = include_str!("moto_server.py");

/// A running emulator; dropping it kills the process.
pub struct Emulator {
    child: Child,
    endpoint: String,
}

/// Where Gennaker keeps its local state: `$GENNAKER_HOME`, else `.gennaker` in the project.
pub fn gennaker_home() -> PathBuf {
    std::env::var_os("GENNAKER_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| project_root().join(".gennaker"))
}

/// The repository root (where `template.yaml` lives).
pub fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("local/ has a parent")
        .to_path_buf()
}

/// Creates the virtualenv with moto when it is missing. Safe to call from several processes
/// at once: they serialize on a lock file.
pub fn ensure_installed() -> anyhow::Result<PathBuf> {
    let home = gennaker_home();
    std::fs::create_dir_all(&home).with_context(|| format!("creating {}", home.display()))?;
    let venv = home.join("venv");
    let moto = venv.join("bin/moto_server");
    let lock = std::fs::File::create(home.join("install.lock"))?;
    lock.lock().context("locking the emulator install")?;
    if !moto.exists() {
        eprintln!(
            "gennaker: installing the local AWS emulator ({MOTO_REQUIREMENT}) into {}",
            venv.display()
        );
        run(std::process::Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv))?;
        run(std::process::Command::new(venv.join("bin/pip")).args([
            "install",
            "--quiet",
            "--disable-pip-version-check",
            MOTO_REQUIREMENT,
        ]))?;
    }
    Ok(venv)
}

fn run(command: &mut std::process::Command) -> anyhow::Result<()> {
    let status = command
        .status()
        .with_context(|| format!("running {command:?}"))?;
    if !status.success() {
        bail!("{command:?} failed with {status}");
    }
    Ok(())
}

impl Emulator {
    /// Installs (if needed) and starts moto on a free loopback port, with Step Functions
    /// execution switched on.
    pub async fn start() -> anyhow::Result<Self> {
        let venv = tokio::task::spawn_blocking(ensure_installed).await??;
        let port = free_port()?;
        let endpoint = format!("http://127.0.0.1:{port}");
        // moto's own server entry point, with one fix applied first (see moto_server.py).
        let mut command = Command::new(venv.join("bin/python"));
        command
            .args([
                "-c",
                MOTO_SERVER,
                "-H",
                "127.0.0.1",
                "-p",
                &port.to_string(),
            ])
            // Step Functions' service integrations call back into moto on this port.
            .env("MOTO_PORT", port.to_string())
            // The emulator needs no credentials; it never gets the caller's.
            .envs_remove_aws()
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true);
        // If this process dies without stopping the emulator (SIGKILL, a crash), the kernel
        // stops the emulator too instead of leaving it orphaned.
        // The signal follows the spawning thread: a tokio worker, which lives as long as the
        // runtime that owns the emulator.
        // SAFETY: prctl is async-signal-safe and touches only the child being set up.
        unsafe {
            command.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
                Ok(())
            });
        }
        let child = command.spawn().context("starting moto_server")?;
        let emulator = Self { child, endpoint };
        emulator.wait_until_ready().await?;
        emulator.enable_state_machine_execution().await?;
        Ok(emulator)
    }

    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The emulator's process id (for measuring its memory).
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    async fn wait_until_ready(&self) -> anyhow::Result<()> {
        let deadline = Instant::now() + STARTUP_DEADLINE;
        let client = reqwest::Client::new();
        loop {
            let probe = client
                .get(format!("{}/moto-api/data.json", self.endpoint))
                .send()
                .await;
            if probe.is_ok_and(|response| response.status().is_success()) {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!(
                    "the emulator did not answer on {} within {STARTUP_DEADLINE:?}",
                    self.endpoint
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// moto only runs state machine definitions with this switch, which must be set after
    /// every start and before any state machine is created.
    async fn enable_state_machine_execution(&self) -> anyhow::Result<()> {
        let response = reqwest::Client::new()
            .post(format!("{}/moto-api/config", self.endpoint))
            .header("content-type", "application/json")
            .body(r#"{"stepfunctions": {"execute_state_machine": true}}"#)
            .send()
            .await?;
        if !response.status().is_success() {
            bail!(
                "enabling Step Functions execution failed: {}",
                response.status()
            );
        }
        Ok(())
    }

    /// Stops the emulator and waits for it to exit.
    pub async fn stop(mut self) {
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
    }
}

/// Removes every `AWS_*` variable from a command's environment.
trait RemoveAwsVariables {
    fn envs_remove_aws(&mut self) -> &mut Self;
}

impl RemoveAwsVariables for Command {
    fn envs_remove_aws(&mut self) -> &mut Self {
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("AWS_") {
                self.env_remove(name);
            }
        }
        self
    }
}

fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}
