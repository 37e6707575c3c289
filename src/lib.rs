//! The core of aws-rotate-keys: everything that decides, nothing that does I/O.
//!
//! This library reads no file, opens no socket, has no clock and no randomness of its own: the
//! shell (the `aws-rotate-keys` binary) hands it the text of the `aws` config and credentials
//! files, the answers of IAM and STS, the current time and a seed, and carries out the steps it
//! returns. That is what lets the same code run in the binary, in a simulation with a fake IAM
//! ([`sim`], behind the `sim` feature) and compiled to WebAssembly.
//!
//! # The pieces
//!
//! - [`ini`]: a lossless model of the two files, read exactly as botocore reads them; edits are
//!   spliced into the original text, so every other byte stays.
//! - [`profile`]: which file and section hold a profile's static keys, what kind of credentials
//!   a profile has, and which other profiles hold the same key.
//! - [`plan`]: the decision: which key is replaced, which one (if any) is removed to make room
//!   and why, what happens to the old key, whether the user must agree first.
//! - [`rotation`]: the state machine that executes a plan step by step, and undoes or resumes it.
//! - [`journal`]: the crash-safety record the state machine writes beside the credentials file.
//! - [`render`]: the output, rendered as the `aws` CLI renders it (json, text, table, yaml,
//!   yaml-stream, off), after an optional `--query`.
//!
//! # Driving a rotation
//!
//! ```text
//! files  = AwsFiles::parse(config_text, credentials_text)?
//! picked = profile::select(&files, &selection)?            // one Candidate per distinct key
//! for each candidate:
//!     identity = sts:GetCallerIdentity (signed by the candidate's key)
//!     keys     = iam:ListAccessKeys
//!     match plan::decide(&Target::Profiles(candidate), &identity, &keys, &files.held_keys(), &options, now):
//!         Skip(..)   => report "not due"
//!         Refuse(e)  => exit e.exit_status()
//!         Rotate(p)  => confirm p.make_room if needs_confirmation, then drive Rotation::new(&p, ..)
//! ```
//!
//! A [`rotation::Rotation`] is driven like quinn-proto's connections: drain
//! [`poll_action`](rotation::Rotation::poll_action) until it returns `None`, executing each
//! [`Action`](rotation::Action) and passing its [`Outcome`](rotation::Outcome) to
//! [`handle_outcome`](rotation::Rotation::handle_outcome) (exactly one outcome per action, in
//! order); then, if [`poll_timeout`](rotation::Rotation::poll_timeout) returns a time, sleep until
//! then and call [`handle_timeout`](rotation::Rotation::handle_timeout); when both polls return
//! `None`, the [`report`](rotation::Rotation::report) is final. `now` never goes backwards.
//!
//! ```
//! use aws_rotate_keys::rotation::{Action, Outcome, Rotation};
//! use aws_rotate_keys::time::Timestamp;
//!
//! fn drive(mut rot: Rotation, mut execute: impl FnMut(&Action) -> Outcome, mut now: Timestamp) {
//!     loop {
//!         while let Some(action) = rot.poll_action() {
//!             let outcome = execute(&action); // never `?`: a failure is an input
//!             rot.handle_outcome(outcome, now);
//!         }
//!         match rot.poll_timeout() {
//!             Some(at) => {
//!                 now = now.max(at); // the shell sleeps until `at`
//!                 rot.handle_timeout(now);
//!             }
//!             None => break,
//!         }
//!     }
//!     println!("{:?}", rot.report().status);
//! }
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs, unreachable_pub)]

pub mod action;
pub mod error;
pub mod ini;
pub mod journal;
pub mod key;
pub mod output;
pub mod plan;
pub mod profile;
pub mod render;
pub mod rotation;
pub mod session;
#[cfg(any(test, feature = "sim"))]
pub mod sim;
pub mod time;
