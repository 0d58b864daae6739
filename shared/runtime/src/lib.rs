//! Glue shared by every function: AWS SDK configuration (with the endpoint override that
//! lets the same code run against AWS or the local emulator), logging, and the adapters for
//! Step Functions and SQS.

pub mod aws;
