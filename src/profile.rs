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

use crate::ini::parse::NameIndex;
use crate::ini::{
    CompactString, Document, FileKind, KNOWN, ParseError, RawEntry, Section, SectionKind,
};
use crate::key::{AccessKeyId, SecretAccessKey};
use crate::plan::HeldKeys;

/// The place in [`KNOWN`] of a setting named by a literal, found while compiling.
macro_rules! at {
    ($key:literal) => {
        const { crate::ini::place($key) }
    };
}

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
        Self::parse_owned(config.to_owned(), credentials.to_owned())
    }

    /// [`AwsFiles::parse`] of texts the caller gives up (see [`Document::parse_owned`]).
    ///
    /// # Errors
    ///
    /// As [`AwsFiles::parse`].
    pub fn parse_owned(config: String, credentials: String) -> Result<Self, FileError> {
        let parse = |file, text| {
            Document::parse_owned(file, text).map_err(|error| FileError { file, error })
        };
        Ok(Self {
            config: parse(FileKind::Config, config)?,
            credentials: parse(FileKind::Credentials, credentials)?,
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

    /// Every section, in either file, that holds key `id` (see [`Document::key_holders`]).
    pub fn holders(&self, id: &AccessKeyId) -> Vec<Holder> {
        let mut out = Vec::new();
        for file in [FileKind::Credentials, FileKind::Config] {
            let doc = self.document(file);
            for section in doc.key_holders(id) {
                let line = doc
                    .raw_entry(section, "aws_access_key_id")
                    .map_or(section.line, |e| e.line());
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
    pub fn held_keys(&self) -> HeldKeys {
        // The index is not sized from the sections: most do not hold a key, or share one, and
        // a table sized for all of them touches twice the memory (as many pages as growing
        // costs). The vectors are, in `held_where`: room they do not use is never touched.
        self.held_where(0, |value| AccessKeyId::new(value))
    }

    /// [`AwsFiles::held_keys`] for the keys `ids` only: what deciding one key's rotation reads
    /// (the user's keys), without a map of every key of a large file.
    pub fn held_keys_of(&self, ids: &[AccessKeyId]) -> HeldKeys {
        self.held_where(ids.len(), |value| {
            ids.iter().find(|id| id.as_str() == value).cloned()
        })
    }

    /// The holders of the key ids that `id` takes from an `aws_access_key_id` value (at most
    /// `keys` of them, where known).
    fn held_where(&self, keys: usize, mut id: impl FnMut(&str) -> Option<AccessKeyId>) -> HeldKeys {
        let pairs = [FileKind::Credentials, FileKind::Config]
            .into_iter()
            .flat_map(|file| {
                let doc = self.document(file);
                doc.sections()
                    .iter()
                    .map(move |section| (file, doc, section))
            })
            .filter_map(|(file, doc, section)| {
                let e = doc.raw_entry(section, "aws_access_key_id")?;
                let id = id(doc.raw_value(e))?;
                // The same rule as `Document::key_holders`: a session's keys are not a holder.
                if doc.has_session_token(section) {
                    return None;
                }
                let holder = Holder {
                    file,
                    section: section.header.clone(),
                    profile: profile_of(&section.kind),
                    line: e.line(),
                };
                Some((id, holder))
            });
        // Each section holds at most one key.
        let sections = self.credentials.sections().len() + self.config.sections().len();
        HeldKeys::collect(keys, sections, pairs)
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
                    .setting(at!("mfa_serial"))
                    .or_else(|| View::new(files, profile).setting(at!("mfa_serial")))
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
                            let mfa_serial = view.setting(at!("mfa_serial")).map(str::to_owned);
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

/// One profile's sections in both files, found once, and its [`KNOWN`] settings found in one
/// scan of each: classifying a profile reads a dozen settings, and `--all-profiles` classifies
/// every profile.
struct View<'a> {
    files: &'a AwsFiles,
    profile: &'a str,
    credentials: Option<&'a Section>,
    config: Option<&'a Section>,
    /// Per file (credentials, config): the entry each [`KNOWN`] setting reads, its section's own
    /// or else `[DEFAULT]`'s, as [`Document::lookup`] finds it.
    found: [[Option<&'a RawEntry>; KNOWN.len()]; 2],
}

impl<'a> View<'a> {
    fn new(files: &'a AwsFiles, profile: &'a str) -> Self {
        let credentials = files.credentials.profile_section(profile);
        let config = files.config.profile_section(profile);
        Self::with(files, profile, credentials, config)
    }

    /// The view of a profile whose sections are known already.
    fn with(
        files: &'a AwsFiles,
        profile: &'a str,
        credentials: Option<&'a Section>,
        config: Option<&'a Section>,
    ) -> Self {
        let scan = |doc: &'a Document, section: Option<&'a Section>| {
            let mut found = [None; KNOWN.len()];
            let Some(section) = section else {
                return found;
            };
            for e in doc.raw_entries(section) {
                if let Some(i) = e.known() {
                    found[i] = Some(e);
                }
            }
            for d in doc.defaults() {
                for e in doc.raw_entries(d) {
                    if let Some(i) = e.known() {
                        found[i].get_or_insert(e);
                    }
                }
            }
            found
        };
        Self {
            files,
            profile,
            credentials,
            config,
            found: [
                scan(&files.credentials, credentials),
                scan(&files.config, config),
            ],
        }
    }

    /// The profile's stored entry for the setting at place `key` of [`KNOWN`] (see [`at!`]) in
    /// one file: its own, else `[DEFAULT]`'s.
    #[inline]
    fn raw(&self, file: FileKind, key: usize) -> Option<&'a RawEntry> {
        let f = match file {
            FileKind::Credentials => 0,
            FileKind::Config => 1,
        };
        self.found[f].get(key).copied().flatten()
    }

    /// The profile's section in one file.
    fn section(&self, file: FileKind) -> Option<&'a Section> {
        match file {
            FileKind::Credentials => self.credentials,
            FileKind::Config => self.config,
        }
    }

    /// A setting as botocore sees it (the credentials file's value, else the config's), if it is
    /// not empty.
    #[inline]
    fn setting(&self, key: usize) -> Option<&'a str> {
        let (doc, e) = self.read(key)?;
        Some(doc.raw_value(e)).filter(|v| !v.is_empty())
    }

    /// Whether [`View::setting`] has the setting, told from the entry alone: classifying every
    /// profile of a large file reads no value it does not need.
    #[inline]
    fn has(&self, key: usize) -> bool {
        self.read(key)
            .is_some_and(|(doc, e)| !doc.raw_value_is_empty(e))
    }

    /// The entry botocore reads for a setting: the credentials file's, else the config's.
    #[inline]
    fn read(&self, key: usize) -> Option<(&'a Document, &'a RawEntry)> {
        let found = |file| Some((self.files.document(file), self.raw(file, key)?));
        found(FileKind::Credentials).or_else(|| found(FileKind::Config))
    }
}

fn classify(view: &View<'_>) -> Result<Class, ProfileError> {
    // botocore's assume-role provider leaves a profile with a web identity token file to the
    // web-identity provider (EKS and CI OIDC roles).
    if view.has(at!("web_identity_token_file")) {
        return Ok(Class::Other(ProfileKind::WebIdentity));
    }
    if view.has(at!("role_arn")) {
        if let Some(source) = view.setting(at!("source_profile")) {
            return Ok(Class::RoleFrom(CompactString::new(source)));
        }
        return Ok(Class::Other(if view.has(at!("credential_source")) {
            ProfileKind::CredentialSource
        } else {
            ProfileKind::Role
        }));
    }
    if view.has(at!("sso_session"))
        || view.has(at!("sso_start_url"))
        || view.has(at!("sso_account_id"))
    {
        return Ok(Class::Other(ProfileKind::Sso));
    }
    if view.has(at!("login_session")) {
        return Ok(Class::Other(ProfileKind::LoginSession));
    }
    if let Some(found) = keys_in(view, FileKind::Credentials)? {
        return Ok(found);
    }
    if view.has(at!("credential_process")) {
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
    let Some(id_entry) = view.raw(file, at!("aws_access_key_id")) else {
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
    if view.raw(file, at!("aws_session_token")).is_some()
        || view.raw(file, at!("aws_security_token")).is_some()
    {
        return Ok(Some(Class::Other(ProfileKind::Session)));
    }
    let Some(secret_entry) = view.raw(file, at!("aws_secret_access_key")) else {
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
        Some(s) if doc.owns(s, id_entry) => s.header.clone(),
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
        mfa_serial: view.setting(at!("mfa_serial")).map(str::to_owned),
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
    pub profile: CompactString,
    /// Why (its `Display` and serialized form are the words).
    pub reason: SkipReason,
}

/// Why `--all-profiles` leaves a profile out. Kept as data, and put in words only when shown:
/// a large file skips thousands of profiles that nobody reads about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SkipReason {
    /// An assumed role: the keys are those of the named source profile.
    Role {
        /// Its `source_profile`.
        source_profile: CompactString,
    },
    /// Credentials of another kind.
    Kind(ProfileKind),
    /// The profile cannot be read as it stands. (Boxed: rare, and a large file skips thousands
    /// of profiles for the other reasons, each as large as the largest reason.)
    Error(Box<ProfileError>),
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
    match selection {
        Selection::All => select_held(files, selection, &files.held_keys()),
        Selection::Profiles(_) => select_by(files, selection, None, |id| files.holders(id)),
    }
}

/// [`select`], with every key the files hold found already (as [`AwsFiles::held_keys`] finds
/// them): a run needs them again to plan, and finding them is a pass over both files.
pub fn select_held(
    files: &AwsFiles,
    selection: &Selection,
    held: &HeldKeys,
) -> Result<Selected, ProfileError> {
    select_by(files, selection, Some(held.len()), |id| {
        held.get(id).map(<[Holder]>::to_vec).unwrap_or_default()
    })
}

/// [`select`] for a caller that finds each candidate's holders itself when it needs them (the
/// session, at each decision: the files may have changed since): every `holders` is left empty.
/// `held` is every key the files hold, where known already (it sizes the result).
pub(crate) fn select_unplaced(
    files: &AwsFiles,
    selection: &Selection,
    held: Option<&HeldKeys>,
) -> Result<Selected, ProfileError> {
    select_by(files, selection, held.map(HeldKeys::len), |_| Vec::new())
}

/// `keys`: how many distinct keys the files hold, where known (a candidate is one of them).
fn select_by(
    files: &AwsFiles,
    selection: &Selection,
    keys: Option<usize>,
    mut holders: impl FnMut(&AccessKeyId) -> Vec<Holder>,
) -> Result<Selected, ProfileError> {
    let mut out = Selected::default();
    // Key id -> its candidate: a table of indexes, a quarter of the memory of a map that
    // holds the ids too.
    let mut index = NameIndex::default();
    match selection {
        Selection::Profiles(names) => {
            let resolved: Vec<Resolved> = names
                .iter()
                .map(|p| resolve(files, p))
                .collect::<Result<_, _>>()?;
            for r in resolved {
                out.add(&mut index, r, &mut holders);
            }
        }
        Selection::All => {
            let (credentials, config) = (&files.credentials, &files.config);
            // At most one skip per profile, one candidate per key: no vector grows by copying
            // itself.
            let most = credentials.profile_count() + config.profile_count();
            let keys = keys.unwrap_or(most).min(most);
            // A profile is skipped or a candidate's: when every held key is a candidate's, no
            // more than this are skipped.
            out.skipped.reserve(most - keys);
            out.candidates.reserve(keys);
            index = NameIndex::with_capacity(keys);
            let views = credentials
                .profiles()
                .map(|(name, s)| View::with(files, name, Some(s), config.profile_section(name)))
                .chain(
                    config
                        .profiles()
                        .filter(|(name, _)| credentials.profile_section(name).is_none())
                        .map(|(name, s)| View::with(files, name, None, Some(s))),
                );
            for view in views {
                let reason = match classify(&view) {
                    Ok(Class::Static(r)) => {
                        out.add(&mut index, r, &mut holders);
                        continue;
                    }
                    Ok(Class::RoleFrom(source_profile)) => SkipReason::Role { source_profile },
                    Ok(Class::Other(kind)) => SkipReason::Kind(kind),
                    Err(e) => SkipReason::Error(Box::new(e)),
                };
                out.skipped.push(SkippedProfile {
                    profile: CompactString::new(view.profile),
                    reason,
                });
            }
        }
    }
    Ok(out)
}

impl Selected {
    /// Adds a resolved profile: a new candidate for a key not seen yet (`holders` finds every
    /// place that holds it), else one more profile of the key's candidate.
    fn add(
        &mut self,
        index: &mut NameIndex,
        r: Resolved,
        holders: &mut impl FnMut(&AccessKeyId) -> Vec<Holder>,
    ) {
        let candidates = &self.candidates;
        let id_of = |i: usize| candidates[i].access_key_id.as_str();
        // Candidates are far fewer than `NameIndex::MAX` (one per key of a file under 4 GiB).
        let next = candidates.len();
        if let Some(i) = index.get_or_insert(r.access_key_id.as_str(), next, id_of) {
            let c = &mut self.candidates[i];
            if !c.profiles.contains(&r.profile) {
                c.profiles.push(r.profile);
            }
            if c.mfa_serial.is_none() {
                c.mfa_serial = r.mfa_serial;
            }
            return;
        }
        let holders = holders(&r.access_key_id);
        self.candidates.push(Candidate {
            profiles: vec![r.profile],
            holder: r.holder,
            access_key_id: r.access_key_id,
            secret: r.secret,
            holders,
            mfa_serial: r.mfa_serial,
        });
    }
}
