//! Local mode: the whole of Gennaker on one machine against a local AWS emulator.

pub mod authorizer;
pub mod builders;
pub mod console;
pub mod data_dir;
pub mod emulator;
pub mod host;
mod pollers;
mod schedules;
mod streams;
pub mod template;

pub use host::{Delivery, FaultHook, LocalAuth, LocalOptions, Running, TransitionHook, start};
