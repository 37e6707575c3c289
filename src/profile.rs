//! Resolving profiles: where a profile's static keys live, what kind of credentials it has, and
//! every other place in either file that holds the same key.
//!
//! This follows botocore's credential chain for what it reads from files: `role_arn` (with
//! `source_profile`, followed to the profile that holds static keys), `web_identity_token_file`,
//! SSO, `login_session`, keys in the credentials file, `credential_process`, then keys in the config
//! file. Values from the credentials file override the config file's for the same profile, as
//! botocore merges them. Nothing here reads a file or the environment: the shell hands in the text.

use std::fmt;

use serde::Serialize;

use indexmap::IndexMap;

use crate::ini::{
    CompactString, Document, FileKind, ParseError, RawEntry, Section, SectionKind, Setting,
};
use crate::key::{AccessKeyId, SecretAccessKey};
use crate::plan::HeldKeys;

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
    /// Parses both texts (kept by the documents: given, or copied from a `&str`).
    ///
    /// # Errors
    ///
    /// The first file that botocore would not read, and where.
    pub fn parse(
        config: impl Into<String>,
        credentials: impl Into<String>,
    ) -> Result<Self, FileError> {
        let parse = |file, text: String| {
            Document::parse(file, text).map_err(|error| FileError { file, error })
        };
        Ok(Self {
            config: parse(FileKind::Config, config.into())?,
            credentials: parse(FileKind::Credentials, credentials.into())?,
        })
    }

    /// The texts, given back: (config, credentials).
    pub fn into_texts(self) -> (String, String) {
        (self.config.into_text(), self.credentials.into_text())
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
        for name in self.config.profile_names() {
            if self.credentials.profile_section(name).is_none() {
                names.push(name);
            }
        }
        names
    }

    fn exists(&self, profile: &str) -> bool {
        self.credentials.profile_section(profile).is_some()
            || self.config.profile_section(profile).is_some()
    }

    /// Every section, in either file, that holds key `id` (see [`Document::key_holders`]).
    pub fn holders(&self, id: &AccessKeyId) -> Vec<Holder> {
        self.held_keys()
            .get(id)
            .map(<[_]>::to_vec)
            .unwrap_or_default()
    }

    /// Every key id held anywhere in the files, with its holders (the credentials file's first).
    pub fn held_keys(&self) -> HeldKeys {
        let mut held = HeldKeys::default();
        for file in [FileKind::Credentials, FileKind::Config] {
            let doc = self.document(file);
            for section in doc.sections() {
                let Some(id) = doc.held_key(section).and_then(AccessKeyId::new) else {
                    continue;
                };
                let line = doc
                    .raw_entry(section, Setting::AccessKeyId.key())
                    .map_or(section.line, RawEntry::line);
                let holder = Holder {
                    file,
                    section: section.header.clone(),
                    profile: profile_of(&section.kind),
                    line,
                };
                held.add(id, holder);
            }
        }
        held
    }
}

