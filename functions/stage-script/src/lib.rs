//! The script stage worker: runs the stage's shell command in a separate process and ends
//! the stage with its outcome.
//!
//! * What runs: `command` (Deck's field: "executable script and parameters"), or an inline
//!   `script`, with `/bin/sh -c`; in `scriptPath`, a directory under `SCRIPT_ROOT` (scripts
//!   shipped with the function, e.g. a Lambda layer), else in a fresh working directory.
//! * Environment: cleared. The script sees `PATH`, `HOME`/`TMPDIR`/`WORKSPACE` (its working
//!   directory), `LANG`, `GENNAKER_EXECUTION_ID`, `GENNAKER_STAGE_ID`,
//!   `GENNAKER_APPLICATION`, and every stage context value whose key is a variable name —
//!   never the worker's variables, so never its AWS credentials (and never a context key
//!   such as `PATH`, `LD_PRELOAD` or `AWS_*`).
//! * Isolation: its own process group, stopped as a whole at the end; the worker process is
//!   made non-dumpable, so the script (same OS user) cannot read the worker's memory or
//!   `/proc/<pid>/environ`; a worker running as root (a container, not Lambda) runs scripts
//!   as `nobody` instead, since root reads everything. The function's IAM role allows
//!   nothing but answering task tokens. The script can still use the network like any
//!   process of the sandbox (in Lambda, also the runtime API on localhost): run untrusted
//!   code in a separate account.
//!   One script per invocation (batch size 1), so scripts of different stages never share a
//!   sandbox at the same time.
//! * Bounds: output beyond `SCRIPT_MAX_OUTPUT_BYTES` (default 1 MiB) stops the script; it may
//!   run until the stage timeout or `SCRIPT_MAX_SECONDS` (default 840, under the function's
//!   15-minute limit), whichever comes first. The last 16 KiB of stdout and stderr become
//!   `context.logs`.
//! * Result: exit code 0 -> SUCCEEDED, else TERMINAL with the log's tail in
//!   `context.exception`. A `propertyFile` (relative to where the script ran; `key=value`,
//!   JSON or YAML) becomes context and output keys, as for Jenkins.
//! * Cancel: the worker heartbeats the task token while the script runs (`POLL_SECONDS`); a
//!   refused heartbeat means the stage machine was stopped, and the script is killed.
//! * Redelivery: a message SQS delivers again (the worker died mid-run) is never run twice:
//!   if its answer is still awaited, the stage ends TERMINAL saying so; a duplicate that
//!   reaches the same worker process while it runs the script is dropped.

mod run;

use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gennaker_env::FunctionEnv;
use gennaker_model::ExecutionStatus;
use gennaker_model::json::{now_millis, str_field};
use gennaker_runtime::step_functions::{StepFunctions, TokenAnswer};
use gennaker_worker::{
    Answer, LoadedStage, Progress, StageInput, StageWorker, Task, WorkerError, properties,
};
use serde_json::{Map, Value, json};

pub use run::KEPT_LOG_BYTES;
use run::{Ending, Job};

pub const DEFAULT_MAX_SECONDS: u64 = 840;
pub const DEFAULT_MAX_OUTPUT_BYTES: usize = 1 << 20;
pub const DEFAULT_HEARTBEAT_SECONDS: u64 = 10;
/// The end of the log put into `context.exception` of a failed script.
const EXCEPTION_TAIL_BYTES: usize = 2048;

#[derive(Debug, Clone, thiserror::Error)]
#[error("{variable}: '{value}' is not a positive number")]
pub struct ConfigError {
    pub variable: String,
    pub value: String,
}

/// Configuration read once at cold start.
#[derive(Debug, Clone)]
pub struct ScriptConfig {
    /// `SCRIPT_MAX_SECONDS`: the longest a script may run (default 840).
    pub max_seconds: u64,
    /// `SCRIPT_MAX_OUTPUT_BYTES`: output beyond this stops the script (default 1 MiB).
    pub max_output_bytes: usize,
    /// `SCRIPT_ROOT`: where `scriptPath` directories are (unset: `scriptPath` is refused).
    pub script_root: Option<PathBuf>,
    /// `POLL_SECONDS`: how often a running script's stage is checked for a cancel (default 10).
    pub heartbeat_seconds: u64,
}

