//! `deployCloudFormation` (Orca's `DeployCloudFormationStage`): the first poll creates or
//! updates the stack (or creates a change set, `isChangeSet`) and records the stack id
//! (`stackId`); later polls wait for the stack or change set to settle, answering RUNNING
//! meanwhile. A ready change set is executed when `executeChangeSet` asks for it (after the
//! `actionOnReplacement` check), and the stage then waits for the stack again.
//!
//! The stage outputs are the stack as Clouddriver models it (`outputs` holds the stack's
//! output values); a failed stack reports its failed resources' events.
//!
//! Change sets by name: a stage that only creates a change set (to be reviewed, say behind
//! a manual judgment) replaces an unexecuted one of the same name; a stage that executes
//! one reuses a ready change set of that name, so the reviewed change set is the one run.

use gennaker_cloud::RegionClients;
use gennaker_cloud::cloudformation::{
    self, ChangeSet, ChangeSetRequest, ChangeSetState, DeployStackRequest, OnReplacement, Stack,
    StackState,
};
use gennaker_worker::{Answer, Step, Stop};
use serde_json::{Map, Value, json};

use super::Poll;

/// The stack the stage deploys, recorded once it was submitted.
const STACK_ID: &str = "stackId";
/// Set once the stage executed its change set (Orca's context key).
const EXECUTED: &str = "isChangeSetExecution";

