//! Resolving profiles: where a profile's static keys live, what kind of credentials it has, and
//! every other place in either file that holds the same key.
//!
//! This follows botocore's credential chain for what it reads from files: `role_arn` (with
//! `source_profile`, followed to the profile that holds static keys), `web_identity_token_file`,
//! SSO, `login_session`, keys in the credentials file, `credential_process`, then keys in the config
//! file. Values from the credentials file override the config file's for the same profile, as
//! botocore merges them. Nothing here reads a file or the environment: the shell hands in the text.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

use crate::ini::{Document, Entry, FileKind, ParseError, SectionKind};
use crate::key::{AccessKeyId, SecretAccessKey};

/// The two files, parsed. A missing file is an empty text.
#[derive(Debug, Clone)]
pub struct AwsFiles {
    /// `~/.aws/config` (or `AWS_CONFIG_FILE`).
    pub config: Document,
    /// `~/.aws/credentials` (or `AWS_SHARED_CREDENTIALS_FILE`).
    pub credentials: Document,
}

/// A file that did not parse, and which one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file:?} file, {error}")]
pub struct FileError {
    /// Which file.
    pub file: FileKind,
    /// Where and what.
    pub error: ParseError,
}

impl AwsFiles {
    /// Parses both texts.
    pub fn parse(config: &str, credentials: &str) -> Result<Self, FileError> {
        let parse =
            |file, text| Document::parse(file, text).map_err(|error| FileError { file, error });
        Ok(Self {
            config: parse(FileKind::Config, config)?,
            credentials: parse(FileKind::Credentials, credentials)?,
        })
    }

    /// One of the two documents.
    pub fn document(&self, file: FileKind) -> &Document {
        match file {
            FileKind::Config => &self.config,
            FileKind::Credentials => &self.credentials,
        }
    }

    /// Every profile name in either file: the credentials file's first, then the config file's,
    /// each once.
    pub fn profile_names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.credentials.profile_names();
        let mut seen: std::collections::HashSet<&str> = names.iter().copied().collect();
        for name in self.config.profile_names() {
            if seen.insert(name) {
                names.push(name);
            }
        }
        names
    }

    fn exists(&self, profile: &str) -> bool {
        self.credentials.profile_section(profile).is_some()
            || self.config.profile_section(profile).is_some()
    }

    /// A profile's setting as botocore sees it: the credentials file's value, else the config's.
    fn setting(&self, profile: &str, key: &str) -> Option<(FileKind, &Entry)> {
        if let Some(e) = self.credentials.get(profile, key) {
            return Some((FileKind::Credentials, e));
        }
        self.config.get(profile, key).map(|e| (FileKind::Config, e))
    }

    /// Every section, in either file, that holds key `id` (see [`Document::key_holders`]).
    pub fn holders(&self, id: &AccessKeyId) -> Vec<Holder> {
        let mut out = Vec::new();
        for file in [FileKind::Credentials, FileKind::Config] {
            for section in self.document(file).key_holders(id) {
                let line = section
                    .entries
                    .iter()
                    .find(|e| e.key == "aws_access_key_id")
                    .map_or(section.line, |e| e.line);
                out.push(Holder {
                    file,
                    section: section.header.clone(),
                    profile: profile_of(&section.kind),
                    line,
                });
            }
        }
        out
    }

    /// Every key id held anywhere in the files, with its holders: one pass over the sections.
    pub fn held_keys(&self) -> BTreeMap<AccessKeyId, Vec<Holder>> {
        let mut ids: BTreeMap<AccessKeyId, Vec<Holder>> = BTreeMap::new();
        for file in [FileKind::Credentials, FileKind::Config] {
            let doc = self.document(file);
            for section in doc.sections() {
                let Some(e) = section.entry("aws_access_key_id") else {
                    continue;
                };
                let Some(id) = AccessKeyId::new(e.value.clone()) else {
                    continue;
                };
                // The same rule as `Document::key_holders`: a session's keys are not a holder.
                if doc.lookup(section, "aws_session_token").is_some()
                    || doc.lookup(section, "aws_security_token").is_some()
                {
                    continue;
                }
                ids.entry(id).or_default().push(Holder {
                    file,
                    section: section.header.clone(),
                    profile: profile_of(&section.kind),
                    line: e.line,
                });
            }
        }
        ids
    }
}

