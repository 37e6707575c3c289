//! The credentials of an assumed role (a [`Signer::Role`](aws_rotate_keys::session::Signer)):
//! `sts:AssumeRole` with the source's credentials, kept until shortly before they expire and
//! then asked for again, so that a run longer than a role session goes on. Written here rather
//! than through aws-config's `AssumeRoleProvider` because a refusal must reach the core as
//! STS's own error (its code decides the account's row), and one session serves every client
//! of the account.
#![allow(clippy::disallowed_methods)] // the shell owns the clock

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_credential_types::provider::{self, ProvideCredentials, error::CredentialsError};
use tokio::sync::Mutex;

use aws_rotate_keys::action::{Failure, FailureClass};

use super::classify;

/// The session name: CloudTrail shows it in the accounts.
const SESSION_NAME: &str = "aws-rotate-keys";
/// A session is renewed this long before it expires (STS's shortest lasts 15 minutes).
const RENEW_BEFORE: Duration = Duration::from_secs(5 * 60);

/// An assumed role's credentials, renewed as they near their end.
#[derive(Debug, Clone)]
pub(super) struct RoleCredentials(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    sts: aws_sdk_sts::Client,
    role_arn: String,
    held: Mutex<Option<Credentials>>,
}

/// Whether credentials that expire at `expiry` must be renewed at `now`.
fn stale(expiry: Option<SystemTime>, now: SystemTime) -> bool {
    expiry.is_some_and(|e| e <= now + RENEW_BEFORE)
}

impl RoleCredentials {
    /// `sts` is signed by the source's credentials.
    pub(super) fn new(sts: aws_sdk_sts::Client, role_arn: &str) -> Self {
        Self(Arc::new(Inner {
            sts,
            role_arn: role_arn.to_owned(),
            held: Mutex::new(None),
        }))
    }

    /// The role's credentials: those held, or a new session.
    pub(super) async fn get(&self) -> Result<Credentials, Failure> {
        let mut held = self.0.held.lock().await;
        if let Some(c) = held.as_ref()
            && !stale(c.expiry(), SystemTime::now())
        {
            return Ok(c.clone());
        }
        let out = self
            .0
            .sts
            .assume_role()
            .role_arn(&self.0.role_arn)
            .role_session_name(SESSION_NAME)
            .send()
            .await
            .map_err(|e| {
                let mut f = classify(&e);
                f.operation = Some("AssumeRole");
                f
            })?;
        let Some(k) = out.credentials() else {
            return Err(Failure::new(
                FailureClass::Other,
                None,
                format!(
                    "AssumeRole of {} answered without credentials",
                    self.0.role_arn
                ),
            ));
        };
        let creds = Credentials::new(
            k.access_key_id(),
            k.secret_access_key(),
            Some(k.session_token().to_owned()),
            SystemTime::try_from(*k.expiration()).ok(),
            "aws-rotate-keys-role",
        );
        *held = Some(creds.clone());
        Ok(creds)
    }
}

impl ProvideCredentials for RoleCredentials {
    fn provide_credentials<'a>(&'a self) -> provider::future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        provider::future::ProvideCredentials::new(async move {
            self.get()
                .await
                .map_err(|f| CredentialsError::provider_error(f.text(Some("AssumeRole"))))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_is_renewed_before_it_ends() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        assert!(!stale(None, now), "long-term credentials never expire");
        assert!(!stale(Some(now + Duration::from_secs(3600)), now));
        assert!(!stale(
            Some(now + RENEW_BEFORE + Duration::from_secs(1)),
            now
        ));
        assert!(
            stale(Some(now + RENEW_BEFORE), now),
            "renewed 5 minutes before"
        );
        assert!(stale(Some(now - Duration::from_secs(1)), now), "expired");
    }
}
