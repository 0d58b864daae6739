//! The local-mode host: starts the emulator, deploys `template.yaml` into it, and runs every
//! function in this process — the API on a loopback port, and a poller per SQS event source.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use aws_config::SdkConfig;
use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use gennaker_api::{ApiConfig, AppState};
use gennaker_config_sync::{ConfigSync, ConfigSyncConfig};
use gennaker_env::FunctionEnv;
use gennaker_notifier::{Notifier, NotifierConfig};
use gennaker_orchestrator::{Orchestrator, OrchestratorConfig};
use gennaker_runtime::scheduler::Scheduler;
use gennaker_stage_bake::BakeWorker;
use gennaker_stage_jenkins::JenkinsWorker;
use gennaker_stage_manual_judgment::ManualJudgmentWorker;
use gennaker_stage_preconditions::PreconditionsWorker;
use gennaker_stage_script::ScriptWorker;
use gennaker_stage_server_group::ServerGroupWorker;
use gennaker_stage_webhook::WebhookWorker;
use gennaker_triggers::{JenkinsPoller, JenkinsPollerConfig, PipelineTriggers, TriggersConfig};
use gennaker_worker::StageWorker;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::authorizer::{self, Authorizer, LOCAL_ADMIN_ROLE, LocalIssuer, TokenRequest};
use crate::emulator::{Emulator, EmulatorSettings, project_root};
pub use crate::pollers::Delivery;
use crate::pollers::{self, BatchHandler};
use crate::schedules;
use crate::streams::{self, StreamHandler};
use crate::template::{Deployment, FunctionSpec, Template, deploy};
pub use gennaker_orchestrator::{FaultHook, TransitionHook};

#[derive(Clone)]
pub struct LocalOptions {
    /// API port on 127.0.0.1; 0 picks a free one.
    pub api_port: u16,
    /// Prefix of every resource name in the emulator.
    pub stack_name: String,
    /// How the SQS pollers deliver (duplicates, fast retries) — test knobs.
    pub delivery: Delivery,
    /// Fault injection for tests: when it answers true for an effect, the orchestrator
    /// fails right before performing it, after persisting the new state.
    pub orchestrator_fault: Option<FaultHook>,
    /// Values for template parameters instead of their defaults (e.g. `JenkinsMasters`,
    /// `AllowedUrlPrefixes`), as `sam deploy --parameter-overrides` would pass them.
    pub parameters: BTreeMap<String, String>,
    /// Runs scheduled functions this often instead of at their template `rate(...)` (tests).
    pub schedule_every: Option<Duration>,
    /// Where the emulator keeps Gennaker's tables across restarts (`--data-dir`); `None`
    /// keeps everything in memory (tests). See `local/src/moto_persistence.py`.
    pub data_dir: Option<PathBuf>,
    /// Discards what `data_dir` holds before starting (`--reset`).
    pub reset_data: bool,
    /// Told of every execution change the orchestrator saves (the console's lines, see
    /// `console.rs`); `None` prints nothing.
    pub transitions: Option<TransitionHook>,
    /// How the local play of API Gateway's JWT authorizer treats requests.
    pub auth: LocalAuth,
    /// Plays bake builders' user data and offers base images the emulator has (see
    /// `builders.rs`). On for the `gennaker` command; off by default so tests that play
    /// builders themselves (with failures, too) are not raced.
    pub simulated_bakes: bool,
}

/// Local authentication: the local issuer and whether a token is required.
#[derive(Clone, Debug, Default)]
pub struct LocalAuth {
    /// Refuse requests without a token (`--require-auth`); by default they act as the
    /// local administrator, which keeps the two-command start.
    pub require_token: bool,
    /// Where the local issuer keeps its key (default: `issuer/` in the data folder).
    pub issuer_dir: Option<std::path::PathBuf>,
}

impl LocalAuth {
    pub fn issuer_dir(&self) -> std::path::PathBuf {
        self.issuer_dir
            .clone()
            .unwrap_or_else(LocalIssuer::default_dir)
    }
}

