//! The HTTP API (Spinnaker's Gate): one axum `Router`, served by `lambda_http` in AWS and by
//! `axum::serve` in local mode. Paths, status codes and JSON shapes follow Gate, so the
//! `spin` CLI, Deck and swagger clients work unchanged.

pub mod access;
mod body;
pub mod error;
pub mod identity;
mod routes;
mod ui;

use axum::Router;
use axum::routing::{get, patch, post, put};
use gennaker_env::{FunctionEnv, MissingVariable};
use gennaker_runtime::queue::OrchestrationQueue;
use gennaker_runtime::step_functions::StepFunctions;
use gennaker_store::{Store, Tables};

/// Configuration read once at cold start.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    pub applications_table: String,
    pub pipelines_table: String,
    pub executions_table: String,
    pub pipeline_state_machine_arn: String,
    pub orchestration_queue_url: String,
    pub execution_retention_days: i64,
    /// `ACCOUNTS`: the accounts `GET /credentials` lists (see `routes::credentials`).
    pub accounts: Option<String>,
    /// `JENKINS_MASTERS`: the build masters of `GET /v2/builds` (see `routes::builds`).
    pub jenkins_masters: Option<String>,
    /// `INFRASTRUCTURE_CACHE_SECONDS`: how long a server-group listing is served from
    /// memory (default 10; 0 reads live every time).
    pub infrastructure_cache_seconds: u64,
    /// `BAKERY_BASE_IMAGES`: the base images of `GET /bakery/options` (see `routes::bakery`).
    pub base_images: gennaker_cloud::bake::BaseImages,
    /// Which verified claims name the user and their roles, and the admin roles.
    pub auth: identity::AuthSettings,
    /// Fiat's switches (unknown applications, restricted creation).
    pub fiat: gennaker_auth::Settings,
    /// Service accounts and who webhook triggers fire as (`SERVICE_ACCOUNTS`).
    pub run_as: gennaker_launch::run_as::RunAs,
    /// `PRECONFIGURED_WEBHOOKS`: the preconfigured webhook stage types.
    pub preconfigured_webhooks: gennaker_model::preconfigured::PreconfiguredWebhooks,
}

