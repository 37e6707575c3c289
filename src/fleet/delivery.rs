//! What a delivery leaves in AWS: the secret `aws-rotate-keys/USERNAME`, its description (the
//! delivery's state, which the administrator's runs read and write: nothing is kept on their
//! machines) and its value (the new key, which only the user reads), and the resource policy
//! that lets only that user read it.

use serde::{Deserialize, Serialize};
use zeroize::Zeroize as _;

use crate::key::{AccessKeyId, SecretAccessKey, Sensitive, UserName};
use crate::time::Timestamp;

use super::notice::Event;

/// Every delivery secret's name starts with this.
pub const PREFIX: &str = "aws-rotate-keys/";

/// The user tag that exempts a user from fleet rotation (any value).
pub const EXEMPT_TAG: &str = "aws-rotate-keys:exempt";

/// The delivery secret's name for `user`, or `None` where Secrets Manager cannot carry the
/// name: IAM allows `,` in user names, secret names do not (letters, digits and `/_+=.@-`).
pub fn secret_name(user: &UserName) -> Option<String> {
    let ok = user
        .as_str()
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "_+=.@-".contains(c));
    (ok && !user.as_str().is_empty()).then(|| format!("{PREFIX}{}", user.as_str()))
}

/// The user a delivery secret's name is for.
pub fn user_of(secret_name: &str) -> Option<UserName> {
    secret_name
        .strip_prefix(PREFIX)
        .filter(|u| !u.is_empty() && !u.contains('/'))
        .map(UserName::new)
}

/// A delivery's state, kept in its secret's description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Marker {
    /// Started: the secret exists without a value. Any key of the user that is neither
    /// `replaces` nor among `known_keys` was created by this delivery and its secret is
    /// nowhere: the next run deletes it.
    Pending {
        /// The key being replaced.
        replaces: AccessKeyId,
        /// The user's keys when the delivery started.
        known_keys: Vec<AccessKeyId>,
        /// When (the administrator's clock; for messages only).
        started: Timestamp,
    },
    /// The new key is in the secret's value.
    Delivered {
        /// The delivered key.
        access_key_id: AccessKeyId,
        /// The key it replaces.
        replaces: AccessKeyId,
        /// When it was stored.
        delivered: Timestamp,
        /// When the replaced key was deactivated, once it was.
        deactivated: Option<Timestamp>,
        /// `--notify-from`: the mails sent about this delivery (each event once).
        notified: Vec<Event>,
    },
}

/// Why a description or a delivered value could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct DeliveryError(pub String);

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct MarkerJson {
    #[serde(rename = "aws-rotate-keys")]
    version: u32,
    state: String,
    replaces_access_key_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    access_key_id: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    known_access_key_ids: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    started_date: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    delivered_date: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    deactivated_date: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    notified: Vec<String>,
}

fn key_id(s: &str, what: &str) -> Result<AccessKeyId, DeliveryError> {
    AccessKeyId::new(s).ok_or_else(|| DeliveryError(format!("{what} is not an access key id")))
}

fn time(s: Option<&str>, what: &str) -> Result<Timestamp, DeliveryError> {
    s.and_then(Timestamp::parse_iso8601)
        .ok_or_else(|| DeliveryError(format!("{what} is missing or not a date")))
}

impl Marker {
    /// The description text: one line of JSON.
    pub fn to_description(&self) -> String {
        let json = match self {
            Self::Pending {
                replaces,
                known_keys,
                started,
            } => MarkerJson {
                version: 1,
                state: "Pending".into(),
                replaces_access_key_id: replaces.to_string(),
                access_key_id: None,
                known_access_key_ids: known_keys.iter().map(ToString::to_string).collect(),
                started_date: Some(started.to_iso8601()),
                delivered_date: None,
                deactivated_date: None,
                notified: Vec::new(),
            },
            Self::Delivered {
                access_key_id,
                replaces,
                delivered,
                deactivated,
                notified,
            } => MarkerJson {
                version: 1,
                state: "Delivered".into(),
                replaces_access_key_id: replaces.to_string(),
                access_key_id: Some(access_key_id.to_string()),
                known_access_key_ids: Vec::new(),
                started_date: None,
                delivered_date: Some(delivered.to_iso8601()),
                deactivated_date: deactivated.map(Timestamp::to_iso8601),
                notified: notified.iter().map(|e| e.name().to_owned()).collect(),
            },
        };
        serde_json::to_string(&json).unwrap_or_default()
    }