impl Default for LocalOptions {
    fn default() -> Self {
        Self {
            api_port: 8084,
            stack_name: "gennaker".to_string(),
            delivery: Delivery::default(),
            orchestrator_fault: None,
            parameters: BTreeMap::new(),
            schedule_every: None,
            data_dir: None,
            reset_data: false,
            transitions: None,
            auth: LocalAuth::default(),
            simulated_bakes: false,
        }
    }
}

/// Gennaker running locally. [`Running::stop`] shuts everything down, emulator included.
pub struct Running {
    pub api_address: SocketAddr,
    pub deployment: Deployment,
    pub sdk: SdkConfig,
    emulator: Emulator,
    options: LocalOptions,
    functions: Functions,
    issuer: Arc<LocalIssuer>,
}

/// The functions this process hosts: the API server and the SQS pollers.
struct Functions {
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Functions {
    async fn stop(self) {
        let _ = self.shutdown.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

impl Running {
    pub fn api_url(&self) -> String {
        format!("http://{}", self.api_address)
    }

    pub fn emulator_endpoint(&self) -> &str {
        self.emulator.endpoint()
    }

    pub fn emulator_pid(&self) -> Option<u32> {
        self.emulator.pid()
    }

    /// Whether requests without a token are refused.
    pub fn requires_token(&self) -> bool {
        self.options.auth.require_token
    }

    /// The local issuer (tests sign tokens of their own with it).
    pub fn issuer(&self) -> &LocalIssuer {
        &self.issuer
    }

    /// A bearer token from the local issuer for `user` with `roles`, in the claims the
    /// API reads (`UserNameClaim`, `GroupsClaim`).
    pub fn token(&self, user: &str, roles: &[&str]) -> String {
        let roles: Vec<String> = roles.iter().map(|role| role.to_string()).collect();
        let env = self.api_environment();
        self.issuer
            .mint(&TokenRequest {
                user,
                roles: &roles,
                user_claim: claim_name(&env, "AUTH_USER_CLAIM", "email"),
                groups_claim: claim_name(&env, "AUTH_GROUPS_CLAIM", "groups"),
                lifetime: crate::authorizer::DEFAULT_LIFETIME,
            })
            .expect("the local issuer signs")
    }

    fn api_environment(&self) -> BTreeMap<String, String> {
        self.deployment
            .functions
            .values()
            .find(|function| function.has_http_api)
            .map(|function| function.environment.clone())
            .unwrap_or_default()
    }

    /// Stops every hosted function and starts fresh instances (same API port), while the
    /// emulator — queues, tables, running state machines — keeps going: what a restart of
    /// the local host, or a cold start of every Lambda, looks like to an execution.
    pub async fn restart_functions(&mut self) -> anyhow::Result<()> {
        let replacement = Functions {
            shutdown: watch::channel(false).0,
            tasks: vec![],
        };
        std::mem::replace(&mut self.functions, replacement)
            .stop()
            .await;
        let (address, functions) = launch_functions(
            &self.sdk,
            &self.deployment,
            &self.options,
            &self.issuer,
            self.api_address.port(),
        )
        .await?;
        self.api_address = address;
        self.functions = functions;
        Ok(())
    }

    pub async fn stop(self) {
        self.functions.stop().await;
        self.emulator.stop().await;
    }
}

pub async fn start(options: LocalOptions) -> anyhow::Result<Running> {
    let issuer_dir = options.auth.issuer_dir();
    let issuer =
        tokio::task::spawn_blocking(move || LocalIssuer::load_or_create(&issuer_dir)).await??;
    if let (Some(directory), true) = (&options.data_dir, options.reset_data) {
        crate::data_dir::reset(directory)?;
    }
    let emulator = Emulator::start_with(EmulatorSettings {
        data_dir: options.data_dir.clone(),
        ..EmulatorSettings::from_env()
    })
    .await?;
    let sdk = gennaker_runtime::aws::sdk_config(Some(emulator.endpoint())).await;
    let template = Template::load(&project_root().join("template.yaml"))?;
    let mut parameters = with_local_admin_role(&template, &options.parameters);
    if options.simulated_bakes {
        parameters
            .entry("BakeryBaseImages".to_string())
            .or_insert_with(|| crate::builders::LOCAL_BASE_IMAGES.to_string());
    }
    let template = template.with_parameter_values(&parameters)?;
    let deployment = deploy(&template, &sdk, &options.stack_name).await?;
    verify_email_sender(&sdk, &deployment).await?;
    let issuer = Arc::new(issuer);
    let (api_address, functions) =
        launch_functions(&sdk, &deployment, &options, &issuer, options.api_port).await?;
    Ok(Running {
        api_address,
        deployment,
        sdk,
        emulator,
        options,
        functions,
        issuer,
    })
}

/// The parameters with the local administrator's role added to `AdminRoles`, so the
/// token-less local administrator (and tokens minted with that role) may do everything.
fn with_local_admin_role(
    template: &Template,
    parameters: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    let mut parameters = parameters.clone();
    if template.parameter_default("AdminRoles").is_none() {
        return parameters;
    }
    let configured = parameters
        .get("AdminRoles")
        .cloned()
        .or_else(|| template.parameter_default("AdminRoles").map(str::to_string))
        .unwrap_or_default();
    let roles = [configured.trim(), LOCAL_ADMIN_ROLE]
        .into_iter()
        .filter(|roles| !roles.is_empty())
        .collect::<Vec<_>>()
        .join(",");
    parameters.insert("AdminRoles".to_string(), roles);
    parameters
}

fn claim_name<'a>(env: &'a BTreeMap<String, String>, name: &str, default: &'a str) -> &'a str {
    env.get(name)
        .map(|value| value.trim())
        .filter(|value| !value.is_empty())
        .unwrap_or(default)
}

/// Starts the API and a poller per SQS event source of every function in the deployment.
async fn launch_functions(
    sdk: &SdkConfig,
    deployment: &Deployment,
    options: &LocalOptions,
    issuer: &Arc<LocalIssuer>,
    api_port: u16,
) -> anyhow::Result<(SocketAddr, Functions)> {
    let (shutdown, shutdown_signal) = watch::channel(false);
    let mut tasks = Vec::new();
    let mut api_address = None;
    for function in deployment.functions.values() {
        let env = FunctionEnv::from_map(function.environment.clone());
        if function.has_http_api {
            let authorizer = Authorizer {
                issuer: issuer.clone(),
                open_routes: function.open_routes.clone(),
                require_token: options.auth.require_token,
                user_claim: claim_name(&function.environment, "AUTH_USER_CLAIM", "email")
                    .to_string(),
                groups_claim: claim_name(&function.environment, "AUTH_GROUPS_CLAIM", "groups")
                    .to_string(),
            };
            let (address, task) =
                serve_api(sdk, &env, authorizer, api_port, shutdown_signal.clone()).await?;
            api_address = Some(address);
            tasks.push(task);
        }
        if let Some(period) = function.schedule_every {
            let period = options.schedule_every.unwrap_or(period);
            let job = scheduled_job(sdk, function, &env)?;
            // With kept state, executions that were running when local mode stopped have
            // lost their queued messages and state machine runs with the emulator: the
            // reconciler runs their stages (and starts their pipeline machines) again now,
            // not minutes later.
            let at_start =
                options.data_dir.is_some() && function.logical_id == "ReconcilerFunction";
            tasks.push(tokio::spawn(run_on_schedule(
                job,
                period,
                at_start,
                shutdown_signal.clone(),
            )));
        }
        let handler = batch_handler(sdk, function, &env, options)?;
        tasks.extend(spawn_pollers(
            sdk,
            deployment,
            function,
            handler,
            options.delivery,
            &shutdown_signal,
        )?);
        tasks.extend(spawn_stream_pollers(sdk, function, &env, &shutdown_signal)?);
    }
    tasks.extend(spawn_schedule_firer(sdk, deployment, &shutdown_signal));
    if options.simulated_bakes {
        tasks.push(spawn_builder_player(sdk, deployment, &shutdown_signal));
    }
    let api_address =
        api_address.context("template.yaml has no function with an HTTP API event")?;
    Ok((api_address, Functions { shutdown, tasks }))
}

/// The API function behind the local play of API Gateway's JWT authorizer.
async fn serve_api(
    sdk: &SdkConfig,
    env: &FunctionEnv,
    authorizer: Authorizer,
    port: u16,
    mut shutdown: watch::Receiver<bool>,
) -> anyhow::Result<(SocketAddr, JoinHandle<()>)> {
    let router = gennaker_api::router(AppState::new(sdk, ApiConfig::from_env(env)?)).layer(
        axum::middleware::from_fn_with_state(Arc::new(authorizer), authorizer::authorize),
    );
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .with_context(|| format!("binding the API to 127.0.0.1:{port}"))?;
    let address = listener.local_addr()?;
    let task = tokio::spawn(async move {
        let stopped = async move {
            let _ = shutdown.changed().await;
        };
        if let Err(error) = axum::serve(listener, router)
            .with_graceful_shutdown(stopped)
            .await
        {
            tracing::error!(%error, "the API server stopped");
        }
    });
    Ok((address, task))
}

/// The SQS handler of each function the template declares with SQS events.
fn batch_handler(
    sdk: &SdkConfig,
    function: &FunctionSpec,
    env: &FunctionEnv,
    options: &LocalOptions,
) -> anyhow::Result<Option<BatchHandler>> {
    if function.sqs_event_sources.is_empty() {
        return Ok(None);
    }
    let handler = match function.logical_id.as_str() {
        "OrchestratorFunction" => hosted(orchestrator(sdk, env, options)?, |o, event| async move {
            o.handle_batch(event).await
        }),
        "OrchestrationDeadLetterFunction" => {
            hosted(orchestrator(sdk, env, options)?, |o, event| async move {
                o.handle_dead_letters(event).await
            })
        }
        "PipelineTriggersFunction" => hosted(
            PipelineTriggers::new(sdk, TriggersConfig::from_env(env)?),
            |triggers, event| async move { triggers.handle_batch(event).await },
        ),
        "NotifierFunction" => hosted(
            Notifier::new(sdk, NotifierConfig::from_env(env)?),
            |notifier, event| async move { notifier.handle_batch(event).await },
        ),
        other => match STAGE_WORKERS.iter().find(|(id, _)| *id == other) {
            Some((_, host)) => host(sdk, env)?,
            None => bail!("local mode does not know how to host function {other}"),
        },
    };
    Ok(Some(handler))
}

/// The stage workers by their function's logical id in `template.yaml`.
type HostWorker = fn(&SdkConfig, &FunctionEnv) -> anyhow::Result<BatchHandler>;
const STAGE_WORKERS: [(&str, HostWorker); 7] = [
    (
        "ManualJudgmentFunction",
        stage_worker::<ManualJudgmentWorker>,
    ),
    ("WebhookFunction", stage_worker::<WebhookWorker>),
    ("JenkinsFunction", stage_worker::<JenkinsWorker>),
    ("ScriptFunction", stage_worker::<ScriptWorker>),
    ("PreconditionsFunction", stage_worker::<PreconditionsWorker>),
    ("ServerGroupFunction", stage_worker::<ServerGroupWorker>),
    ("BakeFunction", stage_worker::<BakeWorker>),
];

/// A stage worker served the way its Lambda serves it.
fn stage_worker<W: StageWorker>(
    sdk: &SdkConfig,
    env: &FunctionEnv,
) -> anyhow::Result<BatchHandler> {
    let worker = W::from_env(sdk, env).map_err(|error| anyhow::anyhow!(error))?;
    Ok(hosted(Arc::new(worker), |worker, event| async move {
        gennaker_worker::serve(&*worker, event).await
    }))
}

/// `target`'s batch handler, as Lambda's SQS event source mapping would invoke it.
fn hosted<T, F, Fut>(target: T, handle: F) -> BatchHandler
where
    T: Clone + Send + Sync + 'static,
    F: Fn(T, SqsEvent) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = SqsBatchResponse> + Send + 'static,
{
    Arc::new(move |event| Box::pin(handle(target.clone(), event)))
}

/// One run of a scheduled function.
type ScheduledJob =
    Arc<dyn Fn() -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> + Send + Sync>;

/// The job of each function the template declares with a `Schedule` event.
fn scheduled_job(
    sdk: &SdkConfig,
    function: &FunctionSpec,
    env: &FunctionEnv,
) -> anyhow::Result<ScheduledJob> {
    Ok(match function.logical_id.as_str() {
        "ReconcilerFunction" => {
            let orchestrator = Orchestrator::new(sdk, OrchestratorConfig::from_env(env)?);
            let grace_millis = gennaker_orchestrator::rerun_after_millis(env);
            Arc::new(move || {
                let orchestrator = orchestrator.clone();
                Box::pin(async move {
                    if let Err(error) = orchestrator.reconcile(grace_millis).await {
                        tracing::warn!(%error, "a reconciliation pass failed");
                    }
                })
            })
        }
        "JenkinsPollerFunction" => {
            let poller = JenkinsPoller::new(sdk, JenkinsPollerConfig::from_env(env)?);
            Arc::new(move || {
                let poller = poller.clone();
                Box::pin(async move {
                    if let Err(error) = poller.poll().await {
                        tracing::warn!(%error, "a Jenkins trigger poll failed");
                    }
                })
            })
        }
        other => bail!("local mode does not know how to run the scheduled function {other}"),
    })
}

/// EventBridge's part for a `rate(...)` schedule: runs `job` every `period` until shutdown
/// (and once at once when `at_start`).
async fn run_on_schedule(
    job: ScheduledJob,
    period: Duration,
    at_start: bool,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut ticks = tokio::time::interval(period);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticks.tick().await;
    if at_start {
        job().await;
    }
    loop {
        tokio::select! {
            _ = shutdown.changed() => return,
            _ = ticks.tick() => job().await,
        }
    }
}

/// SES sends only from verified identities. In AWS the owner of the address verifies it
/// (`NotificationEmailSender`); locally the host plays that part, once per deployment.
async fn verify_email_sender(sdk: &SdkConfig, deployment: &Deployment) -> anyhow::Result<()> {
    let sender = deployment
        .functions
        .values()
        .find_map(|function| function.environment.get("EMAIL_SENDER"))
        .filter(|sender| !sender.is_empty());
    if let Some(sender) = sender {
        aws_sdk_sesv2::Client::new(sdk)
            .create_email_identity()
            .email_identity(sender)
            .send()
            .await
            .with_context(|| format!("verifying the email sender {sender} in the emulator"))?;
    }
    Ok(())
}

/// The stream handler of each function the template declares with DynamoDB stream events.
fn stream_handler(
    sdk: &SdkConfig,
    function: &FunctionSpec,
    env: &FunctionEnv,
) -> anyhow::Result<StreamHandler> {
    match function.logical_id.as_str() {
        "ConfigSyncFunction" => {
            let sync = ConfigSync::new(sdk, ConfigSyncConfig::from_env(env)?);
            Ok(Arc::new(move |event| {
                let sync = sync.clone();
                Box::pin(async move { sync.handle_stream_batch(event).await })
            }))
        }
        other => bail!("local mode does not know how to host the stream function {other}"),
    }
}

fn spawn_stream_pollers(
    sdk: &SdkConfig,
    function: &FunctionSpec,
    env: &FunctionEnv,
    shutdown: &watch::Receiver<bool>,
) -> anyhow::Result<Vec<JoinHandle<()>>> {
    if function.stream_event_sources.is_empty() {
        return Ok(vec![]);
    }
    let handler = stream_handler(sdk, function, env)?;
    let client = aws_sdk_dynamodbstreams::Client::new(sdk);
    Ok(function
        .stream_event_sources
        .iter()
        .map(|source| {
            tokio::spawn(streams::run(
                client.clone(),
                source.clone(),
                handler.clone(),
                shutdown.clone(),
            ))
        })
        .collect())
}

/// Plays the Scheduler's firing for the deployment's schedule groups (the emulator only
/// stores schedules).
fn spawn_schedule_firer(
    sdk: &SdkConfig,
    deployment: &Deployment,
    shutdown: &watch::Receiver<bool>,
) -> Option<JoinHandle<()>> {
    let client = aws_sdk_scheduler::Client::new(sdk);
    let schedulers: Vec<Scheduler> = deployment
        .resources
        .values()
        .filter(|resource| resource.resource_type == "AWS::Scheduler::ScheduleGroup")
        .map(|group| Scheduler::new(client.clone(), group.ref_value.clone()))
        .collect();
    if schedulers.is_empty() {
        return None;
    }
    let sqs = aws_sdk_sqs::Client::new(sdk);
    Some(tokio::spawn(schedules::run(
        schedulers,
        sqs,
        shutdown.clone(),
    )))
}

/// Plays bake builders in every region of the configured accounts.
fn spawn_builder_player(
    sdk: &SdkConfig,
    deployment: &Deployment,
    shutdown: &watch::Receiver<bool>,
) -> JoinHandle<()> {
    let default_region = sdk
        .region()
        .map(|region| region.to_string())
        .unwrap_or_else(|| "us-east-1".to_string());
    let configured = deployment
        .functions
        .values()
        .find_map(|function| function.environment.get("ACCOUNTS"));
    let entries = gennaker_cloud::accounts::parse_entries(configured.map(String::as_str));
    let mut regions: Vec<String> =
        gennaker_cloud::accounts::Accounts::from_entries(&entries, &default_region)
            .all()
            .iter()
            .flat_map(|account| account.regions.clone())
            .collect();
    regions.push(default_region);
    regions.sort();
    regions.dedup();
    tokio::spawn(crate::builders::run(sdk.clone(), regions, shutdown.clone()))
}

fn orchestrator(
    sdk: &SdkConfig,
    env: &FunctionEnv,
    options: &LocalOptions,
) -> anyhow::Result<Orchestrator> {
    let mut orchestrator = Orchestrator::new(sdk, OrchestratorConfig::from_env(env)?);
    if let Some(hook) = &options.orchestrator_fault {
        orchestrator = orchestrator.with_fault_injection(hook.clone());
    }
    if let Some(hook) = &options.transitions {
        orchestrator = orchestrator.with_transition_hook(hook.clone());
    }
    Ok(orchestrator)
}

fn spawn_pollers(
    sdk: &SdkConfig,
    deployment: &Deployment,
    function: &FunctionSpec,
    handler: Option<BatchHandler>,
    delivery: Delivery,
    shutdown: &watch::Receiver<bool>,
) -> anyhow::Result<Vec<JoinHandle<()>>> {
    let Some(handler) = handler else {
        return Ok(vec![]);
    };
    let sqs = aws_sdk_sqs::Client::new(sdk);
    let arns: BTreeMap<&str, &str> = deployment
        .resources
        .values()
        .filter_map(|resource| {
            Some((
                resource.logical_id.as_str(),
                resource.attributes.get("Arn")?.as_str(),
            ))
        })
        .collect();
    function
        .sqs_event_sources
        .iter()
        .map(|source| {
            let arn = arns
                .get(source.queue_logical_id.as_str())
                .with_context(|| format!("queue {} has no ARN", source.queue_logical_id))?
                .to_string();
            Ok::<_, anyhow::Error>(tokio::spawn(pollers::run(
                sqs.clone(),
                source.clone(),
                arn,
                handler.clone(),
                delivery,
                shutdown.clone(),
            )))
        })
        .collect()
}
