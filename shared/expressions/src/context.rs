//! What an expression can see (Orca's `ContextParameterProcessor.buildExecutionContext` and
//! `precomputeValues`), and the services the caller lends it.

use std::cell::OnceCell;
use std::collections::HashSet;
use std::sync::LazyLock;

use serde_json::{Map, Value};

use crate::error::{ExpressionError, Result};
use crate::url_policy::{HostResolver, SystemResolver, UrlFetcher, UrlPolicy};
use crate::value::Val;

/// Looks up pipeline config ids for `#pipelineId('name')` (Front50 in Spinnaker; the store in
/// Gennaker).
pub trait PipelineIdLookup: Send + Sync {
    /// The id of the pipeline named `pipeline_name` in `application`; `Ok(None)` when there is
    /// none; `Err` when the lookup itself failed.
    fn pipeline_id(&self, application: &str, pipeline_name: &str)
    -> Result<Option<String>, String>;
}

/// `spelEvaluator` of an execution. Orca's default (absent or unknown key) is `v3`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpelEvaluatorVersion {
    /// Expressions in stages are evaluated when each stage starts.
    V4,
    /// The whole pipeline config is evaluated at trigger time; what is left is evaluated again
    /// when stages start.
    V3,
    /// Deprecated; behaves as v3.
    V2,
}

impl SpelEvaluatorVersion {
    pub fn from_key(key: Option<&str>) -> SpelEvaluatorVersion {
        match key.map(str::to_ascii_lowercase).as_deref() {
            Some("v4") => SpelEvaluatorVersion::V4,
            Some("v2") => SpelEvaluatorVersion::V2,
            _ => SpelEvaluatorVersion::V3,
        }
    }

    pub fn key(self) -> &'static str {
        match self {
            SpelEvaluatorVersion::V4 => "v4",
            SpelEvaluatorVersion::V3 => "v3",
            SpelEvaluatorVersion::V2 => "v2",
        }
    }
}

static EMPTY_OBJECT: LazyLock<Value> = LazyLock::new(|| Value::Object(Map::new()));
static DEFAULT_URL_POLICY: LazyLock<UrlPolicy> = LazyLock::new(UrlPolicy::default);
static SYSTEM_RESOLVER: SystemResolver = SystemResolver;

/// Everything an evaluation reads. Cheap to build; borrow the execution JSON for its lifetime.
///
/// * [`EvaluationContext::new`] / [`for_stage`](Self::for_stage): a stage's expressions
///   (stage context at stage start, `stageEnabled`, manual judgment instructions, the
///   stage-level `evaluateExpression` endpoint). The stage's context keys are visible at the top
///   level, unknown keys fall back to ancestor stages' outputs, then to null.
/// * [`for_execution`](Self::for_execution): execution-level text (notifications, the
///   execution-level `evaluateExpression` endpoint): `execution`, `trigger`, `parameters`.
/// * [`for_trigger`](Self::for_trigger): a pipeline config at trigger time (v3 whole config,
///   v4 non-stage fields): only `trigger`, `parameters`, `templateVariables`, and unknown keys
///   are errors, as in Orca.
pub struct EvaluationContext<'a> {
    pub(crate) execution: Option<&'a Value>,
    pub(crate) trigger: &'a Value,
    pub(crate) stage: Option<&'a Value>,
    pub(crate) current_stage_id: Option<&'a str>,
    pub(crate) template_variables: Option<&'a Value>,
    pub(crate) allow_unknown_keys: bool,
    pub(crate) url_fetcher: Option<&'a dyn UrlFetcher>,
    pub(crate) url_policy: &'a UrlPolicy,
    pub(crate) resolver: &'a dyn HostResolver,
    pub(crate) pipeline_ids: Option<&'a dyn PipelineIdLookup>,
    pub(crate) now_millis: Option<i64>,
    ancestors: OnceCell<Vec<&'a Value>>,
}

impl<'a> EvaluationContext<'a> {
    /// An evaluation against `execution` (Orca's JSON: `trigger`, `stages[]`, ...), as seen from
    /// the stage with id `current_stage_id` when given. An id that matches no stage still
    /// evaluates (as execution level) but `#currentStage()` fails.
    pub fn new(execution: &'a Value, current_stage_id: Option<&'a str>) -> Self {
        let stage = current_stage_id.and_then(|id| find_stage_by_id(execution, id));
        EvaluationContext {
            execution: Some(execution),
            trigger: execution.get("trigger").unwrap_or(&EMPTY_OBJECT),
            stage,
            current_stage_id,
            template_variables: None,
            allow_unknown_keys: true,
            url_fetcher: None,
            url_policy: &DEFAULT_URL_POLICY,
            resolver: &SYSTEM_RESOLVER,
            pipeline_ids: None,
            now_millis: None,
            ancestors: OnceCell::new(),
        }
    }

