//! CloudFormation stacks and change sets (Clouddriver's CloudFormation operations).
//!
//! Each submitting call carries a client token derived from the stage attempt, and the
//! answers a repeated call gets (the stack or change set already exists, nothing to update)
//! are read as "done already", so a redelivered poll repeats them safely.

use aws_sdk_cloudformation::error::ProvideErrorMetadata;
use aws_sdk_cloudformation::types as cfn;

use super::{CloudError, RegionClients, aws_error};
use crate::cloudformation::{
    ChangeSet, ChangeSetRequest, DeployStackRequest, ResourceChange, Stack, StackEvent,
};

impl RegionClients {
    /// The stack named (or with the id) `name`; `None` when there is none.
    pub async fn stack(&self, name: &str) -> Result<Option<Stack>, CloudError> {
        match self
            .cloudformation
            .describe_stacks()
            .stack_name(name)
            .send()
            .await
        {
            Ok(found) => Ok(found.stacks().first().map(stack)),
            Err(error) if is_missing(&error) => Ok(None),
            Err(error) => Err(aws_error("DescribeStacks")(error)),
        }
    }

    /// Creates the stack, or updates it when it exists (Clouddriver's
    /// `DeployCloudFormationAtomicOperation`); "no updates are to be performed" is success.
    /// The stack's id.
    pub async fn deploy_stack(
        &self,
        request: &DeployStackRequest,
        exists: bool,
        token: &str,
    ) -> Result<String, CloudError> {
        let submitted = if exists {
            let call = self
                .cloudformation
                .update_stack()
                .stack_name(&request.stack_name)
                .template_body(&request.template_body)
                .set_parameters(Some(parameters(request)))
                .set_tags(tags(request))
                .set_capabilities(Some(capabilities(request)))
                .set_role_arn(request.role_arn.clone())
                .client_request_token(token);
            match call.send().await {
                Ok(updated) => updated.stack_id().map(str::to_string),
                Err(error) if error.message().is_some_and(|m| m.contains("No updates")) => None,
                Err(error) => return Err(aws_error("UpdateStack")(error)),
            }
        } else {
            match self
                .cloudformation
                .create_stack()
                .stack_name(&request.stack_name)
                .template_body(&request.template_body)
                .set_parameters(Some(parameters(request)))
                .set_tags(tags(request))
                .set_capabilities(Some(capabilities(request)))
                .set_role_arn(request.role_arn.clone())
                .client_request_token(token)
                .send()
                .await
            {
                Ok(created) => created.stack_id().map(str::to_string),
                // A repeated poll whose first create went through.
                Err(error) if error.code() == Some("AlreadyExistsException") => None,
                Err(error) => return Err(aws_error("CreateStack")(error)),
            }
        };
        self.stack_id_or_lookup(submitted, request).await
    }

    /// Creates the change set (`CREATE` for a stack that does not exist or was never
    /// created, `UPDATE` otherwise). A change set of that name that exists already is
    /// kept: a repeated poll, or a review stage whose change set an execute stage reuses.
    /// The stack's id.
    pub async fn create_change_set(
        &self,
        request: &DeployStackRequest,
        change_set: &ChangeSetRequest,
        existing: Option<&Stack>,
        token: &str,
    ) -> Result<String, CloudError> {
        let change_set_type = match existing {
            Some(stack) if stack.status != "REVIEW_IN_PROGRESS" => cfn::ChangeSetType::Update,
            _ => cfn::ChangeSetType::Create,
        };
        let created = match self
            .cloudformation
            .create_change_set()
            .stack_name(&request.stack_name)
            .change_set_name(&change_set.name)
            .change_set_type(change_set_type)
            .template_body(&request.template_body)
            .set_parameters(Some(parameters(request)))
            .set_tags(tags(request))
            .set_capabilities(Some(capabilities(request)))
            .set_role_arn(request.role_arn.clone())
            .client_token(token)
            .send()
            .await
        {
            Ok(created) => created.stack_id().map(str::to_string),
            Err(error) if error.code() == Some("AlreadyExistsException") => None,
            Err(error) => return Err(aws_error("CreateChangeSet")(error)),
        };
        self.stack_id_or_lookup(created, request).await
    }

    /// The change set `name` of `stack_id`; `None` when it does not exist (any more).
    pub async fn change_set(
        &self,
        stack_id: &str,
        name: &str,
    ) -> Result<Option<ChangeSet>, CloudError> {
        match self
            .cloudformation
            .describe_change_set()
            .stack_name(stack_id)
            .change_set_name(name)
            .send()
            .await
        {
            Ok(found) => Ok(Some(ChangeSet {
                id: found.change_set_id().unwrap_or_default().to_string(),
                name: found.change_set_name().unwrap_or(name).to_string(),
                status: found
                    .status()
                    .map(|s| s.as_str().to_string())
                    .unwrap_or_default(),
                status_reason: found.status_reason().map(str::to_string),
                execution_status: found.execution_status().map(|s| s.as_str().to_string()),
                changes: found
                    .changes()
                    .iter()
                    .filter_map(cfn::Change::resource_change)
                    .map(resource_change)
                    .collect(),
            })),
            Err(error)
                if error.code() == Some("ChangeSetNotFound")
                    || error.code() == Some("ChangeSetNotFoundException")
                    || is_missing(&error) =>
            {
                Ok(None)
            }
            Err(error) => Err(aws_error("DescribeChangeSet")(error)),
        }
    }

