//! Local stand-in for EventBridge Scheduler's firing: the emulator stores schedules but never
//! fires them. This poller lists the schedules of the deployment's schedule groups through the
//! Scheduler API, computes each one's next fire time (croner, in the schedule's time zone, at
//! second 0 like the Scheduler) and at that time sends the schedule's target input, with the
//! Scheduler's context attributes filled in, to its SQS target — once per fire time.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use gennaker_model::cron::next_eventbridge_fire;
use gennaker_runtime::scheduler::{Schedule, Scheduler};
use tokio::sync::watch;

const POLL_INTERVAL: Duration = Duration::from_millis(500);
/// A schedule first seen (or changed) up to this long after it was written still fires at
/// times after its write: polls are this far apart at worst, so no fire time is skipped.
const FIRST_SEEN_GRACE: chrono::Duration = chrono::Duration::seconds(5);

pub async fn run(
    schedulers: Vec<Scheduler>,
    sqs: aws_sdk_sqs::Client,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut firer = Firer {
        sqs,
        fired_until: HashMap::new(),
    };
    while !*shutdown.borrow() {
        for scheduler in &schedulers {
            if let Err(error) = firer.tick(scheduler, Utc::now()).await {
                tracing::warn!(group = scheduler.group(), %error, "firing schedules failed; retrying");
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(POLL_INTERVAL) => {}
            _ = shutdown.changed() => {}
        }
    }
}

struct Firer {
    sqs: aws_sdk_sqs::Client,
    /// Per schedule (group/name): the time up to which it has fired.
    fired_until: HashMap<String, DateTime<Utc>>,
}

impl Firer {
    async fn tick(&mut self, scheduler: &Scheduler, now: DateTime<Utc>) -> Result<(), String> {
        let names = scheduler.list_names("").await.map_err(|e| e.to_string())?;
        let group = scheduler.group();
        self.fired_until.retain(|key, _| {
            key.split_once('/')
                .is_none_or(|(g, name)| g != group || names.iter().any(|n| n == name))
        });
        for name in names {
            let Some(schedule) = scheduler.get(&name).await.map_err(|e| e.to_string())? else {
                continue;
            };
            if !schedule.enabled {
                continue;
            }
            let key = format!("{group}/{name}");
            let since = self.since(&key, &schedule, now);
            let Some(fire_at) = next_fire(&schedule, since) else {
                continue;
            };
            if fire_at > now {
                continue;
            }
            self.send(scheduler, &schedule, fire_at).await?;
            self.fired_until.insert(key, fire_at);
        }
        Ok(())
    }

    /// Fire times after this one are due: the last fire, or for a schedule first seen, the
    /// moment it was written (but never long ago: missed fires are dropped, as Echo's misfire
    /// policy "do nothing" does).
    fn since(&self, key: &str, schedule: &Schedule, now: DateTime<Utc>) -> DateTime<Utc> {
        let written = schedule
            .modified_at
            .and_then(|secs| DateTime::from_timestamp(secs, 0))
            .unwrap_or(now);
        let earliest = now - FIRST_SEEN_GRACE;
        match self.fired_until.get(key) {
            Some(fired) => (*fired).max(earliest),
            None => written.max(earliest),
        }
    }

    async fn send(
        &self,
        scheduler: &Scheduler,
        schedule: &Schedule,
        fire_at: DateTime<Utc>,
    ) -> Result<(), String> {
        let queue_name = schedule
            .target_arn
            .rsplit(':')
            .next()
            .ok_or("the target is not a queue ARN")?;
        let queue_url = self
            .sqs
            .get_queue_url()
            .queue_name(queue_name)
            .send()
            .await
            .map_err(|e| format!("{e:?}"))?
            .queue_url
            .ok_or("GetQueueUrl returned no URL")?;
        let body = with_context_attributes(&schedule.input, scheduler.group(), schedule, fire_at);
        self.sqs
            .send_message()
            .queue_url(queue_url)
            .message_body(body)
            .send()
            .await
            .map_err(|e| format!("{e:?}"))?;
        tracing::info!(schedule = %schedule.name, %fire_at, "fired a schedule");
        Ok(())
    }
}

fn next_fire(schedule: &Schedule, since: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let time_zone = schedule.time_zone.parse().ok()?;
    next_eventbridge_fire(&schedule.expression, time_zone, since)
}

/// The Scheduler's context attributes in a target input, as it fills them in.
fn with_context_attributes(
    input: &str,
    group: &str,
    schedule: &Schedule,
    fire_at: DateTime<Utc>,
) -> String {
    let arn = format!(
        "arn:aws:scheduler:{}:{}:schedule/{group}/{}",
        gennaker_runtime::aws::LOCAL_REGION,
        crate::template::ACCOUNT_ID,
        schedule.name
    );
    input
        .replace(
            "<aws.scheduler.scheduled-time>",
            &fire_at.to_rfc3339_opts(SecondsFormat::Secs, true),
        )
        .replace("<aws.scheduler.schedule-arn>", &arn)
        .replace("<aws.scheduler.execution-id>", &execution_id(&arn, fire_at))
        .replace("<aws.scheduler.attempt-number>", "1")
}

/// An id unique per schedule and fire time (the Scheduler's is a UUID; nothing here reads it).
fn execution_id(arn: &str, fire_at: DateTime<Utc>) -> String {
    format!("{arn}@{}", fire_at.timestamp())
}
