//! The IAM policies that fleet rotation needs, as `fleet policy` prints them: the
//! administrator's for `fleet rotate`, a read-only one for `fleet status` and `fleet plan`, and
//! the one every rotated user needs for `pickup` and `rotate`. Pure data: what each run asks of
//! AWS is in [`crate::action::Action`], and the tests below keep the two in step.
//!
//! Resources are scoped where IAM allows it: users (`arn:aws:iam::*:user/*`), groups, and the
//! delivery secrets (`aws-rotate-keys/*`), the SES identities mail is sent from; `*` only for the actions that have no resource
//! (`GetAccountAuthorizationDetails`, the credential report, `ListSecrets`).
//! `GetAccountAuthorizationDetails` lists every user with its tags in a few requests where
//! `ListUsers` would need a `ListUserTags` per user; it also shows the users' policies, which
//! an administrator who may create every user's keys can read anyway. `sts:GetCallerIdentity` needs no
//! permission. A user's policy names the user's own keys and secret through the policy variable
//! `${aws:username}`.

use serde::Serialize;
use serde_json::{Value, json};

use crate::output::Document;

/// Every IAM user of any account (a user with a path too).
pub const USERS: &str = "arn:aws:iam::*:user/*";
/// Every IAM group (the `--exempt-group`s).
pub const GROUPS: &str = "arn:aws:iam::*:group/*";
/// Every delivery secret, in any region.
pub const SECRETS: &str = "arn:aws:secretsmanager:*:*:secret:aws-rotate-keys/*";
/// The signing user itself (a user without a path: `${aws:username}` holds no path).
pub const OWN_USER: &str = "arn:aws:iam::*:user/${aws:username}";
/// The signing user's own delivery secret: its name, then the six random characters Secrets
/// Manager adds to every secret's ARN (`?` matches one character: `alice-*` would also match
/// `alice-bob`'s secret).
pub const OWN_SECRET: &str =
    "arn:aws:secretsmanager:*:*:secret:aws-rotate-keys/${aws:username}-??????";

/// Whose policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The administrator who runs `fleet rotate` (and `status`, `plan`).
    Administrator,
    /// Someone who runs `fleet status` and `fleet plan` only: reads, changes nothing.
    Auditor,
    /// A rotated user: `pickup` of its delivered key, `rotate` of its own key.
    User,
    /// The administrator of an organization's fleet (`--accounts`), in the account it runs
    /// from: lists the accounts and enters each through its role (which needs the
    /// administrator's or the read-only policy in that account).
    Organization,
}

/// One statement: these actions on that resource.
struct Grant {
    sid: &'static str,
    actions: &'static [&'static str],
    resource: &'static str,
}

/// The read-only listings: they have no resource but `*`.
const LIST_ACCOUNT: &[&str] = &[
    "iam:GetAccountAuthorizationDetails",
    "iam:GenerateCredentialReport",
    "iam:GetCredentialReport",
    "secretsmanager:ListSecrets",
];
const READ_USERS: &[&str] = &[
    "iam:GetUser",
    "iam:ListAccessKeys",
    "iam:GetAccessKeyLastUsed",
    "iam:ListSSHPublicKeys",
    "iam:GetSSHPublicKey",
];
const ROTATE_USERS: &[&str] = &[
    "iam:GetUser",
    "iam:ListAccessKeys",
    "iam:GetAccessKeyLastUsed",
    "iam:ListSSHPublicKeys",
    "iam:GetSSHPublicKey",
    "iam:CreateAccessKey",
    "iam:UpdateAccessKey",
    "iam:DeleteAccessKey",
];
const READ_GROUPS: &[&str] = &["iam:GetGroup"];
const DELIVER: &[&str] = &[
    "secretsmanager:CreateSecret",
    "secretsmanager:PutResourcePolicy",
    "secretsmanager:UpdateSecret",
    "secretsmanager:DeleteSecret",
];
const OWN_KEYS: &[&str] = &[
    "iam:ListAccessKeys",
    "iam:GetAccessKeyLastUsed",
    "iam:CreateAccessKey",
    "iam:UpdateAccessKey",
    "iam:DeleteAccessKey",
];
/// `--notify-from`: mail the owners from a verified SES identity.
const NOTIFY: &[&str] = &["ses:SendEmail"];
/// The SES identities (the sender's address or domain) mail is sent from.
pub const SES_IDENTITIES: &str = "arn:aws:ses:*:*:identity/*";
const PICK_UP: &[&str] = &["secretsmanager:GetSecretValue"];
const LIST_ORGANIZATION: &[&str] = &["organizations:ListAccounts"];
/// Sent by the shell for a [`crate::session::Signer::Role`], not as an action.
const ENTER_ACCOUNTS: &[&str] = &["sts:AssumeRole"];
/// The role `--role-name` names by default, in every account.
pub const ORGANIZATION_ROLES: &str = "arn:aws:iam::*:role/OrganizationAccountAccessRole";

