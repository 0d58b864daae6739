//! Glue shared by every function: AWS SDK configuration (with the endpoint override that
//! lets the same code run against AWS or the local emulator), function configuration from
//! the environment, logging, SQS batch handling, and the Step Functions adapter.

pub mod aws;
pub mod batch;
pub mod env;
pub mod event_bus;
pub mod logging;
pub mod queue;
pub mod scheduler;
pub mod step_functions;
pub mod worker_queues;