impl ScriptConfig {
    pub fn from_env(env: &FunctionEnv) -> Result<Self, ConfigError> {
        let number = |variable: &str, default: u64| -> Result<u64, ConfigError> {
            match env.optional(variable) {
                None => Ok(default),
                Some(value) => value
                    .trim()
                    .parse::<u64>()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| ConfigError {
                        variable: variable.to_string(),
                        value,
                    }),
            }
        };
        Ok(Self {
            max_seconds: number("SCRIPT_MAX_SECONDS", DEFAULT_MAX_SECONDS)?,
            max_output_bytes: number("SCRIPT_MAX_OUTPUT_BYTES", DEFAULT_MAX_OUTPUT_BYTES as u64)?
                as usize,
            script_root: env.optional("SCRIPT_ROOT").map(PathBuf::from),
            heartbeat_seconds: number("POLL_SECONDS", DEFAULT_HEARTBEAT_SECONDS)?,
        })
    }
}

#[derive(Clone)]
pub struct ScriptWorker {
    progress: Progress,
    config: ScriptConfig,
    run_as: Option<(u32, u32)>,
    /// Task tokens this process has started a script for, so that a message delivered
    /// twice to the same process never runs twice (across processes, the receive count
    /// tells).
    claimed: Arc<Mutex<HashMap<String, Instant>>>,
}

/// How long a claimed token is remembered (longer than any script may run).
const CLAIM_MEMORY: Duration = Duration::from_secs(3600);

/// `nobody`: who scripts run as when the worker runs as root.
const UNPRIVILEGED: (u32, u32) = (65534, 65534);

impl StageWorker for ScriptWorker {
    const NAME: &'static str = "script";

    fn from_env(
        sdk: &aws_config::SdkConfig,
        env: &FunctionEnv,
    ) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(Self::new(sdk, ScriptConfig::from_env(env)?))
    }

    fn progress(&self) -> &Progress {
        &self.progress
    }

    /// Never paused here: without a store the worker cannot tell, and a running script keeps
    /// running through a pause, as in Orca.
    fn paused_backoff_seconds(&self) -> u64 {
        self.config.heartbeat_seconds
    }

    /// Checked after the redelivery checks, in [`ScriptWorker::run_once`].
    async fn on_timeout(
        &self,
        _input: &StageInput,
        _loaded: &LoadedStage,
    ) -> Result<Option<Answer>, WorkerError> {
        Ok(None)
    }

    async fn step(&self, task: &Task, _loaded: LoadedStage) -> Result<Option<Answer>, WorkerError> {
        self.run_once(task).await
    }
}

