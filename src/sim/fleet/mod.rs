//! The fleet's simulation: a simulated AWS account ([`SimAws`]: IAM users, groups, keys, the
//! credential report, Secrets Manager), the owners who use the users' keys and pick up their
//! deliveries ([`Owner`]), the administrator's runs of the real [`crate::fleet::session`]
//! against them with faults and crashes ([`FleetWorld`]), and the fleet promises checked after
//! every step ([`FleetChecker`]); with `--notify-from` (the owners' mails, kept by the
//! simulated SES) and `--encrypt` (the deliveries sealed to their owners, opened by the owners'
//! pickups as the shell opens them) when a run asks for them.
//!
//! Everything is deterministic for a given world, fault plan and seed, except the sealed texts
//! (age draws its own randomness; nothing depends on their bytes). No I/O.

mod aws;
mod checker;
mod world;

pub use aws::{
    AwsState, FleetKey, FleetUser, Principal, REPORT_LIFETIME, ReportSnapshot, SimAws, SimMail,
    SimSecret,
};
pub use checker::{Counts, FleetChecker};
pub use world::{
    Admin, Broken, BrokenUser, FaultRates, FleetRunEnd, FleetRunSpec, FleetWorld, Owner, Pickup,
    describe_action, describe_outcome, open_sealed, same_recipient,
};