fn grants(role: Role) -> Vec<Grant> {
    let g = |sid, actions, resource| Grant {
        sid,
        actions,
        resource,
    };
    match role {
        Role::Administrator => vec![
            g("ListTheAccount", LIST_ACCOUNT, "*"),
            g("RotateUsersKeys", ROTATE_USERS, USERS),
            g("ReadExemptGroups", READ_GROUPS, GROUPS),
            g("DeliverNewKeys", DELIVER, SECRETS),
            g("MailTheOwners", NOTIFY, SES_IDENTITIES),
        ],
        Role::Auditor => vec![
            g("ListTheAccount", LIST_ACCOUNT, "*"),
            g("ReadUsersKeys", READ_USERS, USERS),
            g("ReadExemptGroups", READ_GROUPS, GROUPS),
        ],
        Role::User => vec![
            g("RotateOwnKeys", OWN_KEYS, OWN_USER),
            g("PickUpOwnDelivery", PICK_UP, OWN_SECRET),
        ],
        Role::Organization => vec![
            g("ListTheOrganization", LIST_ORGANIZATION, "*"),
            g("EnterTheAccounts", ENTER_ACCOUNTS, ORGANIZATION_ROLES),
        ],
    }
}

/// The policy document of `role`.
pub fn document(role: Role) -> Value {
    let statements: Vec<Value> = grants(role)
        .into_iter()
        .map(|g| {
            json!({
                "Sid": g.sid,
                "Effect": "Allow",
                "Action": g.actions,
                "Resource": g.resource,
            })
        })
        .collect();
    json!({"Version": "2012-10-17", "Statement": statements})
}

/// Whether `role`'s policy allows `action` (`service:Operation`) on some resource.
pub fn allows(role: Role, action: &str) -> bool {
    grants(role).iter().any(|g| g.actions.contains(&action))
}

/// What `fleet policy` prints: `{"Policies": [...]}`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PolicyOutput {
    /// The administrator's, the read-only one, the users'.
    pub policies: Vec<NamedPolicy>,
}

impl Document for PolicyOutput {
    const TITLE: &'static str = "Policies";
}

/// One policy, ready for `aws iam put-user-policy` (or `put-group-policy`, `create-policy`).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct NamedPolicy {
    /// A name to give it.
    pub policy_name: &'static str,
    /// Who needs it, for what.
    pub description: &'static str,
    /// The document.
    pub policy_document: Value,
}

