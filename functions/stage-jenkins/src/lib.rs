//! The Jenkins stage worker (Spinnaker's Igor + Orca's `JenkinsStage` tasks).
//!
//! Each poll does one step and answers: trigger the job (recording `queuedBuild`), follow the
//! queue item to its build (recording `buildNumber`), then watch the build until it ends;
//! the result maps to the stage status (SUCCESS -> SUCCEEDED, UNSTABLE -> TERMINAL unless
//! `markUnstableAsSuccessful`, FAILURE -> TERMINAL, ABORTED -> CANCELED), `buildInfo` goes to
//! context and outputs, and a `propertyFile` artifact becomes context and output keys. On a
//! cancel notice it stops the build (or cancels its queue item).

use gennaker_env::{FunctionEnv, MissingVariable};
use gennaker_jenkins::{Jenkins, JenkinsError, Master, Masters, MastersConfigError};
use gennaker_model::ExecutionStatus;
use gennaker_model::json::{bool_field, str_field};
use gennaker_outbound::{RulesConfigError, UrlRules};
use gennaker_runtime::step_functions::StepFunctions;
use gennaker_store::{LoadedStage, Store, Tables};
use gennaker_worker::{
    Answer, CancelNotice, Progress, StageInput, StageWorker, Task, WorkerError, properties,
};
use serde_json::{Map, Value, json};

/// Default seconds between two polls.
pub const DEFAULT_POLL_SECONDS: u64 = 10;
/// Calls that found Jenkins unavailable are retried this often in a row.
const MAX_UNAVAILABLE: u64 = 10;
/// Progress keys (Orca's names) a poll carries and records.
const PROGRESS_KEYS: [&str; 2] = ["queuedBuild", "buildNumber"];

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{0}")]
    Missing(#[from] MissingVariable),
    #[error("{0}")]
    Rules(#[from] RulesConfigError),
    #[error("{0}")]
    Masters(#[from] MastersConfigError),
    #[error("POLL_SECONDS: '{0}' is not a number of seconds")]
    PollSeconds(String),
}

/// Configuration read once at cold start.
#[derive(Debug, Clone)]
pub struct JenkinsConfig {
    pub executions_table: String,
    /// `JENKINS_MASTERS` (see `gennaker_jenkins::Masters`).
    pub masters: Masters,
    /// `ALLOWED_URL_PREFIXES`, `ALLOW_PRIVATE_NETWORKS`; masters are trusted on top.
    pub rules: UrlRules,
    /// `POLL_SECONDS` (default 10).
    pub poll_seconds: u64,
}

impl JenkinsConfig {
    pub fn from_env(env: &FunctionEnv) -> Result<Self, ConfigError> {
        let poll_seconds = match env.optional("POLL_SECONDS") {
            None => DEFAULT_POLL_SECONDS,
            Some(text) => text
                .trim()
                .parse()
                .map_err(|_| ConfigError::PollSeconds(text))?,
        };
        Ok(Self {
            executions_table: env.required("EXECUTIONS_TABLE")?,
            masters: Masters::parse(env.optional("JENKINS_MASTERS").as_deref())?,
            rules: UrlRules::from_env(env)?,
            poll_seconds,
        })
    }
}

#[derive(Clone)]
pub struct JenkinsWorker {
    progress: Progress,
    jenkins: Jenkins,
    poll_seconds: u64,
}

/// One Jenkins stage's settings, read from its context.
struct Settings<'c> {
    master: &'c Master,
    job: String,
    context: &'c Map<String, Value>,
}

impl StageWorker for JenkinsWorker {
    const NAME: &'static str = "jenkins";

    fn from_env(
        sdk: &aws_config::SdkConfig,
        env: &FunctionEnv,
    ) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(Self::new(sdk, JenkinsConfig::from_env(env)?))
    }

    fn progress(&self) -> &Progress {
        &self.progress
    }

    fn paused_backoff_seconds(&self) -> u64 {
        self.poll_seconds
    }

    async fn on_timeout(
        &self,
        input: &StageInput,
        loaded: &LoadedStage,
    ) -> Result<Option<Answer>, WorkerError> {
        Ok(Some(Answer::timed_out(recorded_progress(input, loaded))))
    }

    async fn step(&self, task: &Task, loaded: LoadedStage) -> Result<Option<Answer>, WorkerError> {
        self.poll(&task.stage, loaded).await.map(Some)
    }

    async fn cancel(&self, notice: CancelNotice) -> Result<(), WorkerError> {
        self.handle_cancel(notice).await
    }
}

