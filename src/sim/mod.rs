//! A simulated IAM and a model of the shell, for tests and the demo: [`SimIam`] (IAM's rules
//! and eventual consistency), [`Disk`] (the files and journals, and the shell's file steps on
//! them), [`World`] (both and the clock, and a run of the real core against them with faults and
//! crashes) and [`Checker`] (the spec's promises, asserted after every step); [`fleet`], the
//! same for the fleet commands: a simulated AWS account, its users' owners, and the fleet
//! promises.
//!
//! Everything is deterministic for a given world, fault plan and seed. No I/O.

mod checker;
mod disk;
pub mod fleet;
mod iam;
mod world;

pub use checker::{Checker, Violation};
pub use disk::Disk;
pub use iam::{SimIam, SimKey};
pub use world::{Fault, FaultPlan, RunEnd, RunSpec, World};