fn profile_of(kind: &SectionKind) -> Option<String> {
    match kind {
        SectionKind::Profile(p) => Some(p.clone()),
        _ => None,
    }
}

/// One place in a file where a key stands.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Holder {
    /// Which file.
    pub file: FileKind,
    /// The section header's text (`profile work`, `work`, `DEFAULT`).
    pub section: String,
    /// The profile the section defines, if it is a profile section.
    pub profile: Option<String>,
    /// 1-based line of its `aws_access_key_id`.
    pub line: usize,
}

/// What kind of credentials a profile has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum ProfileKind {
    /// Long-term IAM-user keys on disk: the only kind this tool rotates.
    StaticKeys,
    /// Keys with an `aws_session_token`: temporary.
    Session,
    /// `role_arn` with `source_profile` (followed) or `credential_source`.
    Role,
    /// `role_arn` with `credential_source`: the keys come from the environment or a metadata service.
    CredentialSource,
    /// `web_identity_token_file`.
    WebIdentity,
    /// IAM Identity Center: `sso_session` or `sso_start_url`.
    Sso,
    /// `login_session` (`aws login`).
    LoginSession,
    /// `credential_process`.
    CredentialProcess,
    /// The profile exists but holds no credentials.
    NoCredentials,
}

impl fmt::Display for ProfileKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::StaticKeys => "static IAM-user keys",
            Self::Session => "temporary session credentials (aws_session_token)",
            Self::Role => "an assumed role (role_arn)",
            Self::CredentialSource => "an assumed role with credential_source",
            Self::WebIdentity => "web identity (web_identity_token_file)",
            Self::Sso => "IAM Identity Center (sso_*)",
            Self::LoginSession => "a console login session (login_session)",
            Self::CredentialProcess => "an external credential_process",
            Self::NoCredentials => "no credentials",
        })
    }
}

impl ProfileKind {
    fn hint(self) -> &'static str {
        match self {
            Self::StaticKeys => "",
            Self::Session => {
                "its keys are temporary and expire by themselves; rotate the long-term keys of the profile that made them"
            }
            Self::Role | Self::CredentialSource => {
                "roles have no access keys; rotate the profile named by its source_profile"
            }
            Self::WebIdentity | Self::Sso | Self::LoginSession => {
                "its credentials are issued on demand and need no rotation"
            }
            Self::CredentialProcess => {
                "rotate the keys where the credential_process program keeps them"
            }
            Self::NoCredentials => {
                "add aws_access_key_id and aws_secret_access_key to it, or choose another --profile"
            }
        }
    }
}

/// Why a profile cannot be rotated. Each message names the profile and says what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProfileError {
    /// No section in either file defines the profile.
    #[error(
        "the config profile ({profile}) could not be found; check --profile, AWS_PROFILE and the files"
    )]
    NotFound {
        /// The profile asked for.
        profile: String,
    },
    /// The profile's credentials are not static IAM-user keys on disk.
    #[error("profile {profile} uses {kind}, not IAM-user access keys: {}", kind.hint())]
    Unsupported {
        /// The profile asked for (or met while following `source_profile`).
        profile: String,
        /// What it uses instead.
        kind: ProfileKind,
    },
    /// `source_profile` leads back to a profile already visited.
    #[error("profile {profile}: source_profile chain loops ({}); fix the source_profile settings", chain.join(" -> "))]
    SourceLoop {
        /// The profile asked for.
        profile: String,
        /// The profiles visited, ending with the repeated one.
        chain: Vec<String>,
    },
    /// `source_profile` names a profile that does not exist.
    #[error("profile {profile}: source_profile {source_profile} could not be found")]
    SourceNotFound {
        /// The profile whose setting is wrong.
        profile: String,
        /// The missing profile.
        source_profile: String,
    },
    /// One of the two key settings is there without the other, or a value is unusable.
    #[error("{file:?} file, line {line}: profile {profile}: {problem}")]
    BadKeys {
        /// The profile.
        profile: String,
        /// Where.
        file: FileKind,
        /// 1-based line.
        line: usize,
        /// What is wrong.
        problem: &'static str,
    },
}