impl Poll<'_> {
    pub(super) async fn deploy_cloud_formation(&self) -> Step<Answer> {
        let context = self.context();
        let request = cloudformation::deploy_stack(&context)?;
        let clients = self.clients(&request.location).await?;
        let mut progress = Map::new();
        let stack_id = match context.get(STACK_ID).and_then(Value::as_str) {
            Some(stack_id) => stack_id.to_string(),
            None => {
                let stack_id = self.submit(&clients, &request).await?;
                progress.insert(STACK_ID.into(), json!(stack_id));
                self.record(&progress).await?;
                stack_id
            }
        };
        let executed = context.get(EXECUTED) == Some(&json!(true));
        match &request.change_set {
            Some(change_set) if !executed => {
                self.on_change_set(&clients, &request, change_set, &stack_id, progress)
                    .await
            }
            _ => {
                if executed {
                    progress.insert(EXECUTED.into(), json!(true));
                }
                self.wait_for_stack(&clients, &request, &stack_id, progress, None)
                    .await
            }
        }
    }

    /// Creates or updates the stack, or creates the change set; the stack's id.
    async fn submit(&self, clients: &RegionClients, request: &DeployStackRequest) -> Step<String> {
        let existing = clients.stack(&request.stack_name).await?;
        let token = self.client_token("deploy");
        let Some(change_set) = &request.change_set else {
            return Ok(clients
                .deploy_stack(request, existing.is_some(), &token)
                .await?);
        };
        if let Some(stack) = &existing
            && let Some(found) = clients
                .change_set(&stack.stack_id, &change_set.name)
                .await?
            && !found.executed()
        {
            if change_set.execute
                && cloudformation::change_set_state(&found) == ChangeSetState::Ready
            {
                return Ok(stack.stack_id.clone());
            }
            clients
                .delete_change_set(&stack.stack_id, &change_set.name)
                .await?;
        }
        Ok(clients
            .create_change_set(request, change_set, existing.as_ref(), &token)
            .await?)
    }

    async fn on_change_set(
        &self,
        clients: &RegionClients,
        request: &DeployStackRequest,
        change_set: &ChangeSetRequest,
        stack_id: &str,
        mut progress: Map<String, Value>,
    ) -> Step<Answer> {
        let found = clients
            .change_set(stack_id, &change_set.name)
            .await?
            .ok_or_else(|| {
                Stop::Failed(format!(
                    "change set {} of stack {} disappeared before it was ready",
                    change_set.name, request.stack_name
                ))
            })?;
        let done = |stack: &Stack, progress: Map<String, Value>| {
            Answer::succeeded(progress, stack.to_outputs(&request.location, &[&found]))
        };
        match cloudformation::change_set_state(&found) {
            ChangeSetState::InProgress => Ok(self.running(progress)),
            ChangeSetState::Failed(reason) => Err(Stop::Failed(format!(
                "change set {} of stack {} failed: {reason}",
                change_set.name, request.stack_name
            ))),
            ChangeSetState::Empty => {
                // Nothing to change: Orca deletes the change set and succeeds.
                clients
                    .delete_change_set(stack_id, &change_set.name)
                    .await?;
                progress.insert("deleteChangeSet".into(), json!(true));
                let stack = self.stack(clients, request, stack_id).await?;
                Ok(done(&stack, progress))
            }
            ChangeSetState::Ready if !change_set.execute => {
                let stack = self.stack(clients, request, stack_id).await?;
                Ok(done(&stack, progress))
            }
            ChangeSetState::Ready => {
                let replaced = found.replacements();
                if !replaced.is_empty() {
                    match refuse_replacement(change_set, &replaced) {
                        Some(Refusal::Skip) => {
                            let stack = self.stack(clients, request, stack_id).await?;
                            return Ok(done(&stack, progress));
                        }
                        Some(Refusal::Fail(message)) => return Err(Stop::Failed(message)),
                        None => {}
                    }
                }
                if !found.executed() {
                    let token = self.client_token("execute");
                    clients
                        .execute_change_set(stack_id, &change_set.name, &token)
                        .await?;
                }
                progress.insert(EXECUTED.into(), json!(true));
                self.record(&progress).await?;
                self.wait_for_stack(clients, request, stack_id, progress, Some(&found))
                    .await
            }
        }
    }

    async fn wait_for_stack(
        &self,
        clients: &RegionClients,
        request: &DeployStackRequest,
        stack_id: &str,
        progress: Map<String, Value>,
        change_set: Option<&ChangeSet>,
    ) -> Step<Answer> {
        let stack = self.stack(clients, request, stack_id).await?;
        match cloudformation::stack_state(&stack.status) {
            StackState::InProgress => Ok(self.running(progress)),
            StackState::Settled => {
                let change_sets: Vec<&ChangeSet> = change_set.into_iter().collect();
                Ok(Answer::succeeded(
                    progress,
                    stack.to_outputs(&request.location, &change_sets),
                ))
            }
            StackState::Failed => {
                let events = clients.stack_events(stack_id).await?;
                Err(Stop::Failed(cloudformation::failure_report(
                    &stack, &events,
                )))
            }
        }
    }

    async fn stack(
        &self,
        clients: &RegionClients,
        request: &DeployStackRequest,
        stack_id: &str,
    ) -> Step<Stack> {
        clients.stack(stack_id).await?.ok_or_else(|| {
            Stop::Failed(format!(
                "stack {} disappeared while it was being deployed",
                request.stack_name
            ))
        })
    }

    /// Records `entries` on the stage (shown while it runs; a redelivered poll finds them).
    async fn record(&self, entries: &Map<String, Value>) -> Step<()> {
        self.worker
            .progress
            .record(self.input, self.loaded.clone(), entries)
            .await?
            .ok_or(Stop::Over)?;
        Ok(())
    }

    /// A client token for one call of this stage attempt (CloudFormation allows letters,
    /// digits and dashes, up to 128 characters).
    fn client_token(&self, call: &str) -> String {
        let raw = format!(
            "gennaker-{call}-{}-{}-{}",
            self.input.execution_id, self.input.stage_id, self.input.attempt
        );
        raw.chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .take(128)
            .collect()
    }
}

enum Refusal {
    /// `skip`: the stage succeeds without executing.
    Skip,
    Fail(String),
}

/// What `actionOnReplacement` makes of a change set that replaces `replaced`; `None`:
/// execute it.
fn refuse_replacement(change_set: &ChangeSetRequest, replaced: &[&str]) -> Option<Refusal> {
    let replaced = replaced.join(", ");
    match change_set.on_replacement {
        OnReplacement::Execute => None,
        OnReplacement::Skip => Some(Refusal::Skip),
        OnReplacement::Fail => Some(Refusal::Fail(format!(
            "change set {} replaces {replaced}, and actionOnReplacement is 'fail'",
            change_set.name
        ))),
        OnReplacement::Ask => Some(Refusal::Fail(format!(
            "change set {} replaces {replaced}; actionOnReplacement 'ask' waits for a choice \
             in Deck, which Gennaker does not offer: set actionOnReplacement to 'execute', \
             'skip' or 'fail' (or review the change set behind a manual judgment)",
            change_set.name
        ))),
    }
}
