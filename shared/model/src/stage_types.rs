//! The stage types Gennaker can run, and the task each one runs.

/// A stage type Gennaker knows how to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StageType {
    /// The `type` key of the stage in pipeline JSON.
    pub key: &'static str,
    /// Name of the task shown in the stage's `tasks[]`.
    pub task_name: &'static str,
    /// Orca's implementing class, kept so clients that display it see familiar names.
    pub implementing_class: &'static str,
}

/// Every supported stage type. Adding a stage family means adding it here, routing it in
/// `statemachines/stage.asl.json`, and giving it a worker function (`evaluateVariables` has
/// none: the engine completes it when it starts, see `gennaker_engine::EVALUATE_VARIABLES`).
pub const SUPPORTED_STAGE_TYPES: &[StageType] = &[
    StageType {
        key: "wait",
        task_name: "wait",
        implementing_class: "com.netflix.spinnaker.orca.pipeline.tasks.WaitTask",
    },
    StageType {
        key: "evaluateVariables",
        task_name: "evaluateVariables",
        implementing_class: "com.netflix.spinnaker.orca.pipeline.tasks.EvaluateVariablesTask",
    },
    StageType {
        key: "manualJudgment",
        task_name: "waitForJudgment",
        implementing_class: "com.netflix.spinnaker.orca.echo.pipeline.ManualJudgmentStage$WaitForManualJudgmentTask",
    },
    StageType {
        key: "pipeline",
        task_name: "monitorPipeline",
        implementing_class: "com.netflix.spinnaker.orca.front50.tasks.MonitorPipelineTask",
    },
    StageType {
        key: "webhook",
        task_name: "createWebhook",
        implementing_class: "com.netflix.spinnaker.orca.webhook.tasks.CreateWebhookTask",
    },
    StageType {
        key: "jenkins",
        task_name: "monitorJenkinsJob",
        implementing_class: "com.netflix.spinnaker.orca.igor.tasks.MonitorJenkinsJobTask",
    },
    StageType {
        key: "script",
        task_name: "runScript",
        implementing_class: "com.netflix.spinnaker.orca.igor.tasks.StartScriptTask",
    },
    StageType {
        key: "checkPreconditions",
        task_name: "checkPrecondition",
        implementing_class: "com.netflix.spinnaker.orca.pipeline.tasks.ExpressionPreconditionTask",
    },
    StageType {
        key: "deploy",
        task_name: "completeParallelDeploy",
        implementing_class: "com.netflix.spinnaker.orca.kato.pipeline.ParallelDeployStage$CompleteParallelDeployTask",
    },
    StageType {
        key: "cloneServerGroup",
        task_name: "cloneServerGroup",
        implementing_class: "com.netflix.spinnaker.orca.clouddriver.tasks.servergroup.CloneServerGroupTask",
    },
    StageType {
        key: "rollbackServerGroup",
        task_name: "rollbackServerGroup",
        implementing_class: "com.netflix.spinnaker.orca.clouddriver.pipeline.servergroup.RollbackServerGroupStage",
    },
    StageType {
        key: "createServerGroup",
        task_name: "createServerGroup",
        implementing_class: "com.netflix.spinnaker.orca.clouddriver.tasks.servergroup.CreateServerGroupTask",
    },
    StageType {
        key: "resizeServerGroup",
        task_name: "resizeServerGroup",
        implementing_class: "com.netflix.spinnaker.orca.clouddriver.tasks.servergroup.ResizeServerGroupTask",
    },
    StageType {
        key: "disableServerGroup",
        task_name: "disableServerGroup",
        implementing_class: "com.netflix.spinnaker.orca.clouddriver.tasks.servergroup.DisableServerGroupTask",
    },
    StageType {
        key: "enableServerGroup",
        task_name: "enableServerGroup",
        implementing_class: "com.netflix.spinnaker.orca.clouddriver.tasks.servergroup.EnableServerGroupTask",
    },
    StageType {
        key: "destroyServerGroup",
        task_name: "destroyServerGroup",
        implementing_class: "com.netflix.spinnaker.orca.clouddriver.tasks.servergroup.DestroyServerGroupTask",
    },
    StageType {
        key: "findImage",
        task_name: "findImage",
        implementing_class: "com.netflix.spinnaker.orca.clouddriver.tasks.image.FindImageFromClusterTask",
    },
    StageType {
        key: "bake",
        task_name: "monitorBake",
        implementing_class: "com.netflix.spinnaker.orca.bakery.tasks.MonitorBakeTask",
    },
    StageType {
        key: "findImageFromTags",
        task_name: "findImageFromTags",
        implementing_class: "com.netflix.spinnaker.orca.clouddriver.tasks.image.FindImageFromTagsTask",
    },
    StageType {
        key: "upsertSecurityGroup",
        task_name: "upsertSecurityGroup",
        implementing_class: "com.netflix.spinnaker.orca.clouddriver.tasks.securitygroup.UpsertSecurityGroupTask",
    },
    StageType {
        key: "deleteSecurityGroup",
        task_name: "deleteSecurityGroup",
        implementing_class: "com.netflix.spinnaker.orca.clouddriver.tasks.securitygroup.DeleteSecurityGroupTask",
    },
    StageType {
        key: "upsertLoadBalancer",
        task_name: "upsertLoadBalancer",
        implementing_class: "com.netflix.spinnaker.orca.clouddriver.tasks.loadbalancer.UpsertLoadBalancerTask",
    },
    StageType {
        key: "deleteLoadBalancer",
        task_name: "deleteLoadBalancer",
        implementing_class: "com.netflix.spinnaker.orca.clouddriver.tasks.loadbalancer.DeleteLoadBalancerTask",
    },
    StageType {
        key: "disableCluster",
        task_name: "disableCluster",
        implementing_class: "com.netflix.spinnaker.orca.clouddriver.tasks.cluster.DisableClusterTask",
    },
    StageType {
        key: "scaleDownCluster",
        task_name: "scaleDownCluster",
        implementing_class: "com.netflix.spinnaker.orca.clouddriver.tasks.cluster.ScaleDownClusterTask",
    },
    StageType {
        key: "shrinkCluster",
        task_name: "shrinkCluster",
        implementing_class: "com.netflix.spinnaker.orca.clouddriver.tasks.cluster.ShrinkClusterTask",
    },
    StageType {
        key: "deployCloudFormation",
        task_name: "waitForCloudFormationCompletion",
        implementing_class: "com.netflix.spinnaker.orca.clouddriver.tasks.providers.aws.cloudformation.WaitForCloudFormationCompletionTask",
    },
];

pub fn stage_type(key: &str) -> Option<&'static StageType> {
    SUPPORTED_STAGE_TYPES
        .iter()
        .find(|stage_type| stage_type.key == key)
}

/// `"wait, manualJudgment, pipeline"`, for error messages.
pub fn supported_stage_type_list() -> String {
    SUPPORTED_STAGE_TYPES
        .iter()
        .map(|stage_type| stage_type.key)
        .collect::<Vec<_>>()
        .join(", ")
}