/// A profile resolved to the static keys it uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// The profile asked for.
    pub profile: String,
    /// The profile whose keys are used (differs from `profile` after a `source_profile` chain).
    pub holder: String,
    /// The key id.
    pub access_key_id: AccessKeyId,
    /// The secret.
    pub secret: SecretAccessKey,
    /// Where the holder's keys were read.
    pub location: Holder,
    /// The `mfa_serial` to use for IAM calls: the holder's, else the profile's.
    pub mfa_serial: Option<String>,
}

const SECRET: &str = "aws_secret_access_key";
const KEY_ID: &str = "aws_access_key_id";

/// Resolves `profile` to the static keys it uses, following `source_profile`.
pub fn resolve(files: &AwsFiles, profile: &str) -> Result<Resolved, ProfileError> {
    if !files.exists(profile) {
        return Err(ProfileError::NotFound {
            profile: profile.to_owned(),
        });
    }
    let mut chain = vec![profile.to_owned()];
    let mut current = profile.to_owned();
    loop {
        match classify(files, &current)? {
            Class::Static(found) => {
                let mfa_serial = setting_value(files, &current, "mfa_serial")
                    .or_else(|| setting_value(files, profile, "mfa_serial"));
                return Ok(Resolved {
                    profile: profile.to_owned(),
                    holder: current,
                    mfa_serial,
                    ..found
                });
            }
            Class::RoleFrom(source) => {
                if source == current {
                    // botocore: a role profile may name itself as its source when it also holds keys.
                    match static_keys(files, &current)? {
                        Some(found) => {
                            let mfa_serial = setting_value(files, &current, "mfa_serial");
                            return Ok(Resolved {
                                profile: profile.to_owned(),
                                holder: current,
                                mfa_serial,
                                ..found
                            });
                        }
                        None => {
                            chain.push(source);
                            return Err(ProfileError::SourceLoop {
                                profile: profile.to_owned(),
                                chain,
                            });
                        }
                    }
                }
                if chain.contains(&source) {
                    chain.push(source);
                    return Err(ProfileError::SourceLoop {
                        profile: profile.to_owned(),
                        chain,
                    });
                }
                if !files.exists(&source) {
                    return Err(ProfileError::SourceNotFound {
                        profile: current,
                        source_profile: source,
                    });
                }
                chain.push(source.clone());
                current = source;
            }
            Class::Other(kind) => {
                return Err(ProfileError::Unsupported {
                    profile: current,
                    kind,
                });
            }
        }
    }
}

/// A profile's kind, without following `source_profile`.
pub fn kind(files: &AwsFiles, profile: &str) -> Result<ProfileKind, ProfileError> {
    Ok(match classify(files, profile)? {
        Class::Static(_) => ProfileKind::StaticKeys,
        Class::RoleFrom(_) => ProfileKind::Role,
        Class::Other(kind) => kind,
    })
}

enum Class {
    Static(Resolved),
    RoleFrom(String),
    Other(ProfileKind),
}

fn setting_value(files: &AwsFiles, profile: &str, key: &str) -> Option<String> {
    files
        .setting(profile, key)
        .map(|(_, e)| e.value.clone())
        .filter(|v| !v.is_empty())
}