#[derive(Debug, thiserror::Error)]
pub enum ApiConfigError {
    #[error("{0}")]
    Missing(#[from] MissingVariable),
    #[error("{0}")]
    BaseImages(#[from] gennaker_cloud::bake::BaseImagesError),
    #[error("{0}")]
    ServiceAccounts(String),
    #[error("{0}")]
    PreconfiguredWebhooks(String),
}

impl ApiConfig {
    pub fn from_env(env: &FunctionEnv) -> Result<Self, ApiConfigError> {
        Ok(Self {
            applications_table: env.required("APPLICATIONS_TABLE")?,
            pipelines_table: env.required("PIPELINES_TABLE")?,
            executions_table: env.required("EXECUTIONS_TABLE")?,
            pipeline_state_machine_arn: env.required("PIPELINE_STATE_MACHINE_ARN")?,
            orchestration_queue_url: env.required("ORCHESTRATION_QUEUE_URL")?,
            execution_retention_days: env.execution_retention_days(),
            accounts: env.optional("ACCOUNTS"),
            jenkins_masters: env.optional("JENKINS_MASTERS"),
            infrastructure_cache_seconds: env
                .optional("INFRASTRUCTURE_CACHE_SECONDS")
                .and_then(|seconds| seconds.trim().parse().ok())
                .unwrap_or(10),
            base_images: gennaker_cloud::bake::BaseImages::parse(
                env.optional("BAKERY_BASE_IMAGES").as_deref(),
            )?,
            auth: identity::AuthSettings::from_env(env),
            fiat: access::settings_from_env(env),
            run_as: gennaker_launch::run_as::RunAs::from_lookup(|name| env.optional(name))
                .map_err(ApiConfigError::ServiceAccounts)?,
            preconfigured_webhooks: gennaker_model::preconfigured::PreconfiguredWebhooks::parse(
                env.optional("PRECONFIGURED_WEBHOOKS").as_deref(),
            )
            .map_err(ApiConfigError::PreconfiguredWebhooks)?,
        })
    }
}

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub(crate) store: Store,
    pub(crate) step_functions: StepFunctions,
    /// Writes executions and starts their pipeline state machine.
    pub(crate) launcher: gennaker_launch::Launcher,
    pub(crate) orchestration_queue: OrchestrationQueue,
    pub(crate) execution_ttl_seconds: i64,
    pub(crate) accounts: std::sync::Arc<Vec<serde_json::Map<String, serde_json::Value>>>,
    pub(crate) jenkins: gennaker_jenkins::Jenkins,
    pub(crate) cloud: gennaker_cloud::Cloud,
    /// Server groups by account, region and application, briefly kept (see the cache).
    pub(crate) server_group_listings:
        std::sync::Arc<gennaker_cloud::cache::ListingCache<Vec<gennaker_cloud::ServerGroup>>>,
    pub(crate) base_images: std::sync::Arc<gennaker_cloud::bake::BaseImages>,
    pub(crate) auth: std::sync::Arc<identity::AuthSettings>,
    pub(crate) fiat: std::sync::Arc<gennaker_auth::Settings>,
    pub(crate) run_as: std::sync::Arc<gennaker_launch::run_as::RunAs>,
}

impl AppState {
    pub fn new(sdk: &aws_config::SdkConfig, config: ApiConfig) -> Self {
        let tables = Tables {
            applications: config.applications_table,
            pipelines: config.pipelines_table,
            executions: config.executions_table,
        };
        let accounts = routes::credentials::parse_accounts(config.accounts.as_deref());
        let cloud = gennaker_cloud::Cloud::new(
            sdk.clone(),
            gennaker_cloud::Accounts::from_entries(&accounts, &default_region(sdk)),
        );
        let store = Store::new(aws_sdk_dynamodb::Client::new(sdk), tables);
        let step_functions = StepFunctions::new(aws_sdk_sfn::Client::new(sdk));
        let execution_ttl_seconds = config.execution_retention_days * 24 * 3600;
        Self {
            launcher: gennaker_launch::Launcher::new(
                store.clone(),
                step_functions.clone(),
                config.pipeline_state_machine_arn,
                execution_ttl_seconds,
            )
            .with_preconfigured_webhooks(config.preconfigured_webhooks),
            store,
            step_functions,
            orchestration_queue: OrchestrationQueue::new(
                aws_sdk_sqs::Client::new(sdk),
                config.orchestration_queue_url,
            ),
            execution_ttl_seconds,
            accounts: std::sync::Arc::new(accounts),
            jenkins: routes::builds::jenkins(sdk, config.jenkins_masters.as_deref()),
            cloud,
            server_group_listings: std::sync::Arc::new(gennaker_cloud::cache::ListingCache::new(
                std::time::Duration::from_secs(config.infrastructure_cache_seconds),
            )),
            base_images: std::sync::Arc::new(config.base_images),
            auth: std::sync::Arc::new(config.auth),
            fiat: std::sync::Arc::new(config.fiat),
            run_as: std::sync::Arc::new(config.run_as),
        }
    }

