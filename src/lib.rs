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
//! - [`session`]: a whole run of `rotate`, `plan` or `status` over every selected profile.
//! - [`action`]: what the core asks the shell to do, and what the shell answers.
//! - [`output`]: what the commands print; [`render`] draws it as the `aws` CLI does (json, text,
//!   table, yaml, yaml-stream, off), after an optional `--query`.
//! - [`error`]: how a run that did not go well ends.
//!
//! # Driving a run
//!
//! A [`session::Session`] is driven like quinn-proto's connections: drain
//! [`poll_action`](session::Session::poll_action) until it returns `None`, carrying out each
//! [`SessionAction`](session::SessionAction) (several may be in flight at once, each answered
//! exactly once, with its [`Outcome`](action::Outcome), to
//! [`handle_outcome`](session::Session::handle_outcome)); then, if
//! [`poll_timeout`](session::Session::poll_timeout) returns a time, sleep until then and call
//! [`handle_timeout`](session::Session::handle_timeout). When
//! [`is_done`](session::Session::is_done), [`into_results`](session::Session::into_results) says
//! what happened and [`error_kind`](session::Session::error_kind) how the run ends. A failure is
//! an outcome like any other, never an early return; `now` never goes backwards.
//!
//! ```
//! use aws_rotate_keys::action::Outcome;
//! use aws_rotate_keys::session::{Session, SessionAction};
//! use aws_rotate_keys::time::Timestamp;
//!
//! fn drive(
//!     mut session: Session,
//!     mut execute: impl FnMut(&SessionAction) -> Outcome,
//!     mut now: Timestamp,
//! ) {
//!     while !session.is_done() {
//!         while let Some(action) = session.poll_action() {
//!             let outcome = execute(&action); // never `?`: a failure is an input
//!             session.handle_outcome(action.task, outcome, now);
//!         }
//!         if let Some(at) = session.poll_timeout() {
//!             now = now.max(at); // the shell sleeps until `at`
//!             session.handle_timeout(now);
//!         }
//!     }
//!     println!("{:?}", session.error_kind());
//! }
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs, unreachable_pub)]

pub mod action;
pub mod error;
pub mod fleet;
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
