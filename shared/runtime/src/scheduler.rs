//! EventBridge Scheduler adapter: the schedules of one group, read, listed by name prefix,
//! and written so that "already there" / "already gone" answers count as success (two
//! reconciles of the same pipeline may race).

use aws_sdk_scheduler::Client;
use aws_sdk_scheduler::types::{FlexibleTimeWindow, FlexibleTimeWindowMode, ScheduleState, Target};

#[derive(Debug, thiserror::Error)]
#[error("EventBridge Scheduler {operation} failed: {message}")]
pub struct SchedulerError {
    pub operation: &'static str,
    pub message: String,
}

/// A schedule as Gennaker writes and reads it: a cron expression with a time zone that
/// sends `input` to an SQS queue (`target_arn`) through `role_arn`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    pub name: String,
    pub expression: String,
    pub time_zone: String,
    pub target_arn: String,
    pub role_arn: String,
    pub input: String,
    pub enabled: bool,
    /// Epoch seconds of the last change (reads only).
    pub modified_at: Option<i64>,
}

impl Schedule {
    /// Whether writing `wanted` would change anything (the modification time aside).
    pub fn same_as(&self, wanted: &Schedule) -> bool {
        Schedule {
            modified_at: None,
            ..self.clone()
        } == Schedule {
            modified_at: None,
            ..wanted.clone()
        }
    }
}

#[derive(Clone)]
pub struct Scheduler {
    client: Client,
    group: String,
}

fn failed(operation: &'static str, error: impl std::fmt::Debug) -> SchedulerError {
    SchedulerError {
        operation,
        message: format!("{error:?}"),
    }
}

impl Scheduler {
    pub fn new(client: Client, group: impl Into<String>) -> Self {
        Self {
            client,
            group: group.into(),
        }
    }

    pub fn group(&self) -> &str {
        &self.group
    }

    /// Names of the group's schedules that start with `prefix` (all of them for "").
    pub async fn list_names(&self, prefix: &str) -> Result<Vec<String>, SchedulerError> {
        let mut names = Vec::new();
        let mut pages = self
            .client
            .list_schedules()
            .group_name(&self.group)
            .set_name_prefix((!prefix.is_empty()).then(|| prefix.to_string()))
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| failed("ListSchedules", e))?;
            names.extend(
                page.schedules()
                    .iter()
                    .filter_map(|summary| summary.name().map(str::to_string))
                    // The prefix filter is the service's; check it in case it is not applied.
                    .filter(|name| name.starts_with(prefix)),
            );
        }
        Ok(names)
    }

    /// The schedule, or None when it does not exist.
    pub async fn get(&self, name: &str) -> Result<Option<Schedule>, SchedulerError> {
        let output = match self
            .client
            .get_schedule()
            .group_name(&self.group)
            .name(name)
            .send()
            .await
        {
            Ok(output) => output,
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|e| e.is_resource_not_found_exception()) =>
            {
                return Ok(None);
            }
            Err(error) => return Err(failed("GetSchedule", error)),
        };
        let target = output.target();
        Ok(Some(Schedule {
            name: name.to_string(),
            expression: output.schedule_expression().unwrap_or_default().to_string(),
            time_zone: output
                .schedule_expression_timezone()
                .unwrap_or("UTC")
                .to_string(),
            target_arn: target.map(|t| t.arn().to_string()).unwrap_or_default(),
            role_arn: target.map(|t| t.role_arn().to_string()).unwrap_or_default(),
            input: target
                .and_then(|t| t.input())
                .unwrap_or_default()
                .to_string(),
            enabled: output.state() != Some(&ScheduleState::Disabled),
            modified_at: output.last_modification_date().map(|date| date.secs()),
        }))
    }

    /// Creates the schedule, or updates it when it exists.
    pub async fn put(&self, schedule: &Schedule) -> Result<(), SchedulerError> {
        let created = self
            .client
            .create_schedule()
            .group_name(&self.group)
            .name(&schedule.name)
            .schedule_expression(&schedule.expression)
            .schedule_expression_timezone(&schedule.time_zone)
            .flexible_time_window(off()?)
            .target(target(schedule)?)
            .state(state(schedule))
            .send()
            .await;
        match created {
            Ok(_) => Ok(()),
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|e| e.is_conflict_exception()) =>
            {
                self.update(schedule).await
            }
            Err(error) => Err(failed("CreateSchedule", error)),
        }
    }

    async fn update(&self, schedule: &Schedule) -> Result<(), SchedulerError> {
        self.client
            .update_schedule()
            .group_name(&self.group)
            .name(&schedule.name)
            .schedule_expression(&schedule.expression)
            .schedule_expression_timezone(&schedule.time_zone)
            .flexible_time_window(off()?)
            .target(target(schedule)?)
            .state(state(schedule))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| failed("UpdateSchedule", e))
    }

    /// Deletes the schedule; one that is already gone is fine.
    pub async fn delete(&self, name: &str) -> Result<(), SchedulerError> {
        match self
            .client
            .delete_schedule()
            .group_name(&self.group)
            .name(name)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|e| e.is_resource_not_found_exception()) =>
            {
                Ok(())
            }
            Err(error) => Err(failed("DeleteSchedule", error)),
        }
    }
}

/// Fire at the scheduled time, not somewhere in a window.
fn off() -> Result<FlexibleTimeWindow, SchedulerError> {
    FlexibleTimeWindow::builder()
        .mode(FlexibleTimeWindowMode::Off)
        .build()
        .map_err(|e| failed("FlexibleTimeWindow", e))
}

fn target(schedule: &Schedule) -> Result<Target, SchedulerError> {
    Target::builder()
        .arn(&schedule.target_arn)
        .role_arn(&schedule.role_arn)
        .input(&schedule.input)
        .build()
        .map_err(|e| failed("Target", e))
}

fn state(schedule: &Schedule) -> ScheduleState {
    match schedule.enabled {
        true => ScheduleState::Enabled,
        false => ScheduleState::Disabled,
    }
}