impl ScriptWorker {
    pub fn new(sdk: &aws_config::SdkConfig, config: ScriptConfig) -> Self {
        keep_memory_from_children();
        // SAFETY: geteuid has no preconditions.
        let root = unsafe { libc::geteuid() } == 0;
        Self {
            // No store: the script worker's role has no access to Gennaker's tables.
            progress: Progress::new(None, StepFunctions::new(aws_sdk_sfn::Client::new(sdk))),
            config,
            // Root could read every process's memory and environment; scripts never run as it.
            run_as: root.then_some(UNPRIVILEGED),
            claimed: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// Runs the script once: a redelivered message never runs it again (see the module
    /// comment); `None` when there is nothing to answer.
    async fn run_once(&self, task: &Task) -> Result<Option<Answer>, WorkerError> {
        if task.receive_count > 1 {
            if !self.progress.still_waiting(&task.token).await? {
                tracing::info!("a redelivered script message whose answer was already given");
                return Ok(None);
            }
            return Ok(Some(Answer::terminal(
                "The script worker stopped while this stage's script ran (its message was delivered again); a script is never run twice.",
                Map::new(),
            )));
        }
        if !self.claim(&task.token) {
            tracing::info!("a script message delivered twice to this worker; it runs once");
            return Ok(None);
        }
        if task.stage.timed_out(now_millis()) {
            return Ok(Some(Answer::timed_out(Map::new())));
        }
        let answer = self.execute(task).await?;
        if answer.is_none() {
            tracing::info!("the stage was canceled; its script was stopped");
        }
        Ok(answer)
    }

    /// `false` when this process already started the script of `token`.
    fn claim(&self, token: &str) -> bool {
        let mut claimed = self.claimed.lock().expect("claims lock");
        claimed.retain(|_, at| at.elapsed() < CLAIM_MEMORY);
        claimed.insert(token.to_string(), Instant::now()).is_none()
    }

    /// Runs the stage's script; `None` when the stage was canceled meanwhile.
    async fn execute(&self, task: &Task) -> Result<Option<Answer>, WorkerError> {
        let input = &task.stage;
        let context = &input.context;
        let Some(command) = ["script", "command"]
            .iter()
            .filter_map(|key| str_field(context, key))
            .find(|text| !text.trim().is_empty())
        else {
            return Ok(Some(Answer::terminal(
                "the script stage needs a command (or an inline script)",
                Map::new(),
            )));
        };
        let directory = match self.script_directory(context) {
            Ok(directory) => directory,
            Err(error) => return Ok(Some(Answer::terminal(error, Map::new()))),
        };
        let stage_left = input
            .remaining_millis(now_millis())
            .map(|millis| Duration::from_millis(millis.max(0) as u64));
        let longest = Duration::from_secs(self.config.max_seconds);
        let stage_deadline_first = stage_left.is_some_and(|left| left < longest);
        let extra = [
            ("GENNAKER_EXECUTION_ID", input.execution_id.clone()),
            ("GENNAKER_STAGE_ID", input.stage_id.clone()),
            ("GENNAKER_APPLICATION", input.application.clone()),
        ];
        let job = Job {
            shell: PathBuf::from("/bin/sh"),
            command: command.to_string(),
            directory,
            variables: run::variables(context, &extra),
            deadline: stage_left.map_or(longest, |left| left.min(longest)),
            max_output_bytes: self.config.max_output_bytes,
            heartbeat_every: Duration::from_secs(self.config.heartbeat_seconds),
            run_as: self.run_as,
        };
        let property_file = str_field(context, "propertyFile")
            .map(str::trim)
            .filter(|file| !file.is_empty());
        let work_dir = WorkDir::create(self.run_as).map_err(|e| {
            WorkerError::BadMessage(format!(
                "creating the script's working directory failed: {e}"
            ))
        })?;
        let step_functions = self.progress.step_functions().clone();
        let token = task.token.clone();
        let alive = move || {
            let step_functions = step_functions.clone();
            let token = token.clone();
            async move {
                // A failed call is not a cancel: only a refused heartbeat is.
                !matches!(
                    step_functions.send_task_heartbeat(&token).await,
                    Ok(TokenAnswer::NoLongerWaiting)
                )
            }
        };
        let outcome = run::run(&job, work_dir.path(), property_file, alive)
            .await
            .map_err(|e| WorkerError::BadMessage(format!("starting the script failed: {e}")))?;
        drop(work_dir);

        let mut context = Map::new();
        context.insert("logs".into(), json!(outcome.log_tail));
        context.insert("outputBytes".into(), json!(outcome.output_bytes));
        let failed = |message: String, mut context: Map<String, Value>| {
            context.insert(
                "exception".into(),
                script_exception(&message, &outcome.log_tail),
            );
            Answer::finished(ExecutionStatus::Terminal, context, Map::new())
        };
        Ok(Some(match outcome.ending {
            Ending::Abandoned => return Ok(None),
            Ending::Exited(0) => {
                context.insert("exitCode".into(), json!(0));
                match (property_file, outcome.property_file) {
                    (Some(file), Some(Ok(text))) => match properties::parse(file, &text) {
                        Ok(values) if !values.is_empty() => {
                            let mut outputs = values.clone();
                            outputs.insert(
                                "propertyFileContents".into(),
                                Value::Object(values.clone()),
                            );
                            context.extend(outputs.clone());
                            Answer::succeeded(context, outputs)
                        }
                        Ok(_) => failed(format!("The property file {file} is empty"), context),
                        Err(error) => failed(error, context),
                    },
                    (_, Some(Err(error))) => failed(error, context),
                    _ => Answer::succeeded(context, Map::new()),
                }
            }
            Ending::Exited(code) => {
                context.insert("exitCode".into(), json!(code));
                failed(format!("The script exited with code {code}"), context)
            }
            Ending::KilledBySignal(signal) => {
                failed(format!("The script was killed by signal {signal}"), context)
            }
            Ending::TimedOut if stage_deadline_first => Answer::timed_out(context),
            Ending::TimedOut => failed(
                format!(
                    "The script ran longer than {} seconds, the longest a script may run; it was stopped",
                    self.config.max_seconds
                ),
                context,
            ),
            Ending::TooMuchOutput => failed(
                format!(
                    "The script wrote more than {} bytes of output; it was stopped",
                    self.config.max_output_bytes
                ),
                context,
            ),
        }))
    }

    /// `scriptPath`: a directory under the configured script root.
    fn script_directory(&self, context: &Map<String, Value>) -> Result<Option<PathBuf>, String> {
        let Some(path) = str_field(context, "scriptPath")
            .map(str::trim)
            .filter(|p| !p.is_empty())
        else {
            return Ok(None);
        };
        let Some(root) = &self.config.script_root else {
            return Err(format!(
                "scriptPath {path} needs scripts shipped with the function (SCRIPT_ROOT is not configured)"
            ));
        };
        let relative = Path::new(path.trim_start_matches('/'));
        if relative
            .components()
            .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir))
        {
            return Err(format!(
                "scriptPath {path} must stay inside the script root"
            ));
        }
        let directory = root.join(relative);
        if !directory.is_dir() {
            return Err(format!(
                "scriptPath {path} is not a directory of the script root"
            ));
        }
        Ok(Some(directory))
    }
}

