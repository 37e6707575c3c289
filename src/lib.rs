//! aws-rotate-keys core (in progress).
#![warn(missing_docs, unreachable_pub)]

pub mod ini;
pub mod key;
pub mod time;
pub mod journal;
pub mod plan;
pub mod profile;
pub mod rotation;