    /// A stage's evaluation context (see the type docs).
    pub fn for_stage(execution: &'a Value, stage_id: &'a str) -> Self {
        Self::new(execution, Some(stage_id))
    }

    /// An execution-level evaluation context (notifications, execution-level endpoint).
    pub fn for_execution(execution: &'a Value) -> Self {
        Self::new(execution, None)
    }

    /// Trigger time: `trigger` is the trigger map being launched with (its `parameters` already
    /// defaulted). Unknown keys raise errors, as Orca's `allowUnknownKeys=false`.
    pub fn for_trigger(trigger: &'a Value) -> Self {
        EvaluationContext {
            execution: None,
            trigger,
            stage: None,
            current_stage_id: None,
            template_variables: None,
            allow_unknown_keys: false,
            url_fetcher: None,
            url_policy: &DEFAULT_URL_POLICY,
            resolver: &SYSTEM_RESOLVER,
            pipeline_ids: None,
            now_millis: None,
            ancestors: OnceCell::new(),
        }
    }

    /// `templateVariables` (templated pipelines) visible at trigger time.
    pub fn with_template_variables(mut self, variables: &'a Value) -> Self {
        self.template_variables = Some(variables);
        self
    }

    /// Lends the HTTP client for `#fromUrl` and friends; without one they fail.
    pub fn with_url_fetcher(mut self, fetcher: &'a dyn UrlFetcher) -> Self {
        self.url_fetcher = Some(fetcher);
        self
    }

    /// Replaces the default (safe) URL policy.
    pub fn with_url_policy(mut self, policy: &'a UrlPolicy) -> Self {
        self.url_policy = policy;
        self
    }

    /// Replaces DNS resolution used by the URL policy (tests).
    pub fn with_host_resolver(mut self, resolver: &'a dyn HostResolver) -> Self {
        self.resolver = resolver;
        self
    }

    /// Lends the pipeline config lookup for `#pipelineId` and friends.
    pub fn with_pipeline_id_lookup(mut self, lookup: &'a dyn PipelineIdLookup) -> Self {
        self.pipeline_ids = Some(lookup);
        self
    }

    /// Fixes "now" (epoch milliseconds) for `new java.util.Date()` and friends.
    pub fn with_clock(mut self, now_millis: i64) -> Self {
        self.now_millis = Some(now_millis);
        self
    }

    /// Overrides whether unknown map keys read as null (true) or fail (false).
    pub fn allow_unknown_keys(mut self, allow: bool) -> Self {
        self.allow_unknown_keys = allow;
        self
    }