/// The four policies.
pub fn policies() -> PolicyOutput {
    let p = |policy_name, description, role| NamedPolicy {
        policy_name,
        description,
        policy_document: document(role),
    };
    PolicyOutput {
        policies: vec![
            p(
                "aws-rotate-keys-fleet-rotate",
                "For the administrator who runs fleet rotate (and fleet status, fleet plan): lists every user, rotates their keys, and delivers each new key in the secret aws-rotate-keys/USERNAME",
                Role::Administrator,
            ),
            p(
                "aws-rotate-keys-fleet-read",
                "For fleet status and fleet plan alone: reads the users, their keys and the deliveries; changes nothing",
                Role::Auditor,
            ),
            p(
                "aws-rotate-keys-user",
                "For every user whose keys the fleet rotates (attach it to their group): pickup reads the user's own delivery and replaces the user's own key; rotate rotates it",
                Role::User,
            ),
            p(
                "aws-rotate-keys-organization",
                "For fleet commands with --accounts, in the account they run from (the organization's management account or a delegated administrator): lists the organization's accounts and assumes the role in each (with --role-name, name that role in the resource). The role itself needs aws-rotate-keys-fleet-rotate or aws-rotate-keys-fleet-read in its account",
                Role::Organization,
            ),
        ],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::action::{Action, DeletePurpose};
    use crate::ini::{FileKind, KeyEdit};
    use crate::key::{AccessKeyId, SecretAccessKey, Sensitive, UserName};
    use crate::plan::Question;
    use crate::time::Timestamp;

    /// Which service an action calls (`None`: it sends no request), and whose runs send it.
    /// Exhaustive: a new [`Action`] does not compile here until it says whose policy needs it.
    fn emitted(a: &Action) -> (Option<&'static str>, &'static [Role]) {
        use Role::{Administrator as A, Auditor as R, Organization as O, User as U};
        match a {
            // sts:GetCallerIdentity needs no permission.
            Action::Identify | Action::VerifyKey { .. } => (None, &[]),
            Action::WriteJournal { .. }
            | Action::RemoveJournal { .. }
            | Action::UpdateFile { .. }
            | Action::Confirm(_)
            | Action::ConfirmPlan { .. }
            | Action::DeliverKey { .. } => (None, &[]),
            // A fleet run lists every user's keys and asks when they were used; a user's
            // `pickup` and `rotate` do the same for its own.
            Action::ListKeys { .. } | Action::LastUsed { .. } => (Some("iam"), &[A, R, U]),
            // A fleet run makes room, creates, deactivates and deletes; so do a user's runs.
            Action::CreateKey { .. } | Action::DeleteKey { .. } | Action::DeactivateKey { .. } => {
                (Some("iam"), &[A, U])
            }
            // `--encrypt`: the owner's IAM SSH public key, where no tag names a recipient.
            Action::ListSshKeys { .. } | Action::GetSshKey { .. } => (Some("iam"), &[A, R]),
            Action::UserDetails { .. }
            | Action::GetUser { .. }
            | Action::GroupMembers { .. }
            | Action::GenerateReport
            | Action::GetReport => (Some("iam"), &[A, R]),
            Action::ListSecrets { .. } => (Some("secretsmanager"), &[A, R]),
            Action::CreateSecret { .. }
            | Action::PutSecretPolicy { .. }
            | Action::StoreSecret { .. }
            | Action::DescribeSecret { .. }
            | Action::DeleteSecret { .. } => (Some("secretsmanager"), &[A]),
            Action::GetSecretValue { .. } => (Some("secretsmanager"), &[U]),
            Action::ListAccounts { .. } => (Some("organizations"), &[O]),
            // `--notify-from`.
            Action::SendEmail { .. } => (Some("ses"), &[A]),
        }
    }

    /// One action of each kind (add one for a new kind).
    fn samples() -> Vec<Action> {
        let id = AccessKeyId::new("AKIAEXAMPLE").expect("an id");
        let secret = SecretAccessKey::new("secret").expect("a secret");
        let user_name = UserName::new("alice");
        let name = "aws-rotate-keys/alice".to_owned();
        let t = Timestamp::from_secs(0);
        vec![
            Action::Identify,
            Action::ListKeys {
                user_name: user_name.clone(),
            },
            Action::LastUsed {
                access_key_id: id.clone(),
            },
            Action::CreateKey {
                user_name: user_name.clone(),
            },
            Action::DeleteKey {
                user_name: user_name.clone(),
                access_key_id: id.clone(),
                purpose: DeletePurpose::OldKey,
            },
            Action::DeactivateKey {
                user_name: user_name.clone(),
                access_key_id: id.clone(),
            },
            Action::VerifyKey {
                access_key_id: id.clone(),
                secret: secret.clone(),
            },
            Action::WriteJournal {
                journal: "j".into(),
                contents: Sensitive::new(String::new()),
            },
            Action::RemoveJournal {
                journal: "j".into(),
            },
            Action::UpdateFile {
                file: FileKind::Credentials,
                edit: KeyEdit {
                    from: id.clone(),
                    to_id: id.clone(),
                    to_secret: secret.clone(),
                },
            },
            Action::Confirm(Box::new(Question {
                user_name: user_name.clone(),
                keys: Vec::new(),
                proposed: id.clone(),
                now: t,
            })),
            Action::UserDetails { marker: None },
            Action::ListAccounts { next_token: None },
            Action::ListSshKeys {
                user_name: user_name.clone(),
            },
            Action::GetSshKey {
                user_name: user_name.clone(),
                id: "APKAEXAMPLE".into(),
            },
            Action::GetUser {
                user_name: user_name.clone(),
            },
            Action::GroupMembers {
                group: "g".into(),
                marker: None,
            },
            Action::GenerateReport,
            Action::GetReport,
            Action::ListSecrets {
                prefix: "aws-rotate-keys/".into(),
                next_token: None,
            },
            Action::CreateSecret {
                name: name.clone(),
                description: String::new(),
            },
            Action::PutSecretPolicy {
                name: name.clone(),
                policy: String::new(),
            },
            Action::StoreSecret {
                name: name.clone(),
                description: String::new(),
                value: Sensitive::new(String::new()),
                token: String::new(),
            },
            Action::DescribeSecret {
                name: name.clone(),
                description: String::new(),
            },
            Action::DeleteSecret { name: name.clone() },
            Action::SendEmail {
                from: "keys@example.com".into(),
                to: "alice@example.com".into(),
                subject: String::new(),
                body: String::new(),
            },
            Action::GetSecretValue { name },
            Action::ConfirmPlan {
                summary: String::new(),
            },
            Action::DeliverKey {
                user_name,
                access_key_id: id,
                secret,
                create_date: t,
            },
        ]
    }

    #[test]
    fn every_request_a_run_sends_is_in_its_policy() {
        let all = samples();
        let kinds: std::collections::HashSet<_> = all.iter().map(std::mem::discriminant).collect();
        assert_eq!(kinds.len(), all.len(), "one sample of each kind");
        for a in &all {
            let (service, roles) = emitted(a);
            let Some(service) = service else {
                continue;
            };
            let op = a.operation().expect("a request names its operation");
            for role in roles {
                assert!(
                    allows(*role, &format!("{service}:{op}")),
                    "{role:?}'s policy lacks {service}:{op}"
                );
            }
        }
    }

    #[test]
    fn no_policy_allows_more_than_its_runs_send() {
        let sent: Vec<(Role, String)> = samples()
            .iter()
            .filter_map(|a| {
                let (service, roles) = emitted(a);
                let op = format!("{}:{}", service?, a.operation()?);
                Some(roles.iter().map(move |r| (*r, op.clone())))
            })
            .flatten()
            .collect();
        for role in [
            Role::Administrator,
            Role::Auditor,
            Role::User,
            Role::Organization,
        ] {
            for g in grants(role) {
                // The shell assumes the role of a `Signer::Role`: no action sends it.
                for action in g.actions.iter().filter(|a| **a != "sts:AssumeRole") {
                    assert!(
                        sent.iter().any(|(r, op)| *r == role && op == action),
                        "{role:?}'s policy allows {action}, which its runs never send"
                    );
                }
            }
        }
    }

    #[test]
    fn the_read_only_policy_changes_nothing() {
        for g in grants(Role::Auditor) {
            for action in g.actions {
                let op = action.split_once(':').map_or("", |(_, op)| op);
                assert!(
                    ["List", "Get", "Generate"]
                        .iter()
                        .any(|p| op.starts_with(p)),
                    "{action} in the read-only policy"
                );
            }
        }
    }

    #[test]
    fn the_documents_are_iams_shape() {
        let out = serde_json::to_value(policies()).expect("serializes");
        let docs = out["Policies"].as_array().expect("a list");
        assert_eq!(docs.len(), 4);
        for p in docs {
            let d = &p["PolicyDocument"];
            assert_eq!(
                d["Version"], "2012-10-17",
                "policy variables need this version"
            );
            for s in d["Statement"].as_array().expect("statements") {
                assert_eq!(s["Effect"], "Allow");
                assert!(s["Resource"].is_string());
            }
        }
        // Only the listings without a resource get `*`.
        let admin = document(Role::Administrator);
        for s in admin["Statement"].as_array().expect("statements") {
            if s["Resource"] == "*" {
                let actions: Vec<&str> = s["Action"]
                    .as_array()
                    .expect("actions")
                    .iter()
                    .filter_map(Value::as_str)
                    .collect();
                assert_eq!(actions, LIST_ACCOUNT);
            }
        }
        let user = document(Role::User).to_string();
        assert!(user.contains("user/${aws:username}\""), "{user}");
        assert!(
            user.contains("aws-rotate-keys/${aws:username}-??????"),
            "{user}"
        );
    }
}
