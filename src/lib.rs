//! aws-rotate-keys core (in progress).
#![warn(missing_docs, unreachable_pub)]

pub mod ini;
pub mod journal;
pub mod key;
pub mod plan;
pub mod profile;
pub mod rotation;
#[cfg(any(test, feature = "sim"))]
pub mod sim;
pub mod time;
