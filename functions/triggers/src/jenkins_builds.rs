//! Jenkins build triggers (Igor's `JenkinsBuildMonitor`): every run looks at each job
//! an enabled `jenkins` trigger of an enabled pipeline watches and starts those pipelines
//! once for every build that completed SUCCESS since the last look. The first look at a
//! job only records where it stands (builds from before the trigger existed start nothing).
//! How far each job was looked at is a watermark moved by conditional writes; every start
//! is keyed by master/job/build, so a crash or a second poller starts nothing twice.

use std::collections::BTreeMap;

use gennaker_env::{FunctionEnv, MissingVariable};
use gennaker_jenkins::{Jenkins, JenkinsError, Masters, MastersConfigError};
use gennaker_model::PipelineConfig;
use gennaker_model::json::str_field;
use gennaker_model::launch::Caller;
use gennaker_model::triggers::{self, ALL_JOBS, JENKINS};
use gennaker_outbound::{RulesConfigError, UrlRules};
use serde_json::{Map, Value, json};

use crate::{PipelineTriggers, TriggerError, TriggersConfig};

#[derive(Debug, thiserror::Error)]
pub enum PollerConfigError {
    #[error("{0}")]
    Missing(#[from] MissingVariable),
    #[error("{0}")]
    Masters(#[from] MastersConfigError),
    #[error("{0}")]
    Rules(#[from] RulesConfigError),
    #[error("{0}")]
    Triggers(#[from] crate::TriggersConfigError),
}

/// The poller's configuration: the triggers function's, plus the Jenkins masters
/// (`JENKINS_MASTERS`) and the URL rules for calling them.
pub struct JenkinsPollerConfig {
    pub triggers: TriggersConfig,
    pub masters: Masters,
    pub rules: UrlRules,
}

impl JenkinsPollerConfig {
    pub fn from_env(env: &FunctionEnv) -> Result<Self, PollerConfigError> {
        Ok(Self {
            triggers: TriggersConfig::from_env(env)?,
            masters: Masters::parse(env.optional("JENKINS_MASTERS").as_deref())?,
            rules: UrlRules::from_env(env)?,
        })
    }
}

#[derive(Clone)]
pub struct JenkinsPoller {
    triggers: PipelineTriggers,
    jenkins: Jenkins,
}

/// The pipelines watching one job, with the triggers that watch it.
type Watchers = Vec<(PipelineConfig, Map<String, Value>)>;

impl JenkinsPoller {
    pub fn new(sdk: &aws_config::SdkConfig, config: JenkinsPollerConfig) -> Self {
        Self {
            triggers: PipelineTriggers::new(sdk, config.triggers),
            jenkins: Jenkins::new(config.masters.with_secrets(sdk), config.rules),
        }
    }

    /// One look at every watched job; returns how many builds started pipelines. A job
    /// that cannot be read is logged and skipped: the others still get their look.
    pub async fn poll(&self) -> Result<usize, TriggerError> {
        let mut fired = 0;
        for ((master, job), watchers) in self.watched_jobs().await? {
            match self.poll_job(&master, &job, &watchers).await {
                Ok(count) => fired += count,
                Err(PollError::Jenkins(error)) => {
                    tracing::warn!(%master, %job, %error, "could not read the job's builds");
                }
                Err(PollError::Trigger(error)) => return Err(error),
            }
        }
        Ok(fired)
    }

    /// Every (master, job) watched by an enabled trigger of an enabled pipeline.
    async fn watched_jobs(&self) -> Result<BTreeMap<(String, String), Watchers>, TriggerError> {
        let configs = self
            .triggers
            .store
            .find_triggered_pipelines(JENKINS, ALL_JOBS)
            .await?;
        let mut watched: BTreeMap<(String, String), Watchers> = BTreeMap::new();
        for config in configs.iter().filter(|config| !config.is_disabled()) {
            for trigger in triggers::jenkins_triggers(config) {
                if let Some((master, job)) = triggers::jenkins_job(trigger) {
                    watched
                        .entry((master.to_string(), job.to_string()))
                        .or_default()
                        .push((config.clone(), trigger.clone()));
                }
            }
        }
        Ok(watched)
    }

    async fn poll_job(
        &self,
        master: &str,
        job: &str,
        watchers: &Watchers,
    ) -> Result<usize, PollError> {
        let store = &self.triggers.store;
        let server = self.jenkins.master(master)?;
        let completed: Vec<Value> = self
            .jenkins
            .builds(server, job)
            .await?
            .into_iter()
            .filter(|build| build["building"] != json!(true))
            .collect();
        let newest = completed.iter().filter_map(build_number).max().unwrap_or(0);
        let Some(seen) = store.build_watermark(master, job).await? else {
            store
                .advance_build_watermark(master, job, None, newest)
                .await?;
            tracing::info!(%master, %job, newest, "first look at the job: its past builds start nothing");
            return Ok(0);
        };
        let mut fresh: Vec<&Value> = completed
            .iter()
            .filter(|build| build_number(build).is_some_and(|number| number > seen))
            .collect();
        fresh.sort_by_key(|build| build_number(build));
        let mut fired = 0;
        for build in fresh
            .iter()
            .filter(|build| build["result"] == json!("SUCCESS"))
        {
            for (config, trigger) in watchers {
                self.start(master, job, config, trigger, build).await?;
                fired += 1;
            }
        }
        if newest > seen {
            // Starts before the move: a crash in between repeats them, and their keys make
            // the repeat start nothing.
            store
                .advance_build_watermark(master, job, Some(seen), newest)
                .await?;
        }
        Ok(fired)
    }

    async fn start(
        &self,
        master: &str,
        job: &str,
        config: &PipelineConfig,
        stored: &Map<String, Value>,
        build: &Value,
    ) -> Result<(), PollError> {
        let number = build_number(build).unwrap_or_default();
        let event_id = format!("jenkins:{master}:{job}:{number}");
        let user = str_field(stored, "runAsUser")
            .filter(|user| !user.is_empty())
            .unwrap_or("anonymous")
            .to_string();
        let mut trigger = stored.clone();
        trigger.insert("type".into(), json!(JENKINS));
        trigger.insert("buildNumber".into(), json!(number));
        trigger.insert("buildInfo".into(), build.clone());
        trigger.insert("eventId".into(), json!(event_id));
        trigger.insert("user".into(), json!(user));
        if let Some(file) = str_field(stored, "propertyFile").filter(|file| !file.is_empty()) {
            trigger.insert(
                "properties".into(),
                Value::Object(self.properties(master, job, number, build, file).await?),
            );
        }
        let caller = Caller {
            user: Some(user),
            origin: None,
        };
        Ok(self
            .triggers
            .launch_once(config, &event_id, trigger, caller)
            .await?)
    }

    /// The build's property file (by file name or relative path among its artifacts), read
    /// as the Jenkins stage reads it.
    async fn properties(
        &self,
        master: &str,
        job: &str,
        number: u64,
        build: &Value,
        file: &str,
    ) -> Result<Map<String, Value>, PollError> {
        let artifacts = build["artifacts"].as_array().cloned().unwrap_or_default();
        let path = artifacts
            .iter()
            .find(|artifact| {
                artifact["fileName"] == json!(file) || artifact["relativePath"] == json!(file)
            })
            .and_then(|artifact| artifact["relativePath"].as_str())
            .unwrap_or(file)
            .to_string();
        let server = self.jenkins.master(master)?;
        let text = self.jenkins.artifact(server, job, number, &path).await?;
        gennaker_worker::properties::parse(file, &text).map_err(|reason| {
            PollError::Jenkins(JenkinsError::Refused(format!("{job} #{number}: {reason}")))
        })
    }
}

enum PollError {
    Jenkins(JenkinsError),
    Trigger(TriggerError),
}

impl From<JenkinsError> for PollError {
    fn from(error: JenkinsError) -> Self {
        PollError::Jenkins(error)
    }
}

impl From<TriggerError> for PollError {
    fn from(error: TriggerError) -> Self {
        PollError::Trigger(error)
    }
}

impl From<gennaker_store::StoreError> for PollError {
    fn from(error: gennaker_store::StoreError) -> Self {
        PollError::Trigger(error.into())
    }
}

fn build_number(build: &Value) -> Option<u64> {
    build["number"].as_u64()
}