    pub(crate) fn now(&self) -> i64 {
        self.now_millis.unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis() as i64)
                .unwrap_or(0)
        })
    }

    pub(crate) fn spel_version(&self) -> SpelEvaluatorVersion {
        SpelEvaluatorVersion::from_key(
            self.execution
                .and_then(|e| e.get("spelEvaluator"))
                .and_then(Value::as_str),
        )
    }

    /// The execution, or an error at trigger time (Orca's `#root.execution` is null there).
    pub(crate) fn require_execution(&self, function: &str) -> Result<&'a Value> {
        self.execution.ok_or_else(|| {
            ExpressionError::helper(format!(
                "#{function} needs the execution, which does not exist yet at trigger time"
            ))
        })
    }

    pub(crate) fn stages(&self) -> &'a [Value] {
        stages_of(self.execution)
    }

    /// A top-level name: the evaluation root's property (Orca's root map).
    pub(crate) fn root_property(&self, name: &str) -> Result<Val<'a>> {
        if let Some(value) = self.root_entry(name) {
            return Ok(value);
        }
        if self.allow_unknown_keys {
            Ok(Val::Null)
        } else {
            Err(ExpressionError::new(
                crate::error::ErrorKind::IllegalArgument,
                format!(
                    "EL1008E: Property or field '{name}' cannot be found on object of type 'java.util.HashMap' - maybe not public or not visible?"
                ),
            ))
        }
    }

    fn root_entry(&self, name: &str) -> Option<Val<'a>> {
        let Some(execution) = self.execution else {
            return match name {
                "trigger" => Some(Val::from_json(self.trigger)),
                "parameters" => Some(self.parameters()),
                "templateVariables" => Some(Val::from_json(
                    self.template_variables.unwrap_or(&EMPTY_OBJECT),
                )),
                _ => None,
            };
        };
        match name {
            "execution" => return Some(Val::Execution(execution)),
            "trigger" => return Some(Val::from_json(self.trigger)),
            "parameters" => return Some(self.parameters()),
            "scmInfo" => return Some(self.scm_info()),
            "templateVariables" => {
                if self.spel_version() == SpelEvaluatorVersion::V4
                    && let Some(vars @ Value::Object(map)) = execution.get("templateVariables")
                    && !map.is_empty()
                {
                    return Some(Val::Json(vars));
                }
            }
            _ => {}
        }
        let stage = self.stage?;
        if let Some(value) = stage.get("context").and_then(|c| c.get(name)) {
            return Some(Val::from_json(value));
        }
        self.ancestor_output(stage, name, true)
    }

    /// `parameters`: the trigger's when it has any, else a stage context's own
    /// `parameters`, else `{}` (Orca's `precomputeValues`).
    fn parameters(&self) -> Val<'a> {
        if let Some(params @ Value::Object(map)) = self.trigger.get("parameters")
            && !map.is_empty()
        {
            return Val::Json(params);
        }
        if let Some(own) = self
            .stage
            .and_then(|s| s.get("context"))
            .and_then(|c| c.get("parameters"))
        {
            return Val::from_json(own);
        }
        Val::Json(&EMPTY_OBJECT)
    }

    /// `scmInfo`: with several SCM entries the first whose branch is not master/develop.
    fn scm_info(&self) -> Val<'a> {
        let from_context = self.stage.and_then(|stage| {
            stage
                .get("context")
                .and_then(|c| c.get("scmInfo"))
                .or_else(|| self.ancestor_output_json(stage, "scmInfo"))
        });
        let list = match from_context {
            Some(value) if !value.is_null() => Some(value),
            _ => match self.trigger.get("type").and_then(Value::as_str) {
                Some("jenkins" | "concourse") => {
                    self.trigger.get("buildInfo").and_then(|b| b.get("scm"))
                }
                _ => None,
            },
        };
        match list {
            Some(Value::Array(entries)) if entries.len() >= 2 => {
                let chosen = entries
                    .iter()
                    .find(|e| {
                        !matches!(
                            e.get("branch").and_then(Value::as_str),
                            Some("master" | "develop")
                        )
                    })
                    .unwrap_or(&entries[0]);
                Val::from_json(chosen)
            }
            Some(Value::Array(entries)) if !entries.is_empty() => Val::from_json(&entries[0]),
            Some(Value::Array(_)) | None => Val::Null,
            Some(other) => Val::from_json(other),
        }
    }

    /// The root as one JSON map (for `#root` results and `#toJson(#root)`).
    pub(crate) fn root_as_json(&self) -> Value {
        let mut map = Map::new();
        if let Some(Value::Object(context)) = self.stage.and_then(|s| s.get("context")) {
            map.extend(context.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
        if let Some(execution) = self.execution {
            map.insert("execution".into(), execution.clone());
        }
        map.insert("trigger".into(), self.trigger.clone());
        map.insert(
            "parameters".into(),
            crate::eval::to_json(&self.parameters(), self),
        );
        if self.execution.is_none() {
            map.insert(
                "templateVariables".into(),
                self.template_variables
                    .cloned()
                    .unwrap_or_else(|| EMPTY_OBJECT.clone()),
            );
        }
        Value::Object(map)
    }

    fn current_ancestors(&self, stage: &'a Value) -> &[&'a Value] {
        self.ancestors
            .get_or_init(|| ancestors(stages_of(self.execution), stage))
    }

    /// `key` from the outputs of `stage` or its ancestors, nearest first.
    pub(crate) fn ancestor_output(
        &self,
        stage: &'a Value,
        key: &str,
        is_current: bool,
    ) -> Option<Val<'a>> {
        let found = if is_current {
            self.current_ancestors(stage)
                .iter()
                .find_map(|s| s.get("outputs").and_then(|o| o.get(key)))
        } else {
            ancestors(self.stages(), stage)
                .into_iter()
                .find_map(|s| s.get("outputs").and_then(|o| o.get(key)))
        };
        found.map(Val::from_json)
    }

    fn ancestor_output_json(&self, stage: &'a Value, key: &str) -> Option<&'a Value> {
        self.current_ancestors(stage)
            .iter()
            .find_map(|s| s.get("outputs").and_then(|o| o.get(key)))
    }

    /// A stage context read: its own key, else ancestors' outputs (Orca's `StageContext`).
    pub(crate) fn stage_context_get(&self, stage: &'a Value, key: &str) -> Option<Val<'a>> {
        if let Some(value) = stage.get("context").and_then(|c| c.get(key)) {
            return Some(Val::from_json(value));
        }
        let is_current = self.stage.is_some_and(|s| std::ptr::eq(s, stage));
        self.ancestor_output(stage, key, is_current)
    }
}

fn stages_of(execution: Option<&Value>) -> &[Value] {
    execution
        .and_then(|e| e.get("stages"))
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

pub(crate) fn find_stage_by_id<'v>(execution: &'v Value, id: &str) -> Option<&'v Value> {
    stages_of(Some(execution))
        .iter()
        .find(|s| s.get("id").and_then(Value::as_str) == Some(id))
}

fn text<'v>(value: &'v Value, key: &str) -> Option<&'v str> {
    value.get(key).and_then(Value::as_str)
}