/// The exception of a failed script: the message, then the end of its log.
fn script_exception(message: &str, log: &str) -> Value {
    let mut start = log.len().saturating_sub(EXCEPTION_TAIL_BYTES);
    while !log.is_char_boundary(start) {
        start += 1;
    }
    let tail = &log[start..];
    let mut exception = gennaker_worker::exception(message);
    exception["details"]["errors"] = json!([message, tail]);
    exception["details"]["logTail"] = json!(tail);
    exception["exceptionType"] = json!("ScriptError");
    exception
}

/// A private working directory, removed when dropped.
struct WorkDir(PathBuf);

impl WorkDir {
    /// Owned by `owner` when the script runs as another user.
    fn create(owner: Option<(u32, u32)>) -> std::io::Result<WorkDir> {
        use std::os::unix::fs::DirBuilderExt;
        let path = std::env::temp_dir().join(format!("gennaker-script-{}", uuid::Uuid::new_v4()));
        std::fs::DirBuilder::new().mode(0o700).create(&path)?;
        let dir = WorkDir(path);
        if let Some((uid, gid)) = owner {
            std::os::unix::fs::chown(&dir.0, Some(uid), Some(gid))?;
        }
        Ok(dir)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Makes this process non-dumpable: processes of the same user (the scripts it runs) can
/// then neither read its memory nor its `/proc/<pid>/environ`, where the credentials are.
fn keep_memory_from_children() {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: prctl(PR_SET_DUMPABLE, 0) changes a flag of this process only.
        let result = unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) };
        if result != 0 {
            tracing::warn!("could not make the script worker non-dumpable");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lambda_events::sqs::SqsEvent;
    use gennaker_runtime::batch::parse_body;
    use gennaker_worker::{WorkerMessage, receive_count};

    /// The sample event in `events/` (used with `cargo lambda invoke`) must stay readable.
    #[test]
    fn sample_event_parses_into_a_task_message() {
        let path = format!(
            "{}/../../events/script-task.json",
            env!("CARGO_MANIFEST_DIR")
        );
        let event: SqsEvent =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let WorkerMessage::Task(task) = parse_body(&event.records[0]).unwrap() else {
            panic!("not a task message");
        };
        assert_eq!(task.stage.stage_type, "script");
        assert!(str_field(&task.stage.context, "command").is_some());
        assert_eq!(receive_count(&event.records[0]), 1);
    }

    #[test]
    fn failed_scripts_show_the_end_of_their_log() {
        let log = format!("{}\nthe last line", "x".repeat(5000));
        let exception = script_exception("The script exited with code 2", &log);
        let tail = exception["details"]["logTail"].as_str().unwrap();
        assert!(tail.ends_with("the last line") && tail.len() <= EXCEPTION_TAIL_BYTES);
        assert_eq!(
            exception["details"]["error"],
            "The script exited with code 2"
        );
    }
}
