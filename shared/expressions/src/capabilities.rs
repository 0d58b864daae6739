//! `GET /capabilities/expressions` (Gate proxies Orca's `CapabilitiesController`).

use serde_json::{Map, Value, json};

use crate::functions::FUNCTIONS;

/// The functions and evaluator versions Deck offers in its expression helpers:
/// `{"functions": [{name, description, parameters: [{name, description, type}],
/// documentation?}], "spelEvaluators": [{versionKey, description, deprecated}]}`.
pub fn capabilities() -> Value {
    let functions: Vec<Value> = FUNCTIONS
        .iter()
        .map(|function| {
            let mut definition = Map::new();
            definition.insert("name".into(), Value::String(function.name.into()));
            definition.insert("description".into(), Value::String(function.description.into()));
            definition.insert(
                "parameters".into(),
                Value::Array(
                    function
                        .parameters
                        .iter()
                        .map(|(ty, name, description)| {
                            json!({"name": name, "description": description, "type": ty})
                        })
                        .collect(),
                ),
            );
            if function.name == "stage" {
                definition.insert(
                    "documentation".into(),
                    json!({
                        "documentation": "The most common use of this function is to check whether a specific stage has succeeded or failed. It can also be used to retrieve any information from the specified stage.",
                        "examples": [
                            {"usage": "#stage('bake').hasSucceeded", "description": "Returns `true` if the stage with the name `bake` has succeeded"},
                            {"usage": "#stage('bake').hasFailed", "description": "Returns `true` if the stage with the name `bake` has failed"}
                        ]
                    }),
                );
            }
            Value::Object(definition)
        })
        .collect();
    json!({
        "functions": functions,
        "spelEvaluators": [
            {"versionKey": "v4", "description": "Evaluates expressions at stage start; supports sequential evaluation of variables in Evaluate Variables stage", "deprecated": false},
            {"versionKey": "v3", "description": "Evaluates expressions as soon as possible, not recommended", "deprecated": false},
            {"versionKey": "v2", "description": "DO NOT USE", "deprecated": true}
        ]
    })
}