/// The stage itself, then the stages it depends on (requisites, their synthetic children and,
/// recursively, their ancestors) or, for synthetic stages, the parent (and for after-stages
/// the parent's before-stages) — Orca's `StageExecutionInternals.getAncestorsImpl`.
pub(crate) fn ancestors<'v>(stages: &'v [Value], stage: &'v Value) -> Vec<&'v Value> {
    let mut visited = HashSet::new();
    let mut result = vec![stage];
    collect_ancestors(stages, stage, &mut visited, &mut result);
    result
}

fn collect_ancestors<'v>(
    stages: &'v [Value],
    stage: &'v Value,
    visited: &mut HashSet<&'v str>,
    result: &mut Vec<&'v Value>,
) {
    // Guards against cycles in malformed input; Orca's graph is a DAG.
    if let Some(id) = text(stage, "id")
        && !visited.insert(id)
    {
        return;
    }
    let requisites: Vec<&str> = stage
        .get("requisiteStageRefIds")
        .and_then(Value::as_array)
        .map(|ids| ids.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if !requisites.is_empty() {
        let previous: Vec<&Value> = stages
            .iter()
            .filter(|s| text(s, "refId").is_some_and(|r| requisites.contains(&r)))
            .filter(|s| text(s, "id").is_none_or(|id| !visited.contains(id)))
            .collect();
        let previous_ids: Vec<&str> = previous.iter().filter_map(|s| text(s, "id")).collect();
        let synthetic = stages.iter().filter(|s| {
            text(s, "syntheticStageOwner").is_some()
                && text(s, "parentStageId").is_some_and(|p| previous_ids.contains(&p))
        });
        result.extend(previous.iter().copied());
        result.extend(synthetic);
        for stage in previous {
            collect_ancestors(stages, stage, visited, result);
        }
    } else if let Some(parent_id) = text(stage, "parentStageId") {
        if visited.contains(parent_id) {
            return;
        }
        if text(stage, "syntheticStageOwner") == Some("STAGE_AFTER") {
            result.extend(stages.iter().filter(|s| {
                text(s, "parentStageId") == Some(parent_id)
                    && text(s, "syntheticStageOwner") == Some("STAGE_BEFORE")
            }));
        }
        if let Some(parent) = stages.iter().find(|s| text(s, "id") == Some(parent_id)) {
            result.push(parent);
            collect_ancestors(stages, parent, visited, result);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ancestors_follow_requisites_and_parents() {
        let execution = json!({"stages": [
            {"id": "a", "refId": "1", "requisiteStageRefIds": []},
            {"id": "b", "refId": "2", "requisiteStageRefIds": ["1"]},
            {"id": "c", "refId": "2<1", "parentStageId": "b", "syntheticStageOwner": "STAGE_BEFORE", "requisiteStageRefIds": []},
            {"id": "d", "refId": "3", "requisiteStageRefIds": ["2"]},
        ]});
        let stages = execution["stages"].as_array().unwrap();
        let ids: Vec<&str> = ancestors(stages, &stages[3])
            .iter()
            .map(|s| s["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, vec!["d", "b", "c", "a"]);
        let ids: Vec<&str> = ancestors(stages, &stages[2])
            .iter()
            .map(|s| s["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, vec!["c", "b", "a"]);
    }
}
