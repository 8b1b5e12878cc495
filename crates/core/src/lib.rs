//! Powerdeck's engine, with no GUI dependency: the SQLite inventory, the
//! provider contract and its shared call layer, the embedded demo fleet,
//! verified power operations, tiered sync and the typed event bus.
//!
//! Data flows one way round: provider → reconcile (the one door) → store →
//! event bus → front ends; commands go front end → engine → provider.

pub mod calendar;
pub mod engine;
pub mod error;
pub mod events;
pub mod failpoint;
#[cfg(test)]
mod fuzz;
#[cfg(any(test, feature = "fuzzing"))]
#[doc(hidden)]
pub mod fuzzing;
pub mod group;
pub mod hours;
pub mod logfile;
pub mod model;
pub mod paths;
pub mod provider;
pub mod reconcile;
pub mod runbook;
pub mod schedule;
pub mod secrets;
pub mod store;
pub mod text;
pub mod vocabulary;

pub use engine::{Engine, EngineConfig, FiringView, OpOptions, Resolved, ScheduleView, SyncSummary, Workers};
pub use error::CoreError;
pub use events::{Event, EventBus, VmChange};
