//! The local AWS emulator (moto server): installed into a project-local virtualenv on first
//! use, started as a child process bound to 127.0.0.1, stopped with its owner.
//!
//! moto runs through `local/src/moto_server.py`, which applies the fixes of
//! `local/src/moto_fixes/` (speed and bounded memory, written for exactly the pinned moto
//! release) unless `GENNAKER_MOTO_FIXES=0` asks for stock moto.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use tokio::process::{Child, ChildStderr, Command};

/// The moto release Gennaker is tested against (pinned also in `scripts/test`);
/// `local/src/moto_fixes` refuses to patch any other.
const MOTO_REQUIREMENT: &str = "moto[server]==5.2.5";
const STARTUP_DEADLINE: Duration = Duration::from_secs(60);
/// The last lines of the emulator's error output kept to explain a failed start.
const STDERR_LINES_KEPT: usize = 20;

/// A running emulator; dropping it kills the process.
pub struct Emulator {
    child: Child,
    endpoint: String,
    stderr_tail: Arc<Mutex<VecDeque<String>>>,
}

/// How the emulator is started.
#[derive(Debug, Clone)]
pub struct EmulatorSettings {
    /// moto with `local/src/moto_fixes` applied (the default), or stock moto.
    pub moto_fixes: bool,
    /// How long finished Step Functions executions and similar state are kept (the
    /// emulator's default, an hour, when `None`).
    pub retention: Option<Duration>,
    /// Where the emulator keeps its DynamoDB state across restarts (see
    /// `local/src/moto_persistence.py`); in memory only when `None`.
    pub data_dir: Option<PathBuf>,
}

impl EmulatorSettings {
    /// The settings the environment asks for: `GENNAKER_MOTO_FIXES=0` for stock moto,
    /// `GENNAKER_EMULATOR_RETENTION_SECONDS` for the retention.
    pub fn from_env() -> Self {
        Self {
            moto_fixes: std::env::var("GENNAKER_MOTO_FIXES").map_or(true, |value| value != "0"),
            retention: std::env::var("GENNAKER_EMULATOR_RETENTION_SECONDS")
                .ok()
                .and_then(|seconds| seconds.parse().ok())
                .map(Duration::from_secs),
            data_dir: None,
        }
    }
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
    /// execution switched on, as the environment asks ([`EmulatorSettings::from_env`]).
    pub async fn start() -> anyhow::Result<Self> {
        Self::start_with(EmulatorSettings::from_env()).await
    }

    /// Installs (if needed) and starts moto with `settings`.
    pub async fn start_with(settings: EmulatorSettings) -> anyhow::Result<Self> {
        let venv = tokio::task::spawn_blocking(ensure_installed).await??;
        let port = free_port()?;
        let endpoint = format!("http://127.0.0.1:{port}");
        // moto's own server entry point, with Gennaker's fixes applied first (see
        // moto_server.py); run from the source tree so it finds moto_fixes/ beside it.
        let mut command = Command::new(venv.join("bin/python"));
        command
            .arg(project_root().join("local/src/moto_server.py"))
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            // Step Functions' service integrations call back into moto on this port.
            .env("MOTO_PORT", port.to_string())
            .env(
                "GENNAKER_MOTO_FIXES",
                if settings.moto_fixes { "1" } else { "0" },
            )
            // The emulator needs no credentials; it never gets the caller's.
            .envs_remove_aws()
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        match settings.retention {
            Some(retention) => command.env(
                "GENNAKER_EMULATOR_RETENTION_SECONDS",
                retention.as_secs_f64().to_string(),
            ),
            None => command.env_remove("GENNAKER_EMULATOR_RETENTION_SECONDS"),
        };
        match &settings.data_dir {
            Some(directory) => command.env("GENNAKER_DATA_DIR", directory),
            None => command.env_remove("GENNAKER_DATA_DIR"),
        };
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
        let mut child = command.spawn().context("starting moto_server")?;
        let stderr_tail = Arc::new(Mutex::new(VecDeque::new()));
        if let Some(stderr) = child.stderr.take() {
            keep_tail(stderr, stderr_tail.clone())?;
        }
        let mut emulator = Self {
            child,
            endpoint,
            stderr_tail,
        };
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

    async fn wait_until_ready(&mut self) -> anyhow::Result<()> {
        let deadline = Instant::now() + STARTUP_DEADLINE;
        let client = reqwest::Client::new();
        loop {
            if let Some(status) = self.child.try_wait()? {
                // Let the reader take the last lines (e.g. the fixes refusing another moto).
                tokio::time::sleep(Duration::from_millis(100)).await;
                bail!(
                    "the emulator exited with {status} while starting:\n{}",
                    self.stderr_tail()
                );
            }
            let probe = client
                .get(format!("{}/moto-api/data.json", self.endpoint))
                .send()
                .await;
            if probe.is_ok_and(|response| response.status().is_success()) {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!(
                    "the emulator did not answer on {} within {STARTUP_DEADLINE:?}:\n{}",
                    self.endpoint,
                    self.stderr_tail()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn stderr_tail(&self) -> String {
        let lines = self.stderr_tail.lock().unwrap_or_else(|e| e.into_inner());
        lines.iter().cloned().collect::<Vec<_>>().join("\n")
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

/// Reads the emulator's error output to its end on a thread of its own (so the emulator
/// never blocks on a full pipe), keeping the last lines.
fn keep_tail(stderr: ChildStderr, tail: Arc<Mutex<VecDeque<String>>>) -> anyhow::Result<()> {
    use std::io::BufRead;
    use std::os::fd::AsRawFd;
    let stderr = stderr.into_owned_fd()?;
    // tokio made the pipe non-blocking for its reactor; this thread reads it blocking.
    // SAFETY: fcntl on a descriptor this function owns.
    unsafe {
        let flags = libc::fcntl(stderr.as_raw_fd(), libc::F_GETFL);
        if flags >= 0 {
            libc::fcntl(stderr.as_raw_fd(), libc::F_SETFL, flags & !libc::O_NONBLOCK);
        }
    }
    let stderr = std::fs::File::from(stderr);
    std::thread::Builder::new()
        .name("emulator-stderr".to_string())
        .spawn(move || {
            for line in std::io::BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                let mut tail = tail.lock().unwrap_or_else(|e| e.into_inner());
                if tail.len() == STDERR_LINES_KEPT {
                    tail.pop_front();
                }
                tail.push_back(line);
            }
        })?;
    Ok(())
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