/// Progress: what this attempt recorded on the stage (a redelivered message finds the build
/// it started), overlaid with the previous answer.
fn recorded_progress(input: &StageInput, loaded: &LoadedStage) -> Map<String, Value> {
    let mut progress: Map<String, Value> = PROGRESS_KEYS
        .iter()
        .filter_map(|key| Some((key.to_string(), loaded.stage.context.get(*key)?.clone())))
        .collect();
    progress.extend(input.previous_context());
    progress
}

impl JenkinsWorker {
    pub fn new(sdk: &aws_config::SdkConfig, config: JenkinsConfig) -> Self {
        let tables = Tables {
            // Only stage items of executions; the role has no access to other tables.
            applications: String::new(),
            pipelines: String::new(),
            executions: config.executions_table,
        };
        let store = Store::new(aws_sdk_dynamodb::Client::new(sdk), tables);
        Self {
            progress: Progress::new(
                Some(store),
                StepFunctions::new(aws_sdk_sfn::Client::new(sdk)),
            ),
            jenkins: Jenkins::new(config.masters.with_secrets(sdk), config.rules),
            poll_seconds: config.poll_seconds,
        }
    }

    async fn poll(&self, input: &StageInput, loaded: LoadedStage) -> Result<Answer, WorkerError> {
        let progress = recorded_progress(input, &loaded);
        let settings = match self.settings(&input.context) {
            Ok(settings) => settings,
            Err(error) => return Ok(Answer::terminal(error, progress)),
        };
        if let Some(number) = number_of(progress.get("buildNumber")) {
            return Ok(self.monitor(&settings, number, progress).await);
        }
        if let Some(id) = number_of(progress.get("queuedBuild")) {
            return self
                .wait_for_start(input, loaded, &settings, id, progress)
                .await;
        }
        self.start(input, loaded, &settings, progress).await
    }

    fn settings<'c>(&'c self, context: &'c Map<String, Value>) -> Result<Settings<'c>, String> {
        let name = str_field(context, "master")
            .map(str::trim)
            .filter(|m| !m.is_empty())
            .ok_or("the Jenkins stage needs a master")?;
        let job = str_field(context, "job")
            .map(str::trim)
            .filter(|j| !j.is_empty())
            .ok_or("the Jenkins stage needs a job")?;
        let master = self.jenkins.master(name).map_err(|e| e.to_string())?;
        Ok(Settings {
            master,
            job: job.to_string(),
            context,
        })
    }