    /// Reads a description written by [`Marker::to_description`].
    pub fn parse(description: &str) -> Result<Self, DeliveryError> {
        let json: MarkerJson = serde_json::from_str(description).map_err(|e| {
            DeliveryError(format!("its description is not one this tool writes ({e})"))
        })?;
        if json.version != 1 {
            return Err(DeliveryError(format!(
                "its description is of version {}, newer than this tool",
                json.version
            )));
        }
        let replaces = key_id(&json.replaces_access_key_id, "ReplacesAccessKeyId")?;
        match json.state.as_str() {
            "Pending" => Ok(Self::Pending {
                replaces,
                known_keys: json
                    .known_access_key_ids
                    .iter()
                    .map(|k| key_id(k, "KnownAccessKeyIds"))
                    .collect::<Result<_, _>>()?,
                started: time(json.started_date.as_deref(), "StartedDate")?,
            }),
            "Delivered" => Ok(Self::Delivered {
                access_key_id: key_id(
                    json.access_key_id.as_deref().unwrap_or_default(),
                    "AccessKeyId",
                )?,
                replaces,
                delivered: time(json.delivered_date.as_deref(), "DeliveredDate")?,
                deactivated: match json.deactivated_date.as_deref() {
                    None => None,
                    Some(d) => Some(time(Some(d), "DeactivatedDate")?),
                },
                notified: json
                    .notified
                    .iter()
                    .map(|n| {
                        Event::from_name(n).ok_or_else(|| {
                            DeliveryError(format!("its description names an unknown notice {n:?}"))
                        })
                    })
                    .collect::<Result<_, _>>()?,
            }),
            other => Err(DeliveryError(format!(
                "its description names an unknown state {other:?}"
            ))),
        }
    }
}

/// The delivered key: the secret's value, in the shape of `create-access-key`'s `AccessKey`
/// plus the key it replaces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveredKey {
    /// Whose key.
    pub user_name: UserName,
    /// The new key.
    pub access_key_id: AccessKeyId,
    /// Its secret.
    pub secret: SecretAccessKey,
    /// When IAM created it.
    pub create_date: Timestamp,
    /// The key it replaces.
    pub replaces: AccessKeyId,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DeliveredJson<'a> {
    user_name: &'a str,
    access_key_id: &'a str,
    secret_access_key: &'a str,
    create_date: &'a str,
    replaces_access_key_id: &'a str,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DeliveredOwned {
    user_name: String,
    access_key_id: String,
    secret_access_key: String,
    create_date: String,
    replaces_access_key_id: String,
}

impl DeliveredKey {
    /// The secret's value (JSON), zeroed when dropped.
    pub fn to_json(&self) -> Sensitive<String> {
        let date = self.create_date.to_iso8601();
        let json = DeliveredJson {
            user_name: self.user_name.as_str(),
            access_key_id: self.access_key_id.as_str(),
            secret_access_key: self.secret.expose(),
            create_date: &date,
            replaces_access_key_id: self.replaces.as_str(),
        };
        Sensitive::new(serde_json::to_string(&json).unwrap_or_default())
    }

    /// Reads a secret's value. The error never quotes the value.
    pub fn parse(value: &str) -> Result<Self, DeliveryError> {
        let mut json: DeliveredOwned = serde_json::from_str(value).map_err(|e| {
            DeliveryError(format!(
                "the delivered value is not the JSON this tool writes (line {}, column {})",
                e.line(),
                e.column()
            ))
        })?;
        let secret = SecretAccessKey::new(&json.secret_access_key);
        json.secret_access_key.zeroize();
        Ok(Self {
            user_name: UserName::new(json.user_name.as_str()),
            access_key_id: key_id(&json.access_key_id, "AccessKeyId")?,
            secret: secret.ok_or_else(|| {
                DeliveryError("SecretAccessKey is empty or holds a line break".into())
            })?,
            create_date: time(Some(&json.create_date), "CreateDate")?,
            replaces: key_id(&json.replaces_access_key_id, "ReplacesAccessKeyId")?,
        })
    }
}