fn classify(files: &AwsFiles, profile: &str) -> Result<Class, ProfileError> {
    let has = |key: &str| setting_value(files, profile, key).is_some();
    // botocore's assume-role provider leaves a profile with a web identity token file to the
    // web-identity provider (EKS and CI OIDC roles).
    if has("web_identity_token_file") {
        return Ok(Class::Other(ProfileKind::WebIdentity));
    }
    if has("role_arn") {
        if let Some(source) = setting_value(files, profile, "source_profile") {
            return Ok(Class::RoleFrom(source));
        }
        return Ok(Class::Other(if has("credential_source") {
            ProfileKind::CredentialSource
        } else {
            ProfileKind::Role
        }));
    }
    if has("sso_session") || has("sso_start_url") || has("sso_account_id") {
        return Ok(Class::Other(ProfileKind::Sso));
    }
    if has("login_session") {
        return Ok(Class::Other(ProfileKind::LoginSession));
    }
    if let Some(found) = keys_in(files, FileKind::Credentials, profile)? {
        return Ok(found);
    }
    if has("credential_process") {
        return Ok(Class::Other(ProfileKind::CredentialProcess));
    }
    if let Some(found) = keys_in(files, FileKind::Config, profile)? {
        return Ok(found);
    }
    Ok(Class::Other(ProfileKind::NoCredentials))
}

fn static_keys(files: &AwsFiles, profile: &str) -> Result<Option<Resolved>, ProfileError> {
    for file in [FileKind::Credentials, FileKind::Config] {
        match keys_in(files, file, profile)? {
            Some(Class::Static(r)) => return Ok(Some(r)),
            Some(_) => return Ok(None),
            None => {}
        }
    }
    Ok(None)
}

/// The keys one file gives a profile, as botocore's shared-credentials and config providers read
/// them: `None` when that file has no `aws_access_key_id` for it.
fn keys_in(files: &AwsFiles, file: FileKind, profile: &str) -> Result<Option<Class>, ProfileError> {
    let doc = files.document(file);
    let Some(id_entry) = doc.get(profile, KEY_ID) else {
        return Ok(None);
    };
    let bad = |line, problem| ProfileError::BadKeys {
        profile: profile.to_owned(),
        file,
        line,
        problem,
    };
    if id_entry.value.is_empty() {
        return Ok(None);
    }
    if doc.get(profile, "aws_session_token").is_some()
        || doc.get(profile, "aws_security_token").is_some()
    {
        return Ok(Some(Class::Other(ProfileKind::Session)));
    }
    let Some(secret_entry) = doc.get(profile, SECRET) else {
        return Err(bad(
            id_entry.line,
            "aws_access_key_id has no aws_secret_access_key beside it",
        ));
    };
    if id_entry.multiline {
        return Err(bad(
            id_entry.line,
            "aws_access_key_id continues on the next line; put it on one line",
        ));
    }
    if secret_entry.multiline {
        return Err(bad(
            secret_entry.line,
            "aws_secret_access_key continues on the next line; put it on one line",
        ));
    }
    let Some(id) = AccessKeyId::new(id_entry.value.clone()) else {
        return Err(bad(
            id_entry.line,
            "aws_access_key_id is not a valid access key id",
        ));
    };
    let Some(secret) = SecretAccessKey::new(secret_entry.value.clone()) else {
        return Err(bad(
            secret_entry.line,
            "aws_secret_access_key is empty or not a valid secret",
        ));
    };
    // The entry is the profile section's own, or inherited from configparser's [DEFAULT].
    let section = match doc.profile_section(profile) {
        Some(s) if s.entry(KEY_ID).is_some() => s.header.clone(),
        _ => "DEFAULT".to_owned(),
    };
    let location = Holder {
        file,
        section,
        profile: Some(profile.to_owned()),
        line: id_entry.line,
    };
    Ok(Some(Class::Static(Resolved {
        profile: profile.to_owned(),
        holder: profile.to_owned(),
        access_key_id: id,
        secret,
        location,
        mfa_serial: None,
    })))
}

