//! Validation of pipeline configs before they are saved or run.
//!
//! Front50 only insists on `name` and `application` and a unique name; Orca finds the rest
//! (unknown refIds, cycles) at run time, when the pipeline hangs or fails on startup.
//! Gennaker refuses such configs up front and reports every problem at once, each naming the
//! offending field. A stage type Gennaker cannot run is not a problem with the config: it is
//! stored as Front50 stores it and reported by [`crate::compatibility`].

use std::collections::HashMap;

use serde::Serialize;
use serde_json::Value;

use crate::pipeline::{PipelineConfig, StageConfig, kind};

/// One problem with a pipeline config: the field (e.g. `stages[2].refId`) and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ValidationError {
    pub field: String,
    pub message: String,
}

/// Another pipeline already stored in the same application.
pub struct SiblingPipeline<'a> {
    pub id: &'a str,
    pub name: &'a str,
}

/// Checks a pipeline config; `siblings` are the other pipelines of its application (the
/// config itself may be among them, recognised by id). Returns every problem found.
pub fn validate_pipeline(
    config: &PipelineConfig,
    siblings: &[SiblingPipeline],
) -> Result<(), Vec<ValidationError>> {
    let mut errors = Vec::new();
    check_required_fields(config, &mut errors);
    check_unique_name(config, siblings, &mut errors);
    check_cron_triggers(config, &mut errors);
    if let Some(stages) = check_stages_shape(config, &mut errors) {
        check_stage_graph(&stages, &mut errors);
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

fn error(field: impl Into<String>, message: impl Into<String>) -> ValidationError {
    ValidationError {
        field: field.into(),
        message: message.into(),
    }
}

fn check_required_fields(config: &PipelineConfig, errors: &mut Vec<ValidationError>) {
    let fields = [
        ("name", config.name()),
        ("application", config.application()),
    ];
    for (field, value) in fields {
        if value.is_none_or(|text| text.trim().is_empty()) {
            errors.push(error(
                field,
                format!(
                    "A pipeline requires name and application fields: {field} is missing or blank"
                ),
            ));
        }
    }
}

/// Echo refuses to schedule an invalid Quartz expression; Gennaker refuses to save one.
fn check_cron_triggers(config: &PipelineConfig, errors: &mut Vec<ValidationError>) {
    for (position, trigger) in config.triggers().iter().enumerate() {
        let Some(trigger) = trigger.as_object() else {
            continue;
        };
        let is_cron = trigger
            .get("type")
            .and_then(Value::as_str)
            .is_some_and(|kind| kind.eq_ignore_ascii_case(crate::schedules::CRON));
        if !is_cron {
            continue;
        }
        let field = format!("triggers[{position}].cronExpression");
        match trigger.get("cronExpression").and_then(Value::as_str) {
            None => errors.push(error(field, "a cron trigger needs a cronExpression")),
            Some(expression) => {
                if let Err(problem) = crate::cron::validate(expression) {
                    errors.push(error(field, problem.0));
                }
            }
        }
    }
}

fn check_unique_name(
    config: &PipelineConfig,
    siblings: &[SiblingPipeline],
    errors: &mut Vec<ValidationError>,
) {
    let (Some(name), Some(application)) = (config.name(), config.application()) else {
        return;
    };
    let wanted = name.trim().to_lowercase();
    if wanted.is_empty() {
        return;
    }
    let taken = siblings.iter().any(|sibling| {
        Some(sibling.id) != config.id() && sibling.name.trim().to_lowercase() == wanted
    });
    if taken {
        errors.push(error(
            "name",
            format!(
                "A pipeline with name {} already exists in application {application}",
                name.trim()
            ),
        ));
    }
}

/// A stage as the graph checks see it: its position in the submitted `stages` array (so
/// messages point at the right element even when non-object entries were skipped).
struct PlacedStage {
    position: usize,
    config: StageConfig,
}

impl PlacedStage {
    fn field(&self, name: &str) -> String {
        format!("stages[{}].{name}", self.position)
    }

    /// `stages[2] (Deploy)`, for messages about one stage.
    fn describe(&self) -> String {
        format!("stages[{}] ({})", self.position, self.config.name)
    }

    /// `1 (Wait A)`, for cycle paths, where refIds are what the user connected.
    fn label(&self) -> String {
        format!("{} ({})", self.config.ref_id, self.config.name)
    }
}

/// Checks that `stages` is an array of objects and that each stage has a type.
/// Returns the object stages with their positions, or None when `stages` is not an array.
fn check_stages_shape(
    config: &PipelineConfig,
    errors: &mut Vec<ValidationError>,
) -> Option<Vec<PlacedStage>> {
    let raw = match config.document().get("stages") {
        None | Some(Value::Null) => return Some(Vec::new()),
        Some(Value::Array(raw)) => raw,
        Some(other) => {
            errors.push(error(
                "stages",
                format!("stages must be an array, got {}", kind(other)),
            ));
            return None;
        }
    };
    let mut object_positions = Vec::new();
    for (position, stage) in raw.iter().enumerate() {
        if stage.is_object() {
            object_positions.push(position);
        } else {
            errors.push(error(
                format!("stages[{position}]"),
                format!("each stage must be an object, got {}", kind(stage)),
            ));
        }
    }
    // `stages()` skips non-objects, so its order matches `object_positions`.
    let placed: Vec<PlacedStage> = object_positions
        .into_iter()
        .zip(config.stages())
        .map(|(position, config)| PlacedStage { position, config })
        .collect();
    for stage in &placed {
        check_stage_type(stage, errors);
    }
    Some(placed)
}

fn check_stage_type(stage: &PlacedStage, errors: &mut Vec<ValidationError>) {
    if stage.config.stage_type.trim().is_empty() {
        errors.push(error(
            stage.field("type"),
            format!("{} has no type", stage.describe()),
        ));
    }
}

fn check_stage_graph(stages: &[PlacedStage], errors: &mut Vec<ValidationError>) {
    let by_ref_id = index_ref_ids(stages, errors);
    check_requisites_exist(stages, &by_ref_id, errors);
    for cycle in find_cycles(stages, &by_ref_id) {
        let path: Vec<String> = cycle.iter().map(|&index| stages[index].label()).collect();
        errors.push(error(
            "stages",
            format!("stages form a cycle: {}", path.join(" -> ")),
        ));
    }
}

/// Maps each refId to the first stage that has it, reporting missing and duplicate refIds.
fn index_ref_ids<'a>(
    stages: &'a [PlacedStage],
    errors: &mut Vec<ValidationError>,
) -> HashMap<&'a str, usize> {
    let mut by_ref_id: HashMap<&str, usize> = HashMap::new();
    for (index, stage) in stages.iter().enumerate() {
        let ref_id = stage.config.ref_id.as_str();
        if ref_id.is_empty() {
            // Only reachable when some stages have refIds and others do not; the linear
            // rule (Orca's `ExecutionLauncher`) applies only when none has one.
            errors.push(error(
                stage.field("refId"),
                format!(
                    "{} has no refId, but other stages do; give every stage a refId",
                    stage.describe()
                ),
            ));
            continue;
        }
        match by_ref_id.get(ref_id) {
            Some(&first) => errors.push(error(
                stage.field("refId"),
                format!(
                    "refId '{ref_id}' of {} is already used by {}",
                    stage.describe(),
                    stages[first].describe()
                ),
            )),
            None => {
                by_ref_id.insert(ref_id, index);
            }
        }
    }
    by_ref_id
}