    /// The region an account without `regions` serves: the one the API runs in.
    pub(crate) fn default_region(&self) -> String {
        default_region(self.cloud.base())
    }
}

fn default_region(sdk: &aws_config::SdkConfig) -> String {
    sdk.region()
        .map(|region| region.to_string())
        .unwrap_or_else(|| gennaker_runtime::aws::LOCAL_REGION.to_string())
}

/// The Gate API plus the web UI under `/ui` (which calls the Gate routes in process).
/// Every request, UI pages included, passes [`identity::establish`] first: identity comes
/// from the verified token claims only.
pub fn router(state: AppState) -> Router {
    let auth = state.auth.clone();
    ui::mount(gate_router(state.clone()), state).layer(axum::middleware::from_fn_with_state(
        auth,
        identity::establish,
    ))
}

fn gate_router(state: AppState) -> Router {
    use routes::{
        applications, executions, lifecycle, pipeline_configs, pipelines, sub_paths, tasks,
    };
    Router::new()
        .route("/version", get(routes::version))
        .route("/health", get(routes::health))
        .merge(gate_routes())
        .route("/applications", get(applications::list))
        .route("/applications/{application}", get(applications::get_one))
        .route("/tasks", post(tasks::create))
        .route(
            "/applications/{application}/tasks",
            post(tasks::create_for_application),
        )
        .route("/tasks/{id}", get(tasks::get_one))
        .route(
            "/applications/{application}/tasks/{id}",
            get(tasks::get_one_for_application),
        )
        .route("/pipelines", post(pipelines::save))
        .route(
            "/applications/{application}/pipelineConfigs",
            get(pipeline_configs::list),
        )
        .route(
            "/applications/{application}/pipelineConfigs/{name}",
            get(pipeline_configs::get_by_name),
        )
        .route(
            "/pipelines/{id}",
            get(executions::get_one).delete(lifecycle::delete_execution),
        )
        .route(
            "/pipelines/{application}/{name_or_id}",
            post(executions::trigger),
        )
        .route(
            "/applications/{application}/pipelines",
            get(routes::execution_reads::list_for_application),
        )
        .route(
            "/pipelines/{id}/stages/{stage_id}",
            patch(executions::patch_stage),
        )
        .route(
            "/pipelines/{id}/cancel",
            put(lifecycle::cancel)
                .post(sub_paths::trigger_cancel)
                .delete(sub_paths::delete_cancel),
        )
        .route(
            "/applications/{application}/pipelines/{id}/cancel",
            put(lifecycle::cancel_for_application),
        )
        .route(
            "/pipelines/{id}/pause",
            put(lifecycle::pause)
                .post(sub_paths::trigger_pause)
                .delete(sub_paths::delete_pause),
        )
        .route(
            "/pipelines/{id}/resume",
            put(lifecycle::resume)
                .post(sub_paths::trigger_resume)
                .delete(sub_paths::delete_resume),
        )
        .route(
            "/pipelines/{id}/stages/{stage_id}/restart",
            put(lifecycle::restart_stage),
        )
        .route("/executions", get(lifecycle::list_executions))
        .route(
            "/capabilities/expressions",
            get(routes::expressions::expression_capabilities),
        )
        .route(
            "/pipelines/{id}/evaluateExpression",
            get(routes::expressions::evaluate_for_execution)
                .post(sub_paths::evaluate_or_trigger)
                .delete(sub_paths::delete_evaluate_expression),
        )
        .route(
            "/pipelines/{id}/{stage_id}/evaluateExpression",
            get(routes::expressions::evaluate_for_stage),
        )
        // Fiat: every matched route's access rules, before its handler (see `access`).
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            access::enforce,
        ))
        .fallback(error::not_found_route)
        .layer(axum::middleware::from_fn(error::fill_error_path))
        .with_state(state)
}