fn profile_of(kind: &SectionKind) -> Option<CompactString> {
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
    pub section: CompactString,
    /// The profile the section defines, if it is a profile section.
    pub profile: Option<CompactString>,
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
    pub profile: CompactString,
    /// The profile whose keys are used (differs from `profile` after a `source_profile` chain).
    pub holder: CompactString,
    /// The key id.
    pub access_key_id: AccessKeyId,
    /// The secret.
    pub secret: SecretAccessKey,
    /// Where the holder's keys were read.
    pub location: Holder,
    /// The `mfa_serial` to use for IAM calls: the holder's, else the profile's.
    pub mfa_serial: Option<String>,
}

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
        let view = View::new(files, &current);
        match classify(&view)? {
            Class::Static(found) => {
                let mfa_serial = view
                    .setting(Setting::MfaSerial)
                    .or_else(|| View::new(files, profile).setting(Setting::MfaSerial))
                    .map(str::to_owned);
                return Ok(Resolved {
                    profile: CompactString::new(profile),
                    holder: CompactString::from(current),
                    mfa_serial,
                    ..found
                });
            }
            Class::RoleFrom(source) => {
                let source = source.into_string();
                if source == current {
                    // botocore: a role profile may name itself as its source when it also holds keys.
                    match static_keys(&view)? {
                        Some(found) => {
                            let mfa_serial = view.setting(Setting::MfaSerial).map(str::to_owned);
                            return Ok(Resolved {
                                profile: CompactString::new(profile),
                                holder: CompactString::from(current),
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
    Ok(match classify(&View::new(files, profile))? {
        Class::Static(_) => ProfileKind::StaticKeys,
        Class::RoleFrom(_) => ProfileKind::Role,
        Class::Other(kind) => kind,
    })
}

enum Class {
    Static(Resolved),
    RoleFrom(CompactString),
    Other(ProfileKind),
}

/// One profile's sections in both files, and the settings botocore reads for it.
struct View<'a> {
    files: &'a AwsFiles,
    profile: &'a str,
    credentials: Option<&'a Section>,
    config: Option<&'a Section>,
}

impl<'a> View<'a> {
    fn new(files: &'a AwsFiles, profile: &'a str) -> Self {
        Self {
            files,
            profile,
            credentials: files.credentials.profile_section(profile),
            config: files.config.profile_section(profile),
        }
    }

    /// The profile's section in one file.
    fn section(&self, file: FileKind) -> Option<&'a Section> {
        match file {
            FileKind::Credentials => self.credentials,
            FileKind::Config => self.config,
        }
    }

    /// The profile's stored entry for a setting in one file: its own, else `[DEFAULT]`'s (none
    /// where the file has no section for the profile).
    fn raw(&self, file: FileKind, setting: Setting) -> Option<&'a RawEntry> {
        let section = self.section(file)?;
        self.files.document(file).raw_lookup(section, setting.key())
    }

    /// A setting as botocore sees it (the credentials file's value, else the config's), if it is
    /// not empty.
    fn setting(&self, setting: Setting) -> Option<&'a str> {
        let read = |file| {
            let doc = self.files.document(file);
            Some(doc.raw_value(self.raw(file, setting)?))
        };
        read(FileKind::Credentials)
            .or_else(|| read(FileKind::Config))
            .filter(|v| !v.is_empty())
    }

    fn has(&self, setting: Setting) -> bool {
        self.setting(setting).is_some()
    }
}

fn classify(view: &View<'_>) -> Result<Class, ProfileError> {
    // botocore's assume-role provider leaves a profile with a web identity token file to the
    // web-identity provider (EKS and CI OIDC roles).
    if view.has(Setting::WebIdentityTokenFile) {
        return Ok(Class::Other(ProfileKind::WebIdentity));
    }
    if view.has(Setting::RoleArn) {
        if let Some(source) = view.setting(Setting::SourceProfile) {
            return Ok(Class::RoleFrom(CompactString::new(source)));
        }
        return Ok(Class::Other(if view.has(Setting::CredentialSource) {
            ProfileKind::CredentialSource
        } else {
            ProfileKind::Role
        }));
    }
    if view.has(Setting::SsoSession)
        || view.has(Setting::SsoStartUrl)
        || view.has(Setting::SsoAccountId)
    {
        return Ok(Class::Other(ProfileKind::Sso));
    }
    if view.has(Setting::LoginSession) {
        return Ok(Class::Other(ProfileKind::LoginSession));
    }
    if let Some(found) = keys_in(view, FileKind::Credentials)? {
        return Ok(found);
    }
    if view.has(Setting::CredentialProcess) {
        return Ok(Class::Other(ProfileKind::CredentialProcess));
    }
    if let Some(found) = keys_in(view, FileKind::Config)? {
        return Ok(found);
    }
    Ok(Class::Other(ProfileKind::NoCredentials))
}

fn static_keys(view: &View<'_>) -> Result<Option<Resolved>, ProfileError> {
    for file in [FileKind::Credentials, FileKind::Config] {
        match keys_in(view, file)? {
            Some(Class::Static(r)) => return Ok(Some(r)),
            Some(_) => return Ok(None),
            None => {}
        }
    }
    Ok(None)
}

/// The keys one file gives a profile, as botocore's shared-credentials and config providers read
/// them: `None` when that file has no `aws_access_key_id` for it.
fn keys_in(view: &View<'_>, file: FileKind) -> Result<Option<Class>, ProfileError> {
    let profile = view.profile;
    let doc = view.files.document(file);
    let Some(id_entry) = view.raw(file, Setting::AccessKeyId) else {
        return Ok(None);
    };
    let bad = |line, problem| ProfileError::BadKeys {
        profile: profile.to_owned(),
        file,
        line,
        problem,
    };
    if doc.raw_value(id_entry).is_empty() {
        return Ok(None);
    }
    if view.raw(file, Setting::SessionToken).is_some()
        || view.raw(file, Setting::SecurityToken).is_some()
    {
        return Ok(Some(Class::Other(ProfileKind::Session)));
    }
    let Some(secret_entry) = view.raw(file, Setting::SecretAccessKey) else {
        return Err(bad(
            id_entry.line(),
            "aws_access_key_id has no aws_secret_access_key beside it",
        ));
    };
    if id_entry.multiline() {
        return Err(bad(
            id_entry.line(),
            "aws_access_key_id continues on the next line; put it on one line",
        ));
    }
    if secret_entry.multiline() {
        return Err(bad(
            secret_entry.line(),
            "aws_secret_access_key continues on the next line; put it on one line",
        ));
    }
    let Some(id) = AccessKeyId::new(doc.raw_value(id_entry)) else {
        return Err(bad(
            id_entry.line(),
            "aws_access_key_id is not a valid access key id",
        ));
    };
    let Some(secret) = SecretAccessKey::new(doc.raw_value(secret_entry)) else {
        return Err(bad(
            secret_entry.line(),
            "aws_secret_access_key is empty or not a valid secret",
        ));
    };
    // The entry is the profile section's own, or inherited from configparser's [DEFAULT].
    let section = match view.section(file) {
        Some(s) if Document::owns(s, id_entry) => s.header.clone(),
        _ => CompactString::const_new("DEFAULT"),
    };
    let name = CompactString::new(profile);
    let location = Holder {
        file,
        section,
        profile: Some(name.clone()),
        line: id_entry.line(),
    };
    Ok(Some(Class::Static(Resolved {
        profile: name.clone(),
        holder: name,
        access_key_id: id,
        secret,
        location,
        // The profile's own (or [DEFAULT]'s), as botocore reads it: `--all-profiles` and
        // `status` take it from here; `resolve` puts the holder's in after a source_profile chain.
        mfa_serial: view.setting(Setting::MfaSerial).map(str::to_owned),
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
    pub profiles: Vec<CompactString>,
    /// The profile whose keys sign the IAM calls.
    pub holder: CompactString,
    /// The key.
    pub access_key_id: AccessKeyId,
    /// Its secret.
    pub secret: SecretAccessKey,
    /// `mfa_serial` for the IAM calls, if the profile has one.
    pub mfa_serial: Option<String>,
}

/// A profile left out of an `--all-profiles` run, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SkippedProfile {
    /// The profile.
    pub profile: CompactString,
    /// Why (its `Display` and serialized form are the words).
    pub reason: SkipReason,
}

/// Why `--all-profiles` leaves a profile out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SkipReason {
    /// An assumed role: the keys are those of the named source profile.
    Role {
        /// Its `source_profile`.
        source_profile: CompactString,
    },
    /// Credentials of another kind.
    Kind(ProfileKind),
    /// The profile cannot be read as it stands.
    Error(ProfileError),
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Role { source_profile } => {
                write!(
                    f,
                    "an assumed role: uses the keys of profile {source_profile}"
                )
            }
            Self::Kind(kind) => write!(f, "uses {kind}, not IAM-user access keys"),
            Self::Error(e) => e.fmt(f),
        }
    }
}

impl Serialize for SkipReason {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
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
    let mut candidates: IndexMap<AccessKeyId, Candidate, foldhash::fast::RandomState> =
        IndexMap::default();
    let mut skipped = Vec::new();
    let mut add = |r: Resolved| match candidates.get_mut(&r.access_key_id) {
        Some(c) => {
            if !c.profiles.contains(&r.profile) {
                c.profiles.push(r.profile);
            }
            if c.mfa_serial.is_none() {
                c.mfa_serial = r.mfa_serial;
            }
        }
        None => {
            let c = Candidate {
                profiles: vec![r.profile],
                holder: r.holder,
                access_key_id: r.access_key_id.clone(),
                secret: r.secret,
                mfa_serial: r.mfa_serial,
            };
            candidates.insert(r.access_key_id, c);
        }
    };
    match selection {
        Selection::Profiles(names) => {
            let resolved: Vec<Resolved> = names
                .iter()
                .map(|p| resolve(files, p))
                .collect::<Result<_, _>>()?;
            resolved.into_iter().for_each(&mut add);
        }
        Selection::All => {
            for name in files.profile_names() {
                let reason = match classify(&View::new(files, name)) {
                    Ok(Class::Static(r)) => {
                        add(r);
                        continue;
                    }
                    Ok(Class::RoleFrom(source_profile)) => SkipReason::Role { source_profile },
                    Ok(Class::Other(kind)) => SkipReason::Kind(kind),
                    Err(e) => SkipReason::Error(e),
                };
                skipped.push(SkippedProfile {
                    profile: CompactString::new(name),
                    reason,
                });
            }
        }
    }
    Ok(Selected {
        candidates: candidates.into_values().collect(),
        skipped,
    })
}