    async fn start(
        &self,
        input: &StageInput,
        loaded: LoadedStage,
        settings: &Settings<'_>,
        mut progress: Map<String, Value>,
    ) -> Result<Answer, WorkerError> {
        let parameters = match settings.context.get("parameters") {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(parameters)) => parameters.clone(),
            Some(_) => {
                return Ok(Answer::terminal(
                    "parameters must be a map of job parameter names to values",
                    progress,
                ));
            }
        };
        let id = match self
            .jenkins
            .trigger(settings.master, &settings.job, &parameters)
            .await
        {
            Ok(id) => id,
            Err(error) => return Ok(self.after_error(error, progress)),
        };
        progress.remove("unavailable");
        // Orca keeps the queue id as text.
        progress.insert("queuedBuild".into(), json!(id.to_string()));
        let recorded = Map::from_iter([("queuedBuild".to_string(), json!(id.to_string()))]);
        if self
            .progress
            .record(input, loaded, &recorded)
            .await?
            .is_none()
        {
            tracing::info!("the stage was canceled while its job was being triggered");
            self.undo_queued(settings, id).await;
            return Ok(Answer::finished(
                ExecutionStatus::Canceled,
                progress,
                Map::new(),
            ));
        }
        Ok(Answer::running(self.poll_seconds, progress))
    }

    async fn wait_for_start(
        &self,
        input: &StageInput,
        loaded: LoadedStage,
        settings: &Settings<'_>,
        id: u64,
        mut progress: Map<String, Value>,
    ) -> Result<Answer, WorkerError> {
        let item = match self.jenkins.queue_item(settings.master, id).await {
            Ok(item) => item,
            Err(JenkinsError::NotFound(_)) => {
                return Ok(Answer::terminal(
                    format!(
                        "Jenkins dropped queue item {id} before a build of {} started",
                        settings.job
                    ),
                    progress,
                ));
            }
            Err(error) => return Ok(self.after_error(error, progress)),
        };
        progress.remove("unavailable");
        if item.cancelled {
            let mut answer = Answer::finished(ExecutionStatus::Canceled, progress, Map::new());
            answer.context.insert(
                "exception".into(),
                gennaker_worker::exception(&format!("queue item {id} was cancelled in Jenkins")),
            );
            return Ok(answer);
        }
        let Some(number) = item.build_number else {
            return Ok(Answer::running(self.poll_seconds, progress));
        };
        progress.insert("buildNumber".into(), json!(number));
        let recorded = Map::from_iter([("buildNumber".to_string(), json!(number))]);
        if self
            .progress
            .record(input, loaded, &recorded)
            .await?
            .is_none()
        {
            tracing::info!("the stage was canceled while its build started");
            self.undo_build(settings, number).await;
            return Ok(Answer::finished(
                ExecutionStatus::Canceled,
                progress,
                Map::new(),
            ));
        }
        if !bool_field(settings.context, "waitForCompletion").unwrap_or(true) {
            // Started is enough.
            return Ok(Answer::succeeded(progress, Map::new()));
        }
        Ok(self.monitor(settings, number, progress).await)
    }

    async fn monitor(
        &self,
        settings: &Settings<'_>,
        number: u64,
        mut progress: Map<String, Value>,
    ) -> Answer {
        let build = match self
            .jenkins
            .build(settings.master, &settings.job, number)
            .await
        {
            Ok(build) => build,
            Err(error) => return self.after_error(error, progress),
        };
        progress.remove("unavailable");
        progress.insert("buildInfo".into(), build.clone());
        let result = build.get("result").and_then(Value::as_str);
        if build.get("building") == Some(&json!(true)) || result.is_none() {
            return Answer::running(self.poll_seconds, progress);
        }
        let result = result.unwrap_or_default();
        let mark_unstable = bool_field(settings.context, "markUnstableAsSuccessful") == Some(true);
        let (status, error) = match result {
            "SUCCESS" => (ExecutionStatus::Succeeded, None),
            "UNSTABLE" if mark_unstable => (ExecutionStatus::Succeeded, None),
            "UNSTABLE" => (
                ExecutionStatus::Terminal,
                Some(format!("Build {} #{number} was UNSTABLE", settings.job)),
            ),
            "ABORTED" => (
                ExecutionStatus::Canceled,
                Some(format!("Build {} #{number} was ABORTED", settings.job)),
            ),
            other => (
                ExecutionStatus::Terminal,
                Some(format!("Build {} #{number} ended {other}", settings.job)),
            ),
        };
        let mut outputs = Map::from_iter([("buildInfo".to_string(), build.clone())]);
        let property_file = str_field(settings.context, "propertyFile")
            .or_else(|| str_field(settings.context, "property"))
            .map(str::trim)
            .filter(|file| !file.is_empty());
        if let Some(file) = property_file {
            match self.properties(settings, number, &build, file).await {
                Ok(values) => {
                    for (key, value) in &values {
                        progress.insert(key.clone(), value.clone());
                        outputs.insert(key.clone(), value.clone());
                    }
                    progress.insert("propertyFileContents".into(), Value::Object(values.clone()));
                    outputs.insert("propertyFileContents".into(), Value::Object(values));
                }
                // A failed build without its property file keeps its own error.
                Err(problem) if status == ExecutionStatus::Succeeded => {
                    return Answer::terminal(problem, progress);
                }
                Err(problem) => tracing::info!(%problem, "no properties from a failed build"),
            }
        }
        let mut answer = Answer::finished(status, progress, outputs);
        if let Some(error) = error {
            answer
                .context
                .insert("exception".into(), gennaker_worker::exception(&error));
        }
        answer
    }

    /// The build's property file as a map; `Err` explains what is missing or wrong.
    async fn properties(
        &self,
        settings: &Settings<'_>,
        number: u64,
        build: &Value,
        file: &str,
    ) -> Result<Map<String, Value>, String> {
        let missing = || {
            format!(
                "Expected properties file {file} but it was either missing, empty or contained invalid syntax"
            )
        };
        let artifacts = build
            .get("artifacts")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let relative_path = artifacts
            .iter()
            .filter_map(|a| {
                let relative = a.get("relativePath").and_then(Value::as_str)?;
                let name = a
                    .get("fileName")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                (relative == file || name == file || relative.ends_with(&format!("/{file}")))
                    .then(|| relative.to_string())
            })
            .next()
            .ok_or_else(missing)?;
        let text = self
            .jenkins
            .artifact(settings.master, &settings.job, number, &relative_path)
            .await
            .map_err(|error| format!("{}: {error}", missing()))?;
        let values =
            properties::parse(file, &text).map_err(|error| format!("{}: {error}", missing()))?;
        if values.is_empty() {
            return Err(missing());
        }
        Ok(values)
    }

    /// RUNNING while Jenkins is unavailable (a bounded number of polls), else TERMINAL.
    fn after_error(&self, error: JenkinsError, mut progress: Map<String, Value>) -> Answer {
        if error.is_retryable() {
            let count = progress
                .get("unavailable")
                .and_then(Value::as_u64)
                .unwrap_or(0)
                + 1;
            if count < MAX_UNAVAILABLE {
                tracing::warn!(%error, count, "Jenkins unavailable; polling again");
                progress.insert("unavailable".into(), json!(count));
                return Answer::running(self.poll_seconds, progress);
            }
            return Answer::terminal(format!("{error} ({count} times in a row)"), progress);
        }
        progress.remove("unavailable");
        Answer::terminal(error.to_string(), progress)
    }

    /// Stops what a canceled stage started: its build, or its queue item.
    pub async fn handle_cancel(&self, notice: CancelNotice) -> Result<(), WorkerError> {
        let Some(context) = self.progress.cancel_to_handle(&notice).await? else {
            return Ok(());
        };
        let Ok(settings) = self.settings(&context) else {
            return self.progress.cancel_handled(&notice).await;
        };
        let outcome = if let Some(number) = number_of(context.get("buildNumber")) {
            self.jenkins
                .stop_build(settings.master, &settings.job, number)
                .await
        } else if let Some(id) = number_of(context.get("queuedBuild")) {
            self.stop_queued(&settings, id).await
        } else {
            Ok(())
        };
        match outcome {
            Err(error) if error.is_retryable() => {
                return Err(WorkerError::BadMessage(format!(
                    "stopping the canceled build failed: {error}"
                )));
            }
            Err(error) => tracing::warn!(%error, "the canceled build could not be stopped"),
            Ok(()) => tracing::info!("stopped the build of a canceled stage"),
        }
        self.progress.cancel_handled(&notice).await
    }

    /// Cancels a queue item, or stops its build if it already left the queue.
    async fn stop_queued(&self, settings: &Settings<'_>, id: u64) -> Result<(), JenkinsError> {
        match self.jenkins.queue_item(settings.master, id).await {
            Ok(item) => match item.build_number {
                Some(number) => {
                    self.jenkins
                        .stop_build(settings.master, &settings.job, number)
                        .await
                }
                None => self.jenkins.cancel_queue_item(settings.master, id).await,
            },
            Err(JenkinsError::NotFound(_)) => Ok(()),
            Err(error) => Err(error),
        }
    }

    async fn undo_queued(&self, settings: &Settings<'_>, id: u64) {
        if let Err(error) = self.stop_queued(settings, id).await {
            tracing::warn!(%error, "could not cancel the queue item of a canceled stage");
        }
    }

    async fn undo_build(&self, settings: &Settings<'_>, number: u64) {
        if let Err(error) = self
            .jenkins
            .stop_build(settings.master, &settings.job, number)
            .await
        {
            tracing::warn!(%error, "could not stop the build of a canceled stage");
        }
    }
}

/// A build number or queue id given as a number or as text.
fn number_of(value: Option<&Value>) -> Option<u64> {
    match value? {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

#[cfg(test)]
mod sample_events {
    use super::*;
    use aws_lambda_events::sqs::SqsEvent;
    use gennaker_runtime::batch::parse_body;
    use gennaker_worker::WorkerMessage;

    /// The sample event in `events/` (used with `cargo lambda invoke`) must stay readable.
    #[test]
    fn sample_event_parses_into_a_task_message() {
        let path = format!(
            "{}/../../events/jenkins-task.json",
            env!("CARGO_MANIFEST_DIR")
        );
        let event: SqsEvent =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let WorkerMessage::Task(task) = parse_body(&event.records[0]).unwrap() else {
            panic!("not a task message");
        };
        assert_eq!(task.stage.stage_type, "jenkins");
        assert_eq!(str_field(&task.stage.context, "master"), Some("ci"));
    }

    #[test]
    fn numbers_come_as_numbers_or_text() {
        assert_eq!(number_of(Some(&json!(12))), Some(12));
        assert_eq!(number_of(Some(&json!("12"))), Some(12));
        assert_eq!(number_of(Some(&json!("x"))), None);
        assert_eq!(number_of(None), None);
    }
}