/// The rest of Gate's surface for applications, tasks, configs, executions, webhooks,
/// accounts and the OpenAPI document (kept apart so `router` stays readable).
fn gate_routes() -> Router<AppState> {
    use axum::routing::delete;
    use routes::{
        credentials, execution_reads, gate_tasks, launches, openapi, pipeline_configs, pipelines,
        reorder, strategies, webhooks,
    };
    Router::new()
        .route("/openapi.json", get(openapi::document))
        .route("/auth/user", get(credentials::current_user))
        .route(
            "/auth/user/serviceAccounts",
            get(credentials::service_accounts),
        )
        .route("/credentials", get(credentials::list))
        .route("/credentials/{account}", get(credentials::get_one))
        .route(
            "/credentials/type/{account_type}",
            get(credentials::list_of_type),
        )
        .route(
            "/applications/{application}/history",
            get(gate_tasks::application_history),
        )
        .route(
            "/applications/{application}/tasks",
            get(gate_tasks::list_for_application),
        )
        .route("/tasks/{id}", delete(gate_tasks::delete))
        .route("/tasks/{id}/cancel", put(gate_tasks::cancel))
        .route("/tasks/cancel", put(gate_tasks::cancel_many))
        .route("/pipelines/{id}", put(pipelines::update_pipeline))
        .route(
            "/pipelines/{application}/{name_or_id}",
            delete(pipelines::delete_pipeline),
        )
        .route("/pipelines/bulksave", post(pipelines::bulk_save))
        .route("/pipelines/start", post(launches::start_ad_hoc))
        .route(
            "/pipelines/v2/{application}/{name_or_id}",
            post(launches::trigger_via_echo),
        )
        .route("/pipelineConfigs", get(pipeline_configs::list_all))
        .route(
            "/pipelineConfigs/{id}/history",
            get(pipeline_configs::pipeline_history),
        )
        .route(
            "/pipelineConfigs/{id}/compatibility",
            get(pipeline_configs::compatibility),
        )
        .route("/pipelines/import", post(routes::import::import_pipelines))
        .route(
            "/actions/pipelines/reorder",
            post(reorder::reorder_pipelines),
        )
        .route(
            "/actions/strategies/reorder",
            post(reorder::reorder_strategies),
        )
        .route("/strategies", post(strategies::save_strategy))
        .route("/strategies/{id}", put(strategies::update_strategy))
        .route(
            "/strategies/{application}/{name}",
            delete(strategies::delete_strategy),
        )
        .route(
            "/applications/{application}/strategyConfigs",
            get(strategies::list_strategies),
        )
        .route(
            "/applications/{application}/strategyConfigs/{name}",
            get(strategies::get_strategy),
        )
        .route(
            "/strategyConfigs/{id}/history",
            get(strategies::strategy_history),
        )
        .route(
            "/applications/{application}/executions/search",
            get(execution_reads::search),
        )
        .route(
            "/notifications/application/{application}",
            get(routes::notifications::get_for_application)
                .post(routes::notifications::save_for_application),
        )
        .route("/cron/validate", get(routes::cron::validate))
        .route("/webhooks/preconfigured", get(webhooks::preconfigured))
        .route("/webhooks/{type}/{source}", post(webhooks::receive))
        .merge(infrastructure_routes())
        .merge(network_routes())
        .route("/bakery/options", get(routes::bakery::all_options))
        .route(
            "/bakery/options/{cloud_provider}",
            get(routes::bakery::provider_options),
        )
        .route(
            "/bakery/options/{cloud_provider}/baseImages/{image_id}",
            get(routes::bakery::base_image),
        )
        .route("/v2/builds", get(routes::builds::masters))
        .route("/v2/builds/{master}/jobs", get(routes::builds::jobs))
        .route(
            "/v2/builds/{master}/builds/{*job}",
            get(routes::builds::builds),
        )
        .route(
            "/v2/builds/{master}/build/{number}/{*job}",
            get(routes::builds::build),
        )
}

/// Security groups and load balancers (Gate's Clouddriver pass-through).
fn network_routes() -> Router<AppState> {
    use routes::network;
    Router::new()
        .route("/securityGroups", get(network::security_groups))
        .route(
            "/securityGroups/{account}",
            get(network::account_security_groups),
        )
        .route(
            "/securityGroups/{account}/{region}/{name}",
            get(network::security_group),
        )
        .route(
            "/applications/{application}/loadBalancers",
            get(network::application_load_balancers),
        )
        .route("/loadBalancers", get(network::load_balancers))
        .route("/loadBalancers/{name}", get(network::load_balancer_by_name))
        .route(
            "/loadBalancers/{account}/{region}/{name}",
            get(network::load_balancer_details),
        )
}

/// Clusters, server groups, instances and images (Gate's Clouddriver pass-through).
fn infrastructure_routes() -> Router<AppState> {
    use routes::infrastructure as infra;
    Router::new()
        .route(
            "/applications/{application}/clusters",
            get(infra::cluster_names),
        )
        .route(
            "/applications/{application}/clusters/{account}",
            get(infra::clusters_in_account),
        )
        .route(
            "/applications/{application}/clusters/{account}/{cluster}",
            get(infra::cluster),
        )
        .route(
            "/applications/{application}/clusters/{account}/{cluster}/serverGroups",
            get(infra::cluster_server_groups),
        )
        .route(
            "/applications/{application}/clusters/{account}/{cluster}/serverGroups/{server_group}",
            get(infra::cluster_server_group),
        )
        .route(
            "/applications/{application}/clusters/{account}/{cluster}/{cloud_provider}/{region}/serverGroups/target/{target}",
            get(infra::target_server_group),
        )
        .route(
            "/applications/{application}/serverGroups",
            get(infra::application_server_groups),
        )
        .route(
            "/applications/{application}/serverGroups/{account}/{region}/{server_group}",
            get(infra::server_group),
        )
        .route("/serverGroups", get(infra::server_groups))
        .route("/instances/{account}/{region}/{id}", get(infra::instance))
        .route("/images/find", get(infra::find_images))
}