/// The resource policy of `user_arn`'s delivery secret: that user may read it, and nobody else
/// may (a `Deny` on everyone else's `GetSecretValue`, so that an administrator's broad
/// identity policy does not reach it either). The administrator's runs never read the value.
pub fn resource_policy(user_arn: &str) -> String {
    serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "OwnerReads",
                "Effect": "Allow",
                "Principal": {"AWS": user_arn},
                "Action": ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
                "Resource": "*"
            },
            {
                "Sid": "NobodyElseReads",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "secretsmanager:GetSecretValue",
                "Resource": "*",
                "Condition": {"StringNotEquals": {"aws:PrincipalArn": user_arn}}
            }
        ]
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(s: &str) -> AccessKeyId {
        AccessKeyId::new(s).expect("an id")
    }

    #[test]
    fn names_that_secrets_manager_cannot_carry_have_no_secret() {
        assert_eq!(
            secret_name(&UserName::new("alice.smith@corp")).as_deref(),
            Some("aws-rotate-keys/alice.smith@corp")
        );
        assert_eq!(secret_name(&UserName::new("a,b")), None);
        assert_eq!(user_of("aws-rotate-keys/bob"), Some(UserName::new("bob")));
        assert_eq!(user_of("other/bob"), None);
        assert_eq!(user_of("aws-rotate-keys/"), None);
    }

    #[test]
    fn markers_read_back_as_written() {
        let t = Timestamp::from_secs(1_700_000_000);
        for m in [
            Marker::Pending {
                replaces: id("AKIAOLD"),
                known_keys: vec![id("AKIAOLD"), id("AKIAINACTIVE")],
                started: t,
            },
            Marker::Delivered {
                access_key_id: id("AKIANEW"),
                replaces: id("AKIAOLD"),
                delivered: t,
                deactivated: None,
                notified: Vec::new(),
            },
            Marker::Delivered {
                access_key_id: id("AKIANEW"),
                replaces: id("AKIAOLD"),
                delivered: t,
                deactivated: Some(t.add(crate::time::Span::from_secs(60))),
                notified: Event::ALL.to_vec(),
            },
        ] {
            let text = m.to_description();
            assert!(text.len() < 2048, "Secrets Manager's limit");
            assert_eq!(Marker::parse(&text), Ok(m));
        }
        assert!(Marker::parse("created by hand").is_err());
        assert!(
            Marker::parse(r#"{"aws-rotate-keys":1,"State":"Delivered","ReplacesAccessKeyId":"AKIAOLD","AccessKeyId":"AKIANEW","DeliveredDate":"2026-01-01T00:00:00Z","Notified":["Sent"]}"#)
                .is_err_and(|e| e.0.contains("unknown notice")),
        );
        assert!(
            Marker::parse(r#"{"aws-rotate-keys":2,"State":"Pending","ReplacesAccessKeyId":"A"}"#)
                .is_err()
        );
    }

    #[test]
    fn a_delivered_key_reads_back_and_its_errors_never_quote_the_secret() {
        let key = DeliveredKey {
            user_name: UserName::new("alice"),
            access_key_id: id("AKIANEW"),
            secret: SecretAccessKey::new("s3cr3t/value").expect("a secret"),
            create_date: Timestamp::from_secs(1_700_000_000),
            replaces: id("AKIAOLD"),
        };
        let json = key.to_json();
        assert!(
            json.expose()
                .contains(r#""SecretAccessKey":"s3cr3t/value""#)
        );
        assert!(json.expose().contains(r#""ReplacesAccessKeyId":"AKIAOLD""#));
        assert_eq!(DeliveredKey::parse(json.expose()), Ok(key));
        let broken = json.expose().replace("AKIANEW", "").replace('}', "");
        let e = DeliveredKey::parse(&broken).expect_err("broken");
        assert!(!e.0.contains("s3cr3t"), "{e}");
    }

    #[test]
    fn the_policy_names_the_owner() {
        let p = resource_policy("arn:aws:iam::123456789012:user/alice");
        let v: serde_json::Value = serde_json::from_str(&p).expect("json");
        assert_eq!(
            v["Statement"][0]["Principal"]["AWS"],
            "arn:aws:iam::123456789012:user/alice"
        );
        assert_eq!(v["Statement"][1]["Effect"], "Deny");
    }
}