fn check_requisites_exist(
    stages: &[PlacedStage],
    by_ref_id: &HashMap<&str, usize>,
    errors: &mut Vec<ValidationError>,
) {
    for stage in stages {
        for requisite in &stage.config.requisite_stage_ref_ids {
            if !by_ref_id.contains_key(requisite.as_str()) {
                errors.push(error(
                    stage.field("requisiteStageRefIds"),
                    format!(
                        "{} requires refId '{requisite}', which no stage has",
                        stage.describe()
                    ),
                ));
            }
        }
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Visit {
    New,
    OnPath,
    Done,
}

/// Every cycle closed by a back edge of a depth-first walk along the run order (requisite
/// -> dependent), each as stage indexes starting and ending at the same stage.
fn find_cycles(stages: &[PlacedStage], by_ref_id: &HashMap<&str, usize>) -> Vec<Vec<usize>> {
    let dependents = dependents_of(stages, by_ref_id);
    let mut visits = vec![Visit::New; stages.len()];
    let mut path = Vec::new();
    let mut cycles = Vec::new();
    for start in 0..stages.len() {
        if visits[start] == Visit::New {
            walk(start, &dependents, &mut visits, &mut path, &mut cycles);
        }
    }
    cycles
}

fn walk(
    stage: usize,
    dependents: &[Vec<usize>],
    visits: &mut [Visit],
    path: &mut Vec<usize>,
    cycles: &mut Vec<Vec<usize>>,
) {
    visits[stage] = Visit::OnPath;
    path.push(stage);
    for &next in &dependents[stage] {
        match visits[next] {
            Visit::New => walk(next, dependents, visits, path, cycles),
            Visit::OnPath => {
                let from = path
                    .iter()
                    .position(|&on_path| on_path == next)
                    .unwrap_or(0);
                let mut cycle = path[from..].to_vec();
                cycle.push(next);
                cycles.push(cycle);
            }
            Visit::Done => {}
        }
    }
    path.pop();
    visits[stage] = Visit::Done;
}

/// For each stage, the stages that list it as a requisite, in stage order.
fn dependents_of(stages: &[PlacedStage], by_ref_id: &HashMap<&str, usize>) -> Vec<Vec<usize>> {
    let mut dependents = vec![Vec::new(); stages.len()];
    for (index, stage) in stages.iter().enumerate() {
        for requisite in &stage.config.requisite_stage_ref_ids {
            if let Some(&parent) = by_ref_id.get(requisite.as_str())
                && !dependents[parent].contains(&index)
            {
                dependents[parent].push(index);
            }
        }
    }
    dependents
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn config(value: Value) -> PipelineConfig {
        PipelineConfig::from_value(value).unwrap()
    }

    fn errors_of(value: Value) -> Vec<ValidationError> {
        validate_pipeline(&config(value), &[]).unwrap_err()
    }

    fn fields(errors: &[ValidationError]) -> Vec<&str> {
        errors.iter().map(|e| e.field.as_str()).collect()
    }

    fn wait(ref_id: &str, name: &str, requisites: &[&str]) -> Value {
        json!({"refId": ref_id, "name": name, "type": "wait", "requisiteStageRefIds": requisites})
    }

    #[test]
    fn invalid_cron_expressions_name_the_trigger_field() {
        let errors = errors_of(json!({"name": "p", "application": "app", "triggers": [
            {"type": "webhook", "source": "x"},
            {"type": "cron", "cronExpression": "0 0 10 ? * MON-FRI"},
            {"type": "cron", "cronExpression": "0 61 10 ? * MON"},
            {"type": "cron"}]}));
        assert_eq!(
            fields(&errors),
            vec!["triggers[2].cronExpression", "triggers[3].cronExpression"]
        );
        assert!(
            errors[0].message.starts_with("minutes field '61'"),
            "{:?}",
            errors[0]
        );
    }

    #[test]
    fn a_valid_dag_passes() {
        let value = json!({"name": "p", "application": "app", "stages": [
            wait("1", "A", &[]), wait("2", "B", &["1"]), wait("3", "C", &["1"]),
            {"refId": "4", "name": "Judge", "type": "manualJudgment", "requisiteStageRefIds": ["2", "3"]}
        ]});
        assert_eq!(validate_pipeline(&config(value), &[]), Ok(()));
    }

    #[test]
    fn nulls_strings_for_numbers_and_legacy_fields_pass() {
        let exported = json!({"name": "p", "application": "app", "id": null, "index": null,
            "parallel": true, "stageCounter": 3, "appConfig": {}, "executionEngine": "v2",
            "schema": "1", "locked": {"ui": true}, "roles": ["team"], "limitConcurrent": null,
            "triggers": [{"type": "webhook", "source": "s", "enabled": null, "payloadConstraints": null},
                         {"type": "cron", "cronExpression": "0 0 10 ? * MON-FRI", "id": null}],
            "parameterConfig": [{"name": "x", "default": null, "options": null}],
            "notifications": null, "expectedArtifacts": null,
            "stages": [{"refId": "1", "requisiteStageRefIds": null, "type": "wait", "waitTime": "420",
                        "stageTimeoutMs": "600000", "failPipeline": null, "stageEnabled": null},
                       {"refId": 2, "requisiteStageRefIds": [1], "type": "deployManifest", "name": null}]});
        assert_eq!(validate_pipeline(&config(exported), &[]), Ok(()));
    }

    #[test]
    fn linear_pipeline_without_ref_ids_and_pipeline_without_stages_pass() {
        let linear = json!({"name": "p", "application": "app",
            "stages": [{"type": "wait"}, {"type": "wait"}]});
        assert_eq!(validate_pipeline(&config(linear), &[]), Ok(()));
        let empty = json!({"name": "p", "application": "app"});
        assert_eq!(validate_pipeline(&config(empty), &[]), Ok(()));
    }

    #[test]
    fn missing_or_blank_name_and_application_are_each_reported() {
        let errors = errors_of(json!({"name": "  ", "stages": []}));
        assert_eq!(fields(&errors), vec!["name", "application"]);
        assert!(errors[0].message.contains("requires name and application"));
        assert!(errors[0].message.contains("name is missing or blank"));
        assert!(
            errors[1]
                .message
                .contains("application is missing or blank")
        );
        let errors = errors_of(json!({"name": 7, "application": "app"}));
        assert_eq!(fields(&errors), vec!["name"]);
    }

    #[test]
    fn stages_must_be_an_array_of_objects() {
        let errors = errors_of(json!({"name": "p", "application": "a", "stages": "wait"}));
        assert_eq!(fields(&errors), vec!["stages"]);
        assert_eq!(errors[0].message, "stages must be an array, got a string");

        let errors = errors_of(json!({"name": "p", "application": "a",
            "stages": [wait("1", "A", &[]), 3, wait("2", "B", &["1"])]}));
        assert_eq!(fields(&errors), vec!["stages[1]"]);
        assert_eq!(
            errors[0].message,
            "each stage must be an object, got a number"
        );
    }

    #[test]
    fn positions_count_non_object_entries() {
        let errors = errors_of(json!({"name": "p", "application": "a",
            "stages": [null, {"refId": "1", "name": "Nothing"}]}));
        assert_eq!(fields(&errors), vec!["stages[0]", "stages[1].type"]);
    }

    #[test]
    fn duplicate_ref_ids_name_both_stages() {
        let errors = errors_of(json!({"name": "p", "application": "a",
            "stages": [wait("1", "A", &[]), wait("2", "B", &["1"]), wait("1", "C", &[])]}));
        assert_eq!(fields(&errors), vec!["stages[2].refId"]);
        assert_eq!(
            errors[0].message,
            "refId '1' of stages[2] (C) is already used by stages[0] (A)"
        );
    }

    #[test]
    fn numeric_and_string_ref_ids_are_the_same_ref_id() {
        let errors = errors_of(json!({"name": "p", "application": "a",
            "stages": [{"refId": 1, "name": "A", "type": "wait"}, wait("1", "B", &[])]}));
        assert_eq!(fields(&errors), vec!["stages[1].refId"]);
    }

    #[test]
    fn a_stage_without_ref_id_among_stages_with_ref_ids_is_reported() {
        let errors = errors_of(json!({"name": "p", "application": "a",
            "stages": [wait("1", "A", &[]), {"name": "B", "type": "wait"}]}));
        assert_eq!(fields(&errors), vec!["stages[1].refId"]);
        assert!(errors[0].message.contains("stages[1] (B) has no refId"));
    }

    #[test]
    fn unknown_requisite_names_the_stage_and_the_missing_ref_id() {
        let errors = errors_of(json!({"name": "p", "application": "a",
            "stages": [wait("1", "A", &[]), wait("2", "B", &["1", "9"])]}));
        assert_eq!(fields(&errors), vec!["stages[1].requisiteStageRefIds"]);
        assert_eq!(
            errors[0].message,
            "stages[1] (B) requires refId '9', which no stage has"
        );
    }

    #[test]
    fn a_cycle_is_reported_in_run_order() {
        let errors = errors_of(json!({"name": "p", "application": "a", "stages": [
            wait("1", "Wait A", &["2"]), wait("2", "Wait B", &["1"]), wait("3", "Wait C", &[])
        ]}));
        assert_eq!(fields(&errors), vec!["stages"]);
        assert_eq!(
            errors[0].message,
            "stages form a cycle: 1 (Wait A) -> 2 (Wait B) -> 1 (Wait A)"
        );
    }

    #[test]
    fn a_longer_cycle_and_a_self_loop_are_both_reported() {
        let errors = errors_of(json!({"name": "p", "application": "a", "stages": [
            wait("0", "Start", &[]),
            wait("1", "A", &["0", "3"]), wait("2", "B", &["1"]), wait("3", "C", &["2"]),
            wait("4", "Self", &["4"])
        ]}));
        let messages: Vec<&str> = errors.iter().map(|e| e.message.as_str()).collect();
        assert_eq!(
            messages,
            vec![
                "stages form a cycle: 1 (A) -> 2 (B) -> 3 (C) -> 1 (A)",
                "stages form a cycle: 4 (Self) -> 4 (Self)"
            ]
        );
    }

    #[test]
    fn a_missing_type_is_refused_and_any_type_string_is_stored() {
        let errors = errors_of(json!({"name": "p", "application": "a", "stages": [
            {"refId": "1", "name": "Nothing"}, {"refId": "2", "type": "  "},
            {"refId": "3", "name": "Canary it", "type": "kayentaCanary"},
            {"refId": "4", "type": "Aws.LambdaDeploymentStage"},
            {"refId": "5", "type": "Vendor. Custom stage"}
        ]}));
        assert_eq!(fields(&errors), vec!["stages[0].type", "stages[1].type"]);
        assert_eq!(errors[0].message, "stages[0] (Nothing) has no type");
    }

    #[test]
    fn name_taken_by_another_pipeline_is_refused_case_insensitively() {
        let value = json!({"id": "mine", "name": " Deploy ", "application": "app", "stages": []});
        let siblings = [SiblingPipeline {
            id: "other",
            name: "deploy",
        }];
        let errors = validate_pipeline(&config(value), &siblings).unwrap_err();
        assert_eq!(fields(&errors), vec!["name"]);
        assert_eq!(
            errors[0].message,
            "A pipeline with name Deploy already exists in application app"
        );
    }

    #[test]
    fn the_pipeline_itself_and_other_names_do_not_conflict() {
        let value = json!({"id": "mine", "name": "Deploy", "application": "app"});
        let siblings = [
            SiblingPipeline {
                id: "mine",
                name: "DEPLOY",
            },
            SiblingPipeline {
                id: "other",
                name: "Deploy to prod",
            },
        ];
        assert_eq!(validate_pipeline(&config(value), &siblings), Ok(()));
    }

    #[test]
    fn a_new_pipeline_without_id_conflicts_with_any_same_name() {
        let value = json!({"name": "deploy", "application": "app"});
        let siblings = [SiblingPipeline {
            id: "x",
            name: "Deploy",
        }];
        assert!(validate_pipeline(&config(value), &siblings).is_err());
    }

    #[test]
    fn all_errors_are_collected() {
        let errors = errors_of(json!({"application": "a", "stages": [
            wait("1", "A", &["7"]), wait("1", "B", &[]), {"refId": "3", "type": "kayentaCanary"},
            {"refId": "4", "type": ""}
        ]}));
        assert_eq!(
            fields(&errors),
            vec![
                "name",
                "stages[3].type",
                "stages[1].refId",
                "stages[0].requisiteStageRefIds"
            ]
        );
    }
}
