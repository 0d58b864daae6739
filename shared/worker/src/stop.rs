//! How one poll of a multi-step worker (bake, server groups) ends early: a failure that ends
//! the stage TERMINAL with its message, the stage being over (canceled or restarted while
//! the poll ran), or an error that hands the message back to the queue for a retry.

use gennaker_store::StoreError;

use crate::WorkerError;

/// Why a poll stops before its answer.
#[derive(Debug)]
pub enum Stop {
    /// The stage fails (TERMINAL) with this message: bad input, a refused cloud call.
    Failed(String),
    /// The stage is no longer running at this attempt: undo what this poll started.
    Over,
    /// Try the message again later (the store or Step Functions failed).
    Worker(WorkerError),
}

/// One step of a poll.
pub type Step<T> = Result<T, Stop>;

impl From<WorkerError> for Stop {
    fn from(error: WorkerError) -> Self {
        Stop::Worker(error)
    }
}

impl From<StoreError> for Stop {
    fn from(error: StoreError) -> Self {
        Stop::Worker(error.into())
    }
}

/// Cloud errors and bad requests end the stage: they will not go away on a retry.
#[cfg(feature = "cloud")]
mod cloud {
    use super::Stop;
    use gennaker_cloud::CloudError;
    use gennaker_cloud::requests::RequestError;

    impl From<RequestError> for Stop {
        fn from(error: RequestError) -> Self {
            Stop::Failed(error.to_string())
        }
    }

    impl From<CloudError> for Stop {
        fn from(error: CloudError) -> Self {
            Stop::Failed(error.to_string())
        }
    }
}
