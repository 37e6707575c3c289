//! Fleet rotation: an administrator rotates every IAM user's keys and hands each new key to
//! its owner, who installs it with `pickup`; the old key stays until the new one is in use.
//!
//! - [`stage`]: a user's stage and next steps, from IAM's and the delivery secret's facts.
//! - [`session`]: a whole `fleet status`, `plan` or `rotate` run, as a state machine.
//! - [`org`]: the same over the accounts of an AWS Organization, one session per account.
//! - [`delivery`]: the delivery secret: its name, description, value and resource policy.
//! - [`seal`]: `--encrypt`'s sealing of a delivery to its owner's public key (age).
//! - [`report`]: the IAM credential report.
//! - [`output`]: what the fleet commands print.
//! - [`policy`]: the IAM policies the administrator and the users need (`fleet policy`).

pub mod delivery;
pub mod notice;
pub mod org;
pub mod output;
pub mod policy;
pub mod report;
pub mod seal;
pub mod session;
pub mod stage;
