//! `GET /openapi.json`: the OpenAPI 3 document of the API, generated from the table below,
//! which lists every route the router serves with its parameters, body and answers. A
//! test compares the table with the router's routes, so a route cannot go undocumented.
//!
//! The handlers read their bodies as raw JSON (so that a bad body gets a 400 naming the
//! field); the schemas here describe what clients send and receive, with
//! `additionalProperties` allowed wherever Spinnaker documents are open-ended.

use std::sync::OnceLock;

use axum::Json;
use serde_json::{Map, Value, json};

/// One query parameter.
struct Param {
    name: &'static str,
    schema: fn() -> Value,
    description: &'static str,
}

const fn q(name: &'static str, schema: fn() -> Value, description: &'static str) -> Param {
    Param {
        name,
        schema,
        description,
    }
}

/// The request body an operation takes.
#[derive(Clone, Copy)]
enum Body {
    None,
    /// An optional JSON object.
    OptionalObject(&'static str),
    /// A required body with this schema reference.
    Required(&'static str),
}

/// One successful answer.
#[derive(Clone, Copy)]
enum Answer {
    /// This status with an empty body.
    Empty(u16),
    /// This status with a JSON body of this schema.
    Json(u16, &'static str),
}

/// One route and method.
struct Operation {
    method: &'static str,
    path: &'static str,
    id: &'static str,
    tag: &'static str,
    summary: &'static str,
    query: &'static [Param],
    body: Body,
    answer: Answer,
}

#[allow(clippy::too_many_arguments)]
const fn op(
    method: &'static str,
    path: &'static str,
    id: &'static str,
    tag: &'static str,
    summary: &'static str,
    query: &'static [Param],
    body: Body,
    answer: Answer,
) -> Operation {
    Operation {
        method,
        path,
        id,
        tag,
        summary,
        query,
        body,
        answer,
    }
}

fn string() -> Value {
    json!({"type": "string"})
}
fn boolean() -> Value {
    json!({"type": "boolean"})
}
fn limit() -> Value {
    json!({"type": "integer", "minimum": 1, "maximum": 1000})
}
fn task_limit() -> Value {
    json!({"type": "integer", "minimum": 1, "maximum": 3500})
}
fn page() -> Value {
    json!({"type": "integer", "minimum": 1, "maximum": 10000})
}
fn start_index() -> Value {
    json!({"type": "integer", "minimum": 0, "maximum": 100000})
}
fn millis() -> Value {
    json!({"type": "integer", "minimum": 0, "format": "int64"})
}
fn statuses() -> Value {
    json!({"type": "string", "description": "Comma-separated execution statuses",
           "pattern": "^(NOT_STARTED|RUNNING|PAUSED|SUSPENDED|SUCCEEDED|FAILED_CONTINUE|TERMINAL|CANCELED|REDIRECT|STOPPED|SKIPPED|BUFFERED)(,(NOT_STARTED|RUNNING|PAUSED|SUSPENDED|SUCCEEDED|FAILED_CONTINUE|TERMINAL|CANCELED|REDIRECT|STOPPED|SKIPPED|BUFFERED))*$"})
}

const HISTORY: &[Param] = &[q(
    "limit",
    limit,
    "At most this many revisions (default 20)",
)];
const STALE_CHECK: &[Param] = &[q(
    "staleCheck",
    boolean,
    "Refuse the save when the stored config changed since the submitted `updateTs`",
)];
const LIST_EXECUTIONS: &[Param] = &[
    q(
        "limit",
        limit,
        "Executions per pipeline config (default 10)",
    ),
    q("statuses", statuses, "Only these statuses"),
    q(
        "expand",
        boolean,
        "false trims stage contexts, outputs and tasks (Deck's list view)",
    ),
];
const EXECUTIONS_BY_IDS: &[Param] = &[
    q("pipelineConfigIds", string, "Comma-separated config ids"),
    q("executionIds", string, "Comma-separated execution ids"),
    q("limit", limit, "Executions per config (default 1)"),
    q("statuses", statuses, "Only these statuses"),
    q("expand", boolean, "false trims stage details"),
];
const SEARCH: &[Param] = &[
    q("triggerTypes", string, "Comma-separated trigger types"),
    q(
        "pipelineName",
        string,
        "Only executions of the config with this name",
    ),
    q(
        "eventId",
        string,
        "Only executions whose trigger has this eventId",
    ),
    q(
        "trigger",
        string,
        "Base64 of a JSON object the trigger must match (strings case-insensitively or as `.*` patterns)",
    ),
    q(
        "triggerTimeStartBoundary",
        millis,
        "Built at or after (epoch ms)",
    ),
    q(
        "triggerTimeEndBoundary",
        millis,
        "Built at or before (epoch ms)",
    ),
    q("statuses", statuses, "Only these statuses"),
    q("startIndex", start_index, "Matches to skip (default 0)"),
    q("size", limit, "Page size (default 10)"),
    q("reverse", boolean, "Oldest first"),
    q("expand", boolean, "Whole stages (default false)"),
];
const TASKS: &[Param] = &[
    q("page", page, "Page, counting from 1"),
    q("limit", task_limit, "Tasks per page (default 3500)"),
    q("statuses", statuses, "Only these statuses"),
];
const CANCEL: &[Param] = &[
    q("reason", string, "Why (recorded on the execution)"),
    q("force", boolean, "Accepted for Gate compatibility"),
];
const EXPAND: &[Param] = &[q("expand", boolean, "Include every configured field")];
const APP_EXPAND: &[Param] = &[q("expand", boolean, "Include clusters (none yet)")];
const APP_FILTERS: &[Param] = &[
    q("account", string, "Accepted for Gate compatibility"),
    q("owner", string, "Accepted for Gate compatibility"),
];
const CONFIG_FILTER: &[Param] = &[q(
    "pipelineNameFilter",
    string,
    "Accepted for Gate compatibility",
)];
const BULK: &[Param] = &[q(
    "application",
    string,
    "Application of configs that name none",
)];
const TASK_IDS: &[Param] = &[q("ids", string, "Comma-separated task ids")];
const SERVICE_ACCOUNTS: &[Param] = &[q("application", string, "Accepted for Gate compatibility")];
const NONE: &[Param] = &[];
const TARGET: &[Param] = &[q(
    "onlyEnabled",
    boolean,
    "Consider enabled server groups only",
)];
const CLUSTERS: &[Param] = &[q("clusters", string, "Comma-separated cluster names")];
const APPLICATIONS: &[Param] = &[q(
    "applications",
    string,
    "Comma-separated application names (at least one)",
)];
const IMAGES: &[Param] = &[
    q(
        "q",
        string,
        "Image name: `*` wildcards, else a substring (3+ characters)",
    ),
    q("account", string, "Only this account"),
    q("region", string, "Only this region"),
];
const SECURITY_GROUPS: &[Param] = &[
    q("id", string, "Only the security group with this id"),
    q("region", string, "Only this region"),
];
const VPC: &[Param] = &[q("vpcId", string, "The VPC holding the security group")];
const CRON: &[Param] = &[q(
    "expression",
    string,
    "A Quartz cron expression (6 or 7 fields), e.g. 0 0 10 ? * MON-FRI",
)];
const EXPRESSION: &[Param] = &[q(
    "expression",
    string,
    "The expression, e.g. ${trigger.parameters.env}",
)];

use Answer::{Empty, Json as J};
use Body::{None as NoBody, OptionalObject, Required};

/// Every route of the router, by method.
static OPERATIONS: &[Operation] = &[
    op(
        "get",
        "/capabilities/expressions",
        "getExpressionCapabilitiesUsingGET",
        "expressions",
        "Functions and evaluators of the pipeline expression language",
        NONE,
        NoBody,
        J(200, "AnyObject"),
    ),
    op(
        "get",
        "/pipelines/{id}/evaluateExpression",
        "evaluateExpressionForExecutionUsingGET",
        "expressions",
        "Evaluate an expression against an execution",
        EXPRESSION,
        NoBody,
        J(200, "AnyObject"),
    ),
    op(
        "post",
        "/pipelines/{id}/evaluateExpression",
        "evaluateExpressionForExecutionUsingPOST",
        "expressions",
        "Evaluate an expression (plain text or {\"expression\"}) against an execution",
        NONE,
        Body::Required("AnyObject"),
        J(200, "AnyObject"),
    ),
    op(
        "get",
        "/pipelines/{id}/{stage_id}/evaluateExpression",
        "evaluateExpressionForStageUsingGET",
        "expressions",
        "Evaluate an expression against an execution as seen by one stage",
        EXPRESSION,
        NoBody,
        J(200, "AnyObject"),
    ),
    op(
        "get",
        "/version",
        "getVersionUsingGET",
        "misc",
        "The version (spin calls it first)",
        NONE,
        NoBody,
        J(200, "Version"),
    ),
    op(
        "get",
        "/openapi.json",
        "getOpenApiDocument",
        "misc",
        "This document",
        NONE,
        NoBody,
        J(200, "AnyObject"),
    ),
    op(
        "get",
        "/auth/user",
        "userUsingGET",
        "auth",
        "The caller, from the identity headers",
        NONE,
        NoBody,
        J(200, "User"),
    ),
    op(
        "get",
        "/auth/user/serviceAccounts",
        "getServiceAccountsUsingGET",
        "auth",
        "Service accounts the caller may run as",
        SERVICE_ACCOUNTS,
        NoBody,
        J(200, "StringList"),
    ),
    op(
        "get",
        "/credentials",
        "getAccountsUsingGET",
        "credentials",
        "Configured accounts",
        EXPAND,
        NoBody,
        J(200, "AccountList"),
    ),
    op(
        "get",
        "/credentials/{account}",
        "getAccountUsingGET",
        "credentials",
        "One account, expanded",
        NONE,
        NoBody,
        J(200, "Account"),
    ),
    op(
        "get",
        "/credentials/type/{account_type}",
        "getAccountsByTypeUsingGET",
        "credentials",
        "Accounts of one type",
        NONE,
        NoBody,
        J(200, "AccountList"),
    ),
    op(
        "get",
        "/applications",
        "getAllApplicationsUsingGET",
        "applications",
        "All applications",
        APP_FILTERS,
        NoBody,
        J(200, "ApplicationList"),
    ),
    op(
        "get",
        "/applications/{application}",
        "getApplicationUsingGET",
        "applications",
        "One application (404 when unknown)",
        APP_EXPAND,
        NoBody,
        J(200, "ApplicationDetails"),
    ),
    op(
        "get",
        "/applications/{application}/history",
        "getApplicationHistoryUsingGET",
        "applications",
        "Saved revisions of an application, newest first",
        HISTORY,
        NoBody,
        J(200, "ApplicationList"),
    ),
    op(
        "post",
        "/tasks",
        "taskUsingPOST1",
        "tasks",
        "Run an orchestration task (create/update/delete an application)",
        NONE,
        Required("TaskRequest"),
        J(200, "Ref"),
    ),
    op(
        "post",
        "/applications/{application}/tasks",
        "taskUsingPOST",
        "tasks",
        "Run a task for this application",
        NONE,
        Required("TaskRequest"),
        J(200, "Ref"),
    ),
    op(
        "get",
        "/applications/{application}/tasks",
        "getTasksUsingGET",
        "tasks",
        "An application's tasks, newest first",
        TASKS,
        NoBody,
        J(200, "TaskList"),
    ),
    op(
        "get",
        "/tasks/{id}",
        "getTaskUsingGET1",
        "tasks",
        "One task (orchestration view)",
        NONE,
        NoBody,
        J(200, "Task"),
    ),
    op(
        "delete",
        "/tasks/{id}",
        "deleteTaskUsingDELETE",
        "tasks",
        "Delete a finished task",
        NONE,
        NoBody,
        Empty(200),
    ),
    op(
        "get",
        "/applications/{application}/tasks/{id}",
        "getTaskUsingGET",
        "tasks",
        "One task of an application",
        NONE,
        NoBody,
        J(200, "Task"),
    ),
    op(
        "put",
        "/tasks/{id}/cancel",
        "cancelTaskUsingPUT1",
        "tasks",
        "Cancel a task",
        NONE,
        NoBody,
        Empty(200),
    ),
    op(
        "put",
        "/tasks/cancel",
        "cancelTasksUsingPUT",
        "tasks",
        "Cancel several tasks",
        TASK_IDS,
        NoBody,
        Empty(200),
    ),
    op(
        "post",
        "/pipelines",
        "savePipelineUsingPOST",
        "pipeline configs",
        "Save (create or update) a pipeline config; 200 with an empty body",
        STALE_CHECK,
        Required("PipelineConfig"),
        Empty(200),
    ),
    op(
        "put",
        "/pipelines/{id}",
        "updatePipelineUsingPUT",
        "pipeline configs",
        "Replace the pipeline config with this id; answers the stored config",
        STALE_CHECK,
        Required("PipelineConfig"),
        J(200, "PipelineConfig"),
    ),
    op(
        "post",
        "/pipelines/bulksave",
        "bulksavePipelineUsingPOST",
        "pipeline configs",
        "Save many pipeline configs",
        BULK,
        Required("PipelineConfigList"),
        J(200, "BulkSaveResult"),
    ),
    op(
        "get",
        "/applications/{application}/pipelineConfigs",
        "getPipelineConfigsForApplicationUsingGET",
        "pipeline configs",
        "An application's pipeline configs by index",
        CONFIG_FILTER,
        NoBody,
        J(200, "PipelineConfigList"),
    ),
    op(
        "get",
        "/applications/{application}/pipelineConfigs/{name}",
        "getPipelineConfigUsingGET",
        "pipeline configs",
        "The config with exactly this name (404 otherwise)",
        NONE,
        NoBody,
        J(200, "PipelineConfig"),
    ),
    op(
        "delete",
        "/pipelines/{application}/{name_or_id}",
        "deletePipelineUsingDELETE",
        "pipeline configs",
        "Delete a pipeline config by name (no-op when unknown)",
        NONE,
        NoBody,
        Empty(200),
    ),
    op(
        "get",
        "/pipelineConfigs",
        "getAllPipelineConfigsUsingGET",
        "pipeline configs",
        "Every pipeline config of every application",
        NONE,
        NoBody,
        J(200, "PipelineConfigList"),
    ),
    op(
        "get",
        "/pipelineConfigs/{id}/history",
        "getPipelineConfigHistoryUsingGET",
        "pipeline configs",
        "Saved revisions of a pipeline config, newest first",
        HISTORY,
        NoBody,
        J(200, "PipelineConfigList"),
    ),
    op(
        "post",
        "/actions/pipelines/reorder",
        "reorderPipelinesUsingPOST",
        "pipeline configs",
        "Set the index of an application's pipeline configs",
        NONE,
        Required("Reorder"),
        Empty(200),
    ),
    op(
        "post",
        "/actions/strategies/reorder",
        "reorderStrategiesUsingPOST",
        "strategy configs",
        "Set the index of an application's strategy configs",
        NONE,
        Required("Reorder"),
        Empty(200),
    ),
    op(
        "post",
        "/strategies",
        "saveStrategyUsingPOST",
        "strategy configs",
        "Save (create or update) a strategy config",
        NONE,
        Required("PipelineConfig"),
        Empty(200),
    ),
    op(
        "put",
        "/strategies/{id}",
        "updateStrategyUsingPUT",
        "strategy configs",
        "Replace the strategy config with this id",
        NONE,
        Required("PipelineConfig"),
        J(200, "PipelineConfig"),
    ),
    op(
        "delete",
        "/strategies/{application}/{name}",
        "deleteStrategyUsingDELETE",
        "strategy configs",
        "Delete a strategy config by name",
        NONE,
        NoBody,
        Empty(200),
    ),
    op(
        "get",
        "/applications/{application}/strategyConfigs",
        "getStrategyConfigsForApplicationUsingGET",
        "strategy configs",
        "An application's strategy configs",
        NONE,
        NoBody,
        J(200, "PipelineConfigList"),
    ),
    op(
        "get",
        "/applications/{application}/strategyConfigs/{name}",
        "getStrategyConfigUsingGET",
        "strategy configs",
        "The strategy with exactly this name",
        NONE,
        NoBody,
        J(200, "PipelineConfig"),
    ),
    op(
        "get",
        "/strategyConfigs/{id}/history",
        "getStrategyConfigHistoryUsingGET",
        "strategy configs",
        "Saved revisions of a strategy config",
        HISTORY,
        NoBody,
        J(200, "PipelineConfigList"),
    ),
    op(
        "post",
        "/pipelines/{application}/{name_or_id}",
        "invokePipelineConfigUsingPOST1",
        "executions",
        "Run a pipeline (by name, then id); 202",
        NONE,
        OptionalObject("Trigger"),
        J(202, "Ref"),
    ),
    op(
        "post",
        "/pipelines/v2/{application}/{name_or_id}",
        "invokePipelineConfigViaEchoUsingPOST",
        "executions",
        "Run a pipeline the way Deck does; 202 with the event id",
        NONE,
        OptionalObject("Trigger"),
        J(202, "EventRef"),
    ),
    op(
        "post",
        "/pipelines/start",
        "startUsingPOST",
        "executions",
        "Run an ad-hoc pipeline config (not saved)",
        NONE,
        Required("AdHocPipeline"),
        J(200, "Ref"),
    ),
    op(
        "get",
        "/pipelines/{id}",
        "getPipelineUsingGET",
        "executions",
        "One execution",
        NONE,
        NoBody,
        J(200, "Execution"),
    ),
    op(
        "delete",
        "/pipelines/{id}",
        "deletePipelineUsingDELETE1",
        "executions",
        "Delete a finished execution",
        NONE,
        NoBody,
        Empty(200),
    ),
    op(
        "patch",
        "/pipelines/{id}/stages/{stage_id}",
        "updateStageUsingPATCH",
        "executions",
        "Merge into a stage's context (manual judgment, skip wait)",
        NONE,
        Required("AnyObject"),
        J(200, "Execution"),
    ),
    op(
        "put",
        "/pipelines/{id}/cancel",
        "cancelPipelineUsingPUT1",
        "executions",
        "Cancel an execution",
        CANCEL,
        NoBody,
        Empty(200),
    ),
    op(
        "put",
        "/applications/{application}/pipelines/{id}/cancel",
        "cancelPipelineUsingPUT",
        "executions",
        "Cancel an execution (deprecated path)",
        CANCEL,
        NoBody,
        Empty(200),
    ),
    op(
        "put",
        "/pipelines/{id}/pause",
        "pausePipelineUsingPUT",
        "executions",
        "Pause a running execution",
        NONE,
        NoBody,
        Empty(200),
    ),
    op(
        "put",
        "/pipelines/{id}/resume",
        "resumePipelineUsingPUT",
        "executions",
        "Resume a paused execution",
        NONE,
        NoBody,
        Empty(200),
    ),
    op(
        "put",
        "/pipelines/{id}/stages/{stage_id}/restart",
        "restartStageUsingPUT",
        "executions",
        "Restart a stage",
        NONE,
        OptionalObject("AnyObject"),
        J(200, "Execution"),
    ),
    op(
        "get",
        "/applications/{application}/pipelines",
        "getPipelinesUsingGET",
        "executions",
        "An application's executions, newest `limit` per config",
        LIST_EXECUTIONS,
        NoBody,
        J(200, "ExecutionList"),
    ),
    op(
        "get",
        "/executions",
        "getLatestExecutionsByConfigIdsUsingGET",
        "executions",
        "Executions by config ids or execution ids",
        EXECUTIONS_BY_IDS,
        NoBody,
        J(200, "ExecutionList"),
    ),
    op(
        "get",
        "/applications/{application}/executions/search",
        "searchForPipelineExecutionsByTriggerUsingGET",
        "executions",
        "Search an application's executions by trigger",
        SEARCH,
        NoBody,
        J(200, "ExecutionList"),
    ),
    op(
        "post",
        "/webhooks/{type}/{source}",
        "webhooksUsingPOST",
        "webhooks",
        "Accept a webhook event",
        NONE,
        OptionalObject("AnyObject"),
        J(200, "WebhookAck"),
    ),
    op(
        "get",
        "/notifications/application/{application}",
        "getNotificationSettingsUsingGET",
        "notifications",
        "An application's notification preferences, keyed by type",
        NONE,
        NoBody,
        J(200, "AnyObject"),
    ),
    op(
        "post",
        "/notifications/application/{application}",
        "saveNotificationSettingsUsingPOST",
        "notifications",
        "Replace an application's notification preferences",
        NONE,
        Required("AnyObject"),
        J(200, "AnyObject"),
    ),
    op(
        "get",
        "/cron/validate",
        "validateUsingGET",
        "cron",
        "Validate a Quartz cron expression",
        CRON,
        NoBody,
        J(200, "CronValidation"),
    ),
    op(
        "get",
        "/webhooks/preconfigured",
        "preconfiguredWebhooksUsingGET",
        "webhooks",
        "Preconfigured webhook stages",
        NONE,
        NoBody,
        J(200, "AnyList"),
    ),
    op(
        "get",
        "/applications/{application}/clusters",
        "getClustersUsingGET",
        "infrastructure",
        "Cluster names by account",
        NONE,
        NoBody,
        J(200, "AnyObject"),
    ),
    op(
        "get",
        "/applications/{application}/clusters/{account}",
        "getClustersByAccountUsingGET",
        "infrastructure",
        "An account's clusters with their server groups",
        NONE,
        NoBody,
        J(200, "AnyList"),
    ),
    op(
        "get",
        "/applications/{application}/clusters/{account}/{cluster}",
        "getClusterUsingGET",
        "infrastructure",
        "One cluster ({} when it has no server groups)",
        NONE,
        NoBody,
        J(200, "AnyObject"),
    ),
    op(
        "get",
        "/applications/{application}/clusters/{account}/{cluster}/serverGroups",
        "getServerGroupsForClusterUsingGET",
        "infrastructure",
        "A cluster's server groups",
        NONE,
        NoBody,
        J(200, "AnyList"),
    ),
    op(
        "get",
        "/applications/{application}/clusters/{account}/{cluster}/serverGroups/{server_group}",
        "getServerGroupsByNameUsingGET",
        "infrastructure",
        "A cluster's server groups of one name (one per region)",
        NONE,
        NoBody,
        J(200, "AnyList"),
    ),
    op(
        "get",
        "/applications/{application}/clusters/{account}/{cluster}/{cloud_provider}/{region}/serverGroups/target/{target}",
        "getTargetServerGroupUsingGET",
        "infrastructure",
        "The server group a dynamic target names",
        TARGET,
        NoBody,
        J(200, "AnyObject"),
    ),
    op(
        "get",
        "/applications/{application}/serverGroups",
        "getServerGroupsForApplicationUsingGET",
        "infrastructure",
        "An application's server groups (summaries)",
        CLUSTERS,
        NoBody,
        J(200, "AnyList"),
    ),
    op(
        "get",
        "/applications/{application}/serverGroups/{account}/{region}/{server_group}",
        "getServerGroupDetailsUsingGET",
        "infrastructure",
        "One server group",
        NONE,
        NoBody,
        J(200, "AnyObject"),
    ),
    op(
        "get",
        "/serverGroups",
        "getServerGroupsUsingGET",
        "infrastructure",
        "Server groups of applications (summaries)",
        APPLICATIONS,
        NoBody,
        J(200, "AnyList"),
    ),
    op(
        "get",
        "/instances/{account}/{region}/{id}",
        "getInstanceDetailsUsingGET",
        "infrastructure",
        "One instance with its health",
        NONE,
        NoBody,
        J(200, "AnyObject"),
    ),
    op(
        "get",
        "/securityGroups",
        "getAllSecurityGroupsUsingGET",
        "infrastructure",
        "Security groups by account, provider and region",
        SECURITY_GROUPS,
        NoBody,
        J(200, "AnyObject"),
    ),
    op(
        "get",
        "/securityGroups/{account}",
        "getSecurityGroupsUsingGET",
        "infrastructure",
        "An account's security groups by provider and region",
        SECURITY_GROUPS,
        NoBody,
        J(200, "AnyObject"),
    ),
    op(
        "get",
        "/securityGroups/{account}/{region}/{name}",
        "getSecurityGroupUsingGET",
        "infrastructure",
        "One security group with its inbound rules",
        VPC,
        NoBody,
        J(200, "AnyObject"),
    ),
    op(
        "get",
        "/applications/{application}/loadBalancers",
        "getApplicationLoadBalancersUsingGET",
        "infrastructure",
        "An application's load balancers with their target groups and server groups",
        NONE,
        NoBody,
        J(200, "AnyList"),
    ),
    op(
        "get",
        "/loadBalancers",
        "getAllUsingGET",
        "infrastructure",
        "Load balancer names with the accounts and regions holding them",
        NONE,
        NoBody,
        J(200, "AnyList"),
    ),
    op(
        "get",
        "/loadBalancers/{name}",
        "getLoadBalancerUsingGET",
        "infrastructure",
        "The accounts and regions holding a load balancer of this name",
        NONE,
        NoBody,
        J(200, "AnyObject"),
    ),
    op(
        "get",
        "/loadBalancers/{account}/{region}/{name}",
        "getLoadBalancerDetailsUsingGET",
        "infrastructure",
        "One load balancer's details (a list, empty when absent)",
        NONE,
        NoBody,
        J(200, "AnyList"),
    ),
    op(
        "get",
        "/images/find",
        "findImagesUsingGET",
        "infrastructure",
        "Images by name",
        IMAGES,
        NoBody,
        J(200, "AnyList"),
    ),
    op(
        "get",
        "/bakery/options",
        "bakeOptionsUsingGET",
        "bakery",
        "Base images bake stages may use, per cloud provider",
        NONE,
        NoBody,
        J(200, "BakeOptionsList"),
    ),
    op(
        "get",
        "/bakery/options/{cloud_provider}",
        "bakeOptionsUsingGET_1",
        "bakery",
        "Base images bake stages may use on one cloud provider",
        NONE,
        NoBody,
        J(200, "BakeOptions"),
    ),
    op(
        "get",
        "/bakery/options/{cloud_provider}/baseImages/{image_id}",
        "getBaseImageUsingGET",
        "bakery",
        "One base image of a cloud provider",
        NONE,
        NoBody,
        J(200, "BaseImage"),
    ),
    op(
        "get",
        "/v2/builds",
        "getBuildMastersUsingGET",
        "builds",
        "Names of the configured build masters (Jenkins)",
        NONE,
        NoBody,
        J(200, "AnyList"),
    ),
    op(
        "get",
        "/v2/builds/{master}/jobs",
        "getJobsForBuildMasterUsingGET",
        "builds",
        "Jobs of a build master (folder/job/child in folders)",
        NONE,
        NoBody,
        J(200, "AnyList"),
    ),
    op(
        "get",
        "/v2/builds/{master}/builds/{*job}",
        "getBuildsUsingGET",
        "builds",
        "Builds of a job, newest first",
        NONE,
        NoBody,
        J(200, "AnyList"),
    ),
    op(
        "get",
        "/v2/builds/{master}/build/{number}/{*job}",
        "getBuildUsingGET",
        "builds",
        "One build of a job",
        NONE,
        NoBody,
        J(200, "AnyObject"),
    ),
];

/// The schemas the operations refer to.
fn components() -> Value {
    let open = |properties: Value, required: Value| json!({"type": "object", "properties": properties, "required": required, "additionalProperties": true});
    let list = |item: &str| json!({"type": "array", "items": {"$ref": format!("#/components/schemas/{item}")}});
    let status = json!({"type": "string", "enum": ["NOT_STARTED", "RUNNING", "PAUSED", "SUSPENDED", "SUCCEEDED",
        "FAILED_CONTINUE", "TERMINAL", "CANCELED", "REDIRECT", "STOPPED", "SKIPPED", "BUFFERED"]});
    let millis = json!({"type": "integer", "format": "int64"});
    let task_step = open(
        json!({"id": {"type": "string"}, "name": {"type": "string"}, "implementingClass": {"type": "string"},
               "status": status, "startTime": millis, "endTime": millis, "stageStart": {"type": "boolean"},
               "stageEnd": {"type": "boolean"}, "loopStart": {"type": "boolean"}, "loopEnd": {"type": "boolean"},
               "taskExceptionDetails": {"type": "object"}}),
        json!(["id", "name", "status"]),
    );
    let stage = open(
        json!({"id": {"type": "string"}, "refId": {"type": "string"}, "type": {"type": "string"},
               "name": {"type": "string"}, "status": status, "startTime": millis, "endTime": millis,
               "requisiteStageRefIds": {"type": "array", "items": {"type": "string"}},
               "parentStageId": {"type": "string"},
               "syntheticStageOwner": {"type": "string", "enum": ["STAGE_BEFORE", "STAGE_AFTER"]},
               "context": {"type": "object"}, "outputs": {"type": "object"},
               "tasks": {"type": "array", "items": {"$ref": "#/components/schemas/TaskStep"}},
               "lastModified": {"type": "object"}}),
        json!([
            "id",
            "refId",
            "type",
            "name",
            "status",
            "context",
            "outputs",
            "tasks",
            "requisiteStageRefIds"
        ]),
    );
    let execution = open(
        json!({"type": {"type": "string", "enum": ["PIPELINE", "ORCHESTRATION"]}, "id": {"type": "string"},
               "application": {"type": "string"}, "name": {"type": "string"},
               "pipelineConfigId": {"type": "string"}, "status": status, "buildTime": millis,
               "startTime": millis, "endTime": millis, "canceled": {"type": "boolean"},
               "canceledBy": {"type": "string"}, "cancellationReason": {"type": "string"},
               "limitConcurrent": {"type": "boolean"}, "keepWaitingPipelines": {"type": "boolean"},
               "origin": {"type": "string"},
               "authentication": {"type": "object", "properties": {"user": {"type": "string"},
                   "allowedAccounts": {"type": "array", "items": {"type": "string"}}}},
               "trigger": {"type": "object"}, "notifications": {"type": "array"},
               "stages": {"type": "array", "items": {"$ref": "#/components/schemas/Stage"}}}),
        json!([
            "type",
            "id",
            "application",
            "status",
            "trigger",
            "stages",
            "authentication"
        ]),
    );
    json!({
        "Error": {"type": "object", "required": ["timestamp", "status", "error", "message", "path"],
            "properties": {"timestamp": millis, "status": {"type": "integer"}, "error": {"type": "string"},
                "message": {"type": "string"}, "path": {"type": "string"},
                "details": {"type": "array", "items": {"type": "object", "required": ["field", "message"],
                    "properties": {"field": {"type": "string"}, "message": {"type": "string"}}}}}},
        "Version": {"type": "object", "required": ["version"], "properties": {"version": {"type": "string"}}},
        "AnyObject": {"type": "object", "additionalProperties": true},
        "AnyList": {"type": "array", "items": {}},
        "StringList": {"type": "array", "items": {"type": "string"}},
        "Ref": {"type": "object", "required": ["ref"], "properties": {"ref": {"type": "string"}}},
        "EventRef": {"type": "object", "required": ["eventId", "ref"],
            "properties": {"eventId": {"type": "string"}, "ref": {"type": "string"}}},
        "CronValidation": {"type": "object", "required": ["response", "description"],
            "properties": {"response": {"type": "string"}, "description": {"type": "string"}}},
        "WebhookAck": {"type": "object", "required": ["eventProcessed", "eventId"],
            "properties": {"eventProcessed": {"type": "boolean"}, "eventId": {"type": "string"}}},
        "User": open(json!({"username": {"type": "string"}, "email": {"type": "string", "nullable": true},
            "roles": {"type": "array", "items": {"type": "string"}},
            "allowedAccounts": {"type": "array", "items": {"type": "string"}}, "enabled": {"type": "boolean"}}),
            json!(["username", "roles", "allowedAccounts"])),
        "Account": open(json!({"name": {"type": "string"}, "type": {"type": "string"},
            "accountId": {"type": "string"}, "requiredGroupMembership": {"type": "array"},
            "permissions": {"type": "object"}, "authorized": {"type": "boolean"}}), json!(["name", "type", "authorized"])),
        "AccountList": list("Account"),
        "Application": open(json!({"name": {"type": "string"}, "email": {"type": "string"},
            "cloudProviders": {"type": "string"}}), json!(["name"])),
        "ApplicationList": list("Application"),
        "ApplicationDetails": {"type": "object", "required": ["name", "attributes", "clusters"],
            "properties": {"name": {"type": "string"}, "attributes": {"$ref": "#/components/schemas/Application"},
                "clusters": {"type": "object"}}},
        "TaskRequest": open(json!({"application": {"type": "string"}, "description": {"type": "string"},
            "job": {"type": "array", "minItems": 1, "items": {"type": "object", "required": ["type", "application"],
                "properties": {"type": {"type": "string", "enum": ["createApplication", "updateApplication", "upsertApplication", "deleteApplication"]},
                    "application": {"type": "object", "required": ["name"], "properties": {"name": {"type": "string",
                        "pattern": "^[A-Za-z0-9_.-]{1,250}$"}}}}}}}), json!(["job"])),
        "Task": open(json!({"id": {"type": "string"}, "name": {"type": "string"}, "application": {"type": "string"},
            "status": status, "variables": {"type": "array", "items": {"type": "object", "required": ["key"],
                "properties": {"key": {"type": "string"}, "value": {}}}},
            "steps": {"type": "array", "items": {"$ref": "#/components/schemas/TaskStep"}},
            "execution": {"$ref": "#/components/schemas/Execution"}}),
            json!(["id", "application", "status", "variables", "steps", "execution"])),
        "TaskList": list("Task"),
        "TaskStep": task_step,
        "Stage": stage,
        "Execution": execution,
        "ExecutionList": list("Execution"),
        "Trigger": open(json!({"type": {"type": "string"}, "user": {"type": "string"},
            "parameters": {"type": "object"}, "artifacts": {"type": "array"}, "dryRun": {"type": "boolean"}}), json!([])),
        "PipelineConfig": open(json!({"id": {"type": "string"}, "application": {"type": "string",
                "pattern": "^[A-Za-z0-9_.-]{1,250}$"},
            "name": {"type": "string", "minLength": 1, "maxLength": 250},
            "index": {"description": "Position in the application's list (an integer when listed)"},
            "stages": {"type": "array", "nullable": true, "items": {"type": "object"}},
            "triggers": {"description": "Trigger objects, stored as submitted"},
            "updateTs": {"type": "string"}, "lastModifiedBy": {"type": "string"}}), json!(["application", "name"])),
        "PipelineConfigList": list("PipelineConfig"),
        "AdHocPipeline": open(json!({"application": {"type": "string", "pattern": "^[A-Za-z0-9_.-]{1,250}$"},
            "name": {"type": "string", "minLength": 1}, "stages": {"type": "array", "items": {"type": "object"}},
            "trigger": {"type": "object"}}), json!(["application", "name", "stages"])),
        "BulkSaveResult": {"type": "object",
            "required": ["successful_pipelines_count", "successful_pipelines", "failed_pipelines_count", "failed_pipelines"],
            "properties": {"successful_pipelines_count": {"type": "integer"},
                "successful_pipelines": {"type": "array", "items": {"type": "string"}},
                "failed_pipelines_count": {"type": "integer"},
                "failed_pipelines": {"type": "array", "items": {"type": "object", "required": ["errorMsg"]}}}},
        "BaseImage": open(json!({"id": {"type": "string"}, "shortDescription": {"type": "string"},
            "detailedDescription": {"type": "string"}, "displayName": {"type": "string"},
            "packageType": {"type": "string", "enum": ["deb", "rpm"]},
            "vmTypes": {"type": "array", "items": {"type": "string"}},
            "baseLabels": {"type": "array", "items": {"type": "string"}}}), json!(["id", "packageType"])),
        "BakeOptions": {"type": "object", "required": ["cloudProvider", "baseImages"],
            "properties": {"cloudProvider": {"type": "string"},
                "baseImages": {"type": "array", "items": {"$ref": "#/components/schemas/BaseImage"}}}},
        "BakeOptionsList": list("BakeOptions"),
        "Reorder": {"type": "object", "required": ["application", "idsToIndices"],
            "properties": {"application": {"type": "string", "pattern": "^[A-Za-z0-9_.-]{1,250}$"},
                "idsToIndices": {"type": "object", "additionalProperties": {"type": "integer", "minimum": 0}}}},
    })
}

fn schema_ref(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

fn operation(spec: &Operation) -> Value {
    let mut parameters: Vec<Value> = path_parameters(spec.path)
        .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
        .collect();
    parameters.extend(spec.query.iter().map(|param| {
        json!({"name": param.name, "in": "query", "required": false, "schema": (param.schema)(),
               "description": param.description})
    }));
    let error = json!({"description": "Gate's error shape", "content": {"application/json": {"schema": schema_ref("Error")}}});
    let mut responses = Map::new();
    match spec.answer {
        Answer::Empty(status) => {
            responses.insert(
                status.to_string(),
                json!({"description": "Done; empty body"}),
            );
        }
        Answer::Json(status, schema) => {
            responses.insert(
                status.to_string(),
                json!({"description": "OK", "content": {"application/json": {"schema": schema_ref(schema)}}}),
            );
        }
    }
    responses.insert("4XX".to_string(), error.clone());
    responses.insert(
        "503".to_string(),
        json!({"description": "Storage or AWS unavailable; retry",
        "content": {"application/json": {"schema": schema_ref("Error")}}}),
    );
    let mut operation = json!({
        "operationId": spec.id, "tags": [spec.tag], "summary": spec.summary,
        "parameters": parameters, "responses": responses,
    });
    match spec.body {
        Body::None => {}
        Body::OptionalObject(schema) => {
            operation["requestBody"] = json!({"required": false,
                "content": {"application/json": {"schema": schema_ref(schema)}}});
        }
        Body::Required(schema) => {
            operation["requestBody"] = json!({"required": true,
                "content": {"application/json": {"schema": schema_ref(schema)}}});
        }
    }
    operation
}

fn path_parameters(path: &str) -> impl Iterator<Item = &str> {
    path.split('/')
        .filter_map(|segment| segment.strip_prefix('{')?.strip_suffix('}'))
        .map(|name| name.trim_start_matches('*'))
}

/// OpenAPI 3.0 wants `items` on every array schema and no empty `required` lists.
fn tidy(schema: &mut Value) {
    match schema {
        Value::Object(object) => {
            if object.get("type") == Some(&json!("array")) && !object.contains_key("items") {
                object.insert("items".to_string(), json!({}));
            }
            if object.get("required") == Some(&json!([])) {
                object.remove("required");
            }
            object.values_mut().for_each(tidy);
        }
        Value::Array(items) => items.iter_mut().for_each(tidy),
        _ => {}
    }
}

/// The whole document.
pub fn openapi() -> Value {
    let mut paths = Map::new();
    for spec in OPERATIONS {
        // `{*job}` (a path that may hold slashes) is `{job}` in OpenAPI.
        let entry = paths
            .entry(spec.path.replace("{*", "{"))
            .or_insert_with(|| json!({}));
        entry[spec.method] = operation(spec);
    }
    let mut document = json!({
        "openapi": "3.0.3",
        "info": {
            "title": "Gennaker API (Spinnaker Gate compatible)",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Spinnaker's Gate HTTP API as served by Gennaker. Identity headers: X-SPINNAKER-USER, X-SPINNAKER-USER-ORIGIN, X-SPINNAKER-ACCOUNTS. Errors use Gate's shape {timestamp, status, error, message, path}.",
        },
        "paths": paths,
        "components": {"schemas": components()},
    });
    tidy(&mut document);
    document
}

/// `GET /openapi.json`
pub async fn document() -> Json<Value> {
    static DOCUMENT: OnceLock<Value> = OnceLock::new();
    Json(DOCUMENT.get_or_init(openapi).clone())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    const METHODS: [&str; 5] = ["get", "post", "put", "delete", "patch"];

    /// `(method, path)` of every `.route(...)` in the router's source.
    fn routed() -> BTreeSet<(String, String)> {
        let source = include_str!("../lib.rs");
        let mut routes = BTreeSet::new();
        for chunk in source.split(".route(").skip(1) {
            let chunk = chunk.split(".route(").next().unwrap_or(chunk);
            let Some(path) = chunk.split('"').nth(1) else {
                continue;
            };
            let rest = &chunk[chunk.find(path).unwrap() + path.len()..];
            let rest = rest.split(".fallback(").next().unwrap_or(rest);
            for (position, _) in rest.match_indices('(') {
                let before = &rest[..position];
                let word_start = before
                    .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .map_or(0, |at| at + 1);
                let word = &before[word_start..];
                if METHODS.contains(&word) {
                    routes.insert((word.to_string(), path.to_string()));
                }
            }
        }
        routes
    }

    #[test]
    fn every_route_is_documented_and_every_documented_route_exists() {
        let documented: BTreeSet<(String, String)> = OPERATIONS
            .iter()
            .map(|spec| (spec.method.to_string(), spec.path.to_string()))
            .collect();
        let routed = routed();
        assert!(
            routed.len() > 40,
            "the router's routes were not found: {routed:?}"
        );
        let undocumented: Vec<_> = routed.difference(&documented).collect();
        assert!(
            undocumented.is_empty(),
            "routes missing from the OpenAPI document: {undocumented:?}"
        );
        let unrouted: Vec<_> = documented.difference(&routed).collect();
        assert!(
            unrouted.is_empty(),
            "documented but not routed: {unrouted:?}"
        );
    }

    #[test]
    fn operation_ids_are_unique_and_references_resolve() {
        let ids: BTreeSet<_> = OPERATIONS.iter().map(|spec| spec.id).collect();
        assert_eq!(ids.len(), OPERATIONS.len());
        let document = openapi().to_string();
        let schemas = components();
        for reference in document.split("#/components/schemas/").skip(1) {
            let name = reference.split('"').next().unwrap();
            assert!(schemas.get(name).is_some(), "unknown schema {name}");
        }
    }
}