    pub async fn execute_change_set(
        &self,
        stack_id: &str,
        name: &str,
        token: &str,
    ) -> Result<(), CloudError> {
        self.cloudformation
            .execute_change_set()
            .stack_name(stack_id)
            .change_set_name(name)
            .client_request_token(token)
            .send()
            .await
            .map(|_| ())
            .map_err(aws_error("ExecuteChangeSet"))
    }

    /// Deletes an (empty) change set; one already gone is fine.
    pub async fn delete_change_set(&self, stack_id: &str, name: &str) -> Result<(), CloudError> {
        match self
            .cloudformation
            .delete_change_set()
            .stack_name(stack_id)
            .change_set_name(name)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(error) if error.code() == Some("ChangeSetNotFound") => Ok(()),
            Err(error) => Err(aws_error("DeleteChangeSet")(error)),
        }
    }

    /// The stack's latest events, newest first (the first page: the last 100 or so).
    pub async fn stack_events(&self, stack_id: &str) -> Result<Vec<StackEvent>, CloudError> {
        let found = self
            .cloudformation
            .describe_stack_events()
            .stack_name(stack_id)
            .send()
            .await
            .map_err(aws_error("DescribeStackEvents"))?;
        Ok(found
            .stack_events()
            .iter()
            .map(|event| StackEvent {
                logical_resource_id: event.logical_resource_id().unwrap_or_default().to_string(),
                resource_type: event.resource_type().unwrap_or_default().to_string(),
                status: event
                    .resource_status()
                    .map(|s| s.as_str().to_string())
                    .unwrap_or_default(),
                status_reason: event.resource_status_reason().map(str::to_string),
            })
            .collect())
    }

    async fn stack_id_or_lookup(
        &self,
        stack_id: Option<String>,
        request: &DeployStackRequest,
    ) -> Result<String, CloudError> {
        if let Some(stack_id) = stack_id.filter(|id| !id.is_empty()) {
            return Ok(stack_id);
        }
        let stack = self.stack(&request.stack_name).await?.ok_or_else(|| {
            CloudError::Invalid(format!(
                "stack {} disappeared while it was being deployed",
                request.stack_name
            ))
        })?;
        Ok(stack.stack_id)
    }
}

/// DescribeStacks' answer for a stack that does not exist: a `ValidationError`.
fn is_missing<E: ProvideErrorMetadata>(error: &E) -> bool {
    error.code() == Some("ValidationError")
        && error
            .message()
            .is_some_and(|m| m.contains("does not exist"))
}

fn parameters(request: &DeployStackRequest) -> Vec<cfn::Parameter> {
    request
        .parameters
        .iter()
        .map(|(key, value)| {
            cfn::Parameter::builder()
                .parameter_key(key)
                .parameter_value(value)
                .build()
        })
        .collect()
}

/// The stage's tags; none given leaves a stack's tags alone (an empty list would remove
/// them), as Clouddriver's SDK leaves an empty list out.
fn tags(request: &DeployStackRequest) -> Option<Vec<cfn::Tag>> {
    (!request.tags.is_empty()).then(|| {
        request
            .tags
            .iter()
            .map(|(key, value)| cfn::Tag::builder().key(key).value(value).build())
            .collect()
    })
}

fn capabilities(request: &DeployStackRequest) -> Vec<cfn::Capability> {
    request
        .capabilities
        .iter()
        .map(|capability| cfn::Capability::from(capability.as_str()))
        .collect()
}

fn stack(stack: &cfn::Stack) -> Stack {
    Stack {
        stack_id: stack.stack_id().unwrap_or_default().to_string(),
        stack_name: stack.stack_name().unwrap_or_default().to_string(),
        status: stack
            .stack_status()
            .map(|s| s.as_str().to_string())
            .unwrap_or_default(),
        status_reason: stack.stack_status_reason().map(str::to_string),
        outputs: stack
            .outputs()
            .iter()
            .filter_map(|output| {
                Some((
                    output.output_key()?.to_string(),
                    output.output_value().unwrap_or_default().to_string(),
                ))
            })
            .collect(),
        tags: stack
            .tags()
            .iter()
            .filter_map(|tag| Some((tag.key()?.to_string(), tag.value()?.to_string())))
            .collect(),
    }
}

fn resource_change(change: &cfn::ResourceChange) -> ResourceChange {
    ResourceChange {
        action: change
            .action()
            .map(|a| a.as_str().to_string())
            .unwrap_or_default(),
        logical_resource_id: change.logical_resource_id().unwrap_or_default().to_string(),
        physical_resource_id: change.physical_resource_id().map(str::to_string),
        resource_type: change.resource_type().unwrap_or_default().to_string(),
        replacement: change.replacement().map(|r| r.as_str().to_string()),
    }
}
