//! Reading and writing item attributes.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{Result, StoreError};

pub(crate) type Item = HashMap<String, AttributeValue>;

pub(crate) const DOC: &str = "doc";
pub(crate) const VERSION: &str = "version";

pub(crate) fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

pub(crate) fn n(value: impl std::fmt::Display) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

pub(crate) fn string<'a>(item: &'a Item, name: &str) -> Result<&'a str> {
    optional_string(item, name).ok_or_else(|| missing(item, name))
}

pub(crate) fn optional_string<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    item.get(name)?.as_s().ok().map(String::as_str)
}

pub(crate) fn number<T: std::str::FromStr>(item: &Item, name: &str) -> Result<T> {
    item.get(name)
        .and_then(|value| value.as_n().ok())
        .and_then(|text| text.parse().ok())
        .ok_or_else(|| missing(item, name))
}

/// The `doc` attribute parsed as `T`.
pub(crate) fn doc<T: DeserializeOwned>(item: &Item) -> Result<T> {
    let text = string(item, DOC)?;
    serde_json::from_str(text)
        .map_err(|err| StoreError::Corrupt(format!("{} of {}: {err}", DOC, describe(item))))
}

pub(crate) fn to_json<T: Serialize>(value: &T) -> Result<String> {
    serde_json::to_string(value).map_err(|err| StoreError::Corrupt(format!("serializing: {err}")))
}

fn missing(item: &Item, name: &str) -> StoreError {
    StoreError::Corrupt(format!("{} lacks a valid '{name}'", describe(item)))
}

/// The key of an item, for error messages (never the payload).
fn describe(item: &Item) -> String {
    let part = |name: &str| optional_string(item, name).unwrap_or("?").to_string();
    match item.contains_key(crate::keys::PK) {
        true => format!("item {}/{}", part(crate::keys::PK), part(crate::keys::SK)),
        false => format!("item {}", part(crate::keys::APP_NAME)),
    }
}
