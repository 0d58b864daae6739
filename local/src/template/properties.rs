//! The properties accepted for each resource type, as typed shapes: an unknown property
//! is an error that names it.

use std::collections::BTreeMap;
use std::fmt::Display;
use std::str::FromStr;

use anyhow::Context;
use aws_sdk_dynamodb::types as ddb;
use serde::de::Error as _;
use serde::{Deserialize, Deserializer};
use serde_json::Value as Json;

use super::parse::scalar_text;
use super::resolve::Scope;
use super::{QUEUE, SqsEventSource, StreamEventSource, TABLE};

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(super) struct TableProperties {
    pub(super) table_name: Option<String>,
    pub(super) billing_mode: Option<String>,
    pub(super) attribute_definitions: Vec<AttributeDefinition>,
    pub(super) key_schema: Vec<KeyElement>,
    #[serde(default)]
    pub(super) global_secondary_indexes: Vec<SecondaryIndex>,
    pub(super) provisioned_throughput: Option<Throughput>,
    pub(super) stream_specification: Option<StreamSpecification>,
    pub(super) time_to_live_specification: Option<TimeToLive>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(super) struct AttributeDefinition {
    pub(super) attribute_name: String,
    pub(super) attribute_type: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(super) struct KeyElement {
    pub(super) attribute_name: String,
    pub(super) key_type: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(super) struct SecondaryIndex {
    pub(super) index_name: String,
    pub(super) key_schema: Vec<KeyElement>,
    pub(super) projection: Projection,
    pub(super) provisioned_throughput: Option<Throughput>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(super) struct Projection {
    pub(super) projection_type: Option<String>,
    pub(super) non_key_attributes: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(super) struct Throughput {
    pub(super) read_capacity_units: Lenient<i64>,
    pub(super) write_capacity_units: Lenient<i64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(super) struct StreamSpecification {
    pub(super) stream_view_type: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(super) struct TimeToLive {
    pub(super) attribute_name: String,
    pub(super) enabled: Lenient<bool>,
}

impl TableProperties {
    pub(super) fn attribute_definitions(&self) -> anyhow::Result<Vec<ddb::AttributeDefinition>> {
        self.attribute_definitions
            .iter()
            .map(|a| {
                Ok(ddb::AttributeDefinition::builder()
                    .attribute_name(&a.attribute_name)
                    .attribute_type(ddb::ScalarAttributeType::from(a.attribute_type.as_str()))
                    .build()?)
            })
            .collect()
    }

    pub(super) fn global_secondary_indexes(
        &self,
    ) -> anyhow::Result<Option<Vec<ddb::GlobalSecondaryIndex>>> {
        if self.global_secondary_indexes.is_empty() {
            return Ok(None);
        }
        let indexes = self.global_secondary_indexes.iter().map(|index| {
            let projection = ddb::Projection::builder()
                .set_projection_type(
                    index
                        .projection
                        .projection_type
                        .as_deref()
                        .map(ddb::ProjectionType::from),
                )
                .set_non_key_attributes(index.projection.non_key_attributes.clone())
                .build();
            Ok(ddb::GlobalSecondaryIndex::builder()
                .index_name(&index.index_name)
                .set_key_schema(Some(key_schema(&index.key_schema)?))
                .projection(projection)
                .set_provisioned_throughput(
                    index
                        .provisioned_throughput
                        .as_ref()
                        .map(throughput)
                        .transpose()?,
                )
                .build()?)
        });
        indexes.collect::<anyhow::Result<_>>().map(Some)
    }

    pub(super) fn stream_specification(&self) -> anyhow::Result<Option<ddb::StreamSpecification>> {
        let Some(stream) = &self.stream_specification else {
            return Ok(None);
        };
        let specification = ddb::StreamSpecification::builder()
            .stream_enabled(true)
            .stream_view_type(ddb::StreamViewType::from(stream.stream_view_type.as_str()))
            .build()?;
        Ok(Some(specification))
    }
}

pub(super) fn key_schema(elements: &[KeyElement]) -> anyhow::Result<Vec<ddb::KeySchemaElement>> {
    elements
        .iter()
        .map(|e| {
            Ok(ddb::KeySchemaElement::builder()
                .attribute_name(&e.attribute_name)
                .key_type(ddb::KeyType::from(e.key_type.as_str()))
                .build()?)
        })
        .collect()
}

pub(super) fn throughput(throughput: &Throughput) -> anyhow::Result<ddb::ProvisionedThroughput> {
    Ok(ddb::ProvisionedThroughput::builder()
        .read_capacity_units(throughput.read_capacity_units.0)
        .write_capacity_units(throughput.write_capacity_units.0)
        .build()?)
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(super) struct StateMachineProperties {
    pub(super) name: Option<String>,
    #[serde(rename = "Type")]
    pub(super) machine_type: Option<String>,
    pub(super) definition_uri: Option<String>,
    pub(super) definition: Option<Json>,
    #[serde(default)]
    pub(super) definition_substitutions: BTreeMap<String, Json>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct EventProperties {
    #[serde(rename = "Type")]
    pub(super) event_type: String,
    #[serde(rename = "Properties", default)]
    pub(super) properties: Json,
}

/// An `HttpApi` event: its route, and whether it opts out of the API's authorizer.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(super) struct HttpApiEventProperties {
    #[serde(rename = "ApiId")]
    pub(super) _api_id: Json,
    pub(super) path: String,
    pub(super) method: String,
    #[serde(default)]
    pub(super) auth: Option<HttpApiEventAuth>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(super) struct HttpApiEventAuth {
    pub(super) authorizer: String,
}

impl HttpApiEventProperties {
    pub(super) fn is_open(&self) -> bool {
        self.auth
            .as_ref()
            .is_some_and(|auth| auth.authorizer == "NONE")
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(super) struct ScheduleEventProperties {
    pub(super) schedule: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(super) struct SqsEventProperties {
    pub(super) queue: Json,
    pub(super) batch_size: Option<Lenient<i32>>,
    #[serde(default)]
    pub(super) function_response_types: Vec<String>,
}

impl SqsEventProperties {
    pub(super) fn into_source(self, scope: &Scope) -> anyhow::Result<SqsEventSource> {
        let arn = scope.resolve_text(&self.queue)?;
        let queue = scope
            .resources
            .values()
            .find(|r| r.resource_type == QUEUE && r.attributes.get("Arn") == Some(&arn))
            .with_context(|| format!("no queue of the template has the ARN {arn}"))?;
        Ok(SqsEventSource {
            queue_logical_id: queue.logical_id.clone(),
            queue_url: queue.ref_value.clone(),
            // SAM's default batch size for SQS.
            batch_size: self.batch_size.map_or(10, |size| size.0),
            report_batch_item_failures: self
                .function_response_types
                .iter()
                .any(|t| t == "ReportBatchItemFailures"),
        })
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(super) struct StreamEventProperties {
    pub(super) stream: Json,
    pub(super) starting_position: String,
    pub(super) batch_size: Option<Lenient<i32>>,
    /// Lambda's retry limit; the local poller retries a failed batch until it succeeds.
    #[allow(dead_code)]
    pub(super) maximum_retry_attempts: Option<Lenient<i32>>,
    #[serde(default)]
    pub(super) function_response_types: Vec<String>,
}

impl StreamEventProperties {
    pub(super) fn into_source(self, scope: &Scope) -> anyhow::Result<StreamEventSource> {
        let arn = scope.resolve_text(&self.stream)?;
        let table = scope
            .resources
            .values()
            .find(|r| r.resource_type == TABLE && r.attributes.get("StreamArn") == Some(&arn))
            .with_context(|| format!("no table of the template has the stream {arn}"))?;
        Ok(StreamEventSource {
            table_logical_id: table.logical_id.clone(),
            stream_arn: arn,
            starting_position: self.starting_position,
            // SAM's default batch size for DynamoDB streams.
            batch_size: self.batch_size.map_or(100, |size| size.0),
            report_batch_item_failures: self
                .function_response_types
                .iter()
                .any(|t| t == "ReportBatchItemFailures"),
        })
    }
}

/// A number or boolean that CloudFormation also accepts as a string (`"60"`, `"true"`).
pub(super) struct Lenient<T>(pub(super) T);

impl<'de, T: FromStr<Err: Display>> Deserialize<'de> for Lenient<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Json::deserialize(deserializer)?;
        let text = scalar_text(&value).map_err(D::Error::custom)?;
        text.parse()
            .map(Lenient)
            .map_err(|e| D::Error::custom(format!("{text:?}: {e}")))
    }
}
