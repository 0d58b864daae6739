//! Glue shared by every function: AWS SDK configuration (with the endpoint override that
//! lets the same code run against AWS or the local emulator), logging, SQS batch handling,
//! and the adapters for Step Functions, SQS, EventBridge and the Scheduler.

pub mod aws;
pub mod batch;
pub mod event_bus;
pub mod logging;
pub mod metrics;
pub mod queue;
pub mod scheduler;
pub mod step_functions;
pub mod worker_queues;