/// Which profiles a run is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    /// `--profile` (repeatable), or the default profile.
    Profiles(Vec<String>),
    /// `--all-profiles`.
    All,
}

/// One key to rotate, and every profile of the run that uses it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// The profiles of the run that use this key, in the order asked.
    pub profiles: Vec<String>,
    /// The profile whose keys sign the IAM calls.
    pub holder: String,
    /// The key.
    pub access_key_id: AccessKeyId,
    /// Its secret.
    pub secret: SecretAccessKey,
    /// Every section in either file that holds the key: all of them get the new one.
    pub holders: Vec<Holder>,
    /// `mfa_serial` for the IAM calls, if the profile has one.
    pub mfa_serial: Option<String>,
}

/// A profile left out of an `--all-profiles` run, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SkippedProfile {
    /// The profile.
    pub profile: String,
    /// Why, in words.
    pub reason: String,
}

/// What a run will rotate.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Selected {
    /// One entry per distinct key.
    pub candidates: Vec<Candidate>,
    /// Profiles left out (only with `--all-profiles`; named profiles that cannot be rotated are errors).
    pub skipped: Vec<SkippedProfile>,
}

/// Resolves the profiles of a run and groups them by key: profiles sharing a key rotate once.
///
/// With named profiles, any profile that cannot be rotated is an error (before any request is
/// sent). With `--all-profiles`, every profile that holds static keys itself is rotated; the rest
/// are listed as skipped.
pub fn select(files: &AwsFiles, selection: &Selection) -> Result<Selected, ProfileError> {
    let mut out = Selected::default();
    let resolved: Vec<Resolved> = match selection {
        Selection::Profiles(names) => names
            .iter()
            .map(|p| resolve(files, p))
            .collect::<Result<_, _>>()?,
        Selection::All => {
            let mut found = Vec::new();
            for name in files.profile_names() {
                match classify(files, name) {
                    Ok(Class::Static(r)) => found.push(r),
                    Ok(Class::RoleFrom(source)) => out.skipped.push(SkippedProfile {
                        profile: name.to_owned(),
                        reason: format!("an assumed role: uses the keys of profile {source}"),
                    }),
                    Ok(Class::Other(kind)) => out.skipped.push(SkippedProfile {
                        profile: name.to_owned(),
                        reason: format!("uses {kind}, not IAM-user access keys"),
                    }),
                    Err(e) => out.skipped.push(SkippedProfile {
                        profile: name.to_owned(),
                        reason: e.to_string(),
                    }),
                }
            }
            found
        }
    };
    let mut index: std::collections::HashMap<AccessKeyId, usize> = std::collections::HashMap::new();
    let mut held: Option<BTreeMap<AccessKeyId, Vec<Holder>>> = None;
    for r in resolved {
        if let Some(c) = index.get(&r.access_key_id).map(|&i| &mut out.candidates[i]) {
            if !c.profiles.contains(&r.profile) {
                c.profiles.push(r.profile);
            }
            if c.mfa_serial.is_none() {
                c.mfa_serial = r.mfa_serial;
            }
            continue;
        }
        // Many keys: find every holder in one pass; one key: look for it alone.
        let holders = if matches!(selection, Selection::All) {
            held.get_or_insert_with(|| files.held_keys())
                .get(&r.access_key_id)
                .cloned()
                .unwrap_or_default()
        } else {
            files.holders(&r.access_key_id)
        };
        index.insert(r.access_key_id.clone(), out.candidates.len());
        out.candidates.push(Candidate {
            profiles: vec![r.profile],
            holder: r.holder,
            access_key_id: r.access_key_id,
            secret: r.secret,
            holders,
            mfa_serial: r.mfa_serial,
        });
    }
    Ok(out)
}
