//! Profile resolution from the two files' text: where a profile's static keys live, which kinds of
//! profile are refused and why, `source_profile` chains, `--all-profiles` grouping, and every
//! place that holds a key (spec, "Where keys live").

use aws_rotate_keys::ini::FileKind;
use aws_rotate_keys::key::AccessKeyId;
use aws_rotate_keys::profile::{
    self, AwsFiles, Holder, ProfileError, ProfileKind, Resolved, Selection, SkippedProfile,
};

fn id(s: &str) -> AccessKeyId {
    AccessKeyId::new(s).expect("test key ids are valid")
}

fn files(config: &str, credentials: &str) -> AwsFiles {
    AwsFiles::parse(config, credentials).expect("the test files parse")
}

fn resolve(f: &AwsFiles, profile: &str) -> Resolved {
    profile::resolve(f, profile).unwrap_or_else(|e| panic!("{profile}: {e}"))
}

fn refuse(f: &AwsFiles, profile: &str) -> ProfileError {
    match profile::resolve(f, profile) {
        Ok(r) => panic!(
            "{profile}: expected an error, resolved to {}",
            r.access_key_id
        ),
        Err(e) => e,
    }
}

fn holder(file: FileKind, section: &str, profile: Option<&str>, line: usize) -> Holder {
    Holder {
        file,
        section: section.into(),
        profile: profile.map(Into::into),
        line,
    }
}

const CREDENTIALS: &str = "\
# my keys
[default]
aws_access_key_id = AKIADEFAULT000000001
aws_secret_access_key = defaultSecret/EXAMPLEKEY

[work]
aws_access_key_id = AKIAWORK000000000001
aws_secret_access_key = workSecret/EXAMPLEKEY
";

const CONFIG: &str = "\
[default]
region = eu-west-1
output = json

[profile work]
region = us-east-1
aws_access_key_id = AKIASTALE00000000001
aws_secret_access_key = staleSecret/EXAMPLEKEY

[profile cfgonly]
region = eu-central-1
; keys kept in the config file
aws_access_key_id = AKIACONFIG0000000001
aws_secret_access_key = configSecret/EXAMPLEKEY
mfa_serial = arn:aws:iam::123456789012:mfa/alice
";

#[test]
fn all_profiles_and_named_profiles_read_the_same_mfa_serial() {
    // The profile's own, or [DEFAULT]'s, as botocore reads it; [default]'s is its own only.
    let config = "\
[DEFAULT]
mfa_serial = arn:aws:iam::123456789012:mfa/everyone

[default]
mfa_serial = arn:aws:iam::123456789012:mfa/alice

[profile work]
region = eu-west-1
";
    let credentials = "\
[default]
aws_access_key_id = AKIADEFAULT000000001
aws_secret_access_key = defaultSecret

[work]
aws_access_key_id = AKIAWORK000000000001
aws_secret_access_key = workSecret
";
    let f = files(config, credentials);
    let want = [
        ("default", "arn:aws:iam::123456789012:mfa/alice"),
        ("work", "arn:aws:iam::123456789012:mfa/everyone"),
    ];
    for (p, serial) in want {
        assert_eq!(resolve(&f, p).mfa_serial.as_deref(), Some(serial), "{p}");
    }
    let all = profile::select(&f, &Selection::All).expect("select");
    let got: Vec<(&str, Option<&str>)> = all
        .candidates
        .iter()
        .map(|c| (c.profiles[0].as_str(), c.mfa_serial.as_deref()))
        .collect();
    assert_eq!(
        got,
        want.iter().map(|(p, s)| (*p, Some(*s))).collect::<Vec<_>>()
    );
    // Without [DEFAULT], work has none, either way.
    let f = files(
        &config.replacen("[DEFAULT]\nmfa_serial", "[other]\nmfa_serial", 1),
        credentials,
    );
    assert_eq!(resolve(&f, "work").mfa_serial, None);
    let all = profile::select(&f, &Selection::All).expect("select");
    assert_eq!(all.candidates[1].mfa_serial, None);
    assert_eq!(
        all.candidates[0].mfa_serial.as_deref(),
        Some("arn:aws:iam::123456789012:mfa/alice")
    );
}

#[test]
fn credentials_file_beats_config_file() {
    let f = files(CONFIG, CREDENTIALS);
    let r = resolve(&f, "work");
    assert_eq!(r.access_key_id, id("AKIAWORK000000000001"));
    assert_eq!(r.secret.expose(), "workSecret/EXAMPLEKEY");
    assert_eq!(
        r.location,
        holder(FileKind::Credentials, "work", Some("work"), 7)
    );
    assert_eq!(r.holder, "work");
}

#[test]
fn keys_in_the_config_file_only() {
    let f = files(CONFIG, CREDENTIALS);
    let r = resolve(&f, "cfgonly");
    assert_eq!(r.access_key_id, id("AKIACONFIG0000000001"));
    assert_eq!(
        r.location,
        holder(FileKind::Config, "profile cfgonly", Some("cfgonly"), 13)
    );
    assert_eq!(
        r.mfa_serial.as_deref(),
        Some("arn:aws:iam::123456789012:mfa/alice")
    );
}

#[test]
fn default_profile_from_credentials() {
    let f = files(CONFIG, CREDENTIALS);
    let r = resolve(&f, "default");
    assert_eq!(r.access_key_id, id("AKIADEFAULT000000001"));
    assert_eq!(
        r.location,
        holder(FileKind::Credentials, "default", Some("default"), 3)
    );
}

#[test]
fn keys_inherited_from_default_are_placed_in_default() {
    // configparser's [DEFAULT] gives its keys to every section without its own.
    let credentials = "[DEFAULT]\naws_access_key_id = AKIAINHERITED0000001\n\
                       aws_secret_access_key = inherited\n[own]\n\
                       aws_access_key_id = AKIAOWN0000000000001\naws_secret_access_key = own\n\
                       [bare]\nregion = eu-west-1\n";
    let f = files("", credentials);
    let r = resolve(&f, "bare");
    assert_eq!(r.access_key_id, id("AKIAINHERITED0000001"));
    assert_eq!(
        r.location,
        holder(FileKind::Credentials, "DEFAULT", Some("bare"), 2)
    );
    let r = resolve(&f, "own");
    assert_eq!(
        r.location,
        holder(FileKind::Credentials, "own", Some("own"), 5)
    );
}

#[test]
fn keys_in_config_without_a_credentials_file() {
    let f = files(
        "[default]\naws_access_key_id = AKIAONLY000000000001\naws_secret_access_key = s3cret\n",
        "",
    );
    let r = resolve(&f, "default");
    assert_eq!(
        r.location,
        holder(FileKind::Config, "default", Some("default"), 2)
    );
}

#[test]
fn source_profile_chain_is_followed_to_the_static_keys() {
    let config = "\
[profile base]
mfa_serial = arn:aws:iam::123456789012:mfa/base

[profile admin]
role_arn = arn:aws:iam::123456789012:role/admin
source_profile = base

[profile deep]
role_arn = arn:aws:iam::210987654321:role/deep
source_profile = admin
mfa_serial = arn:aws:iam::123456789012:mfa/deep
";
    let credentials =
        "[base]\naws_access_key_id = AKIABASE000000000001\naws_secret_access_key = baseSecret\n";
    let f = files(config, credentials);
    let r = resolve(&f, "admin");
    assert_eq!(r.profile, "admin");
    assert_eq!(r.holder, "base");
    assert_eq!(r.access_key_id, id("AKIABASE000000000001"));
    assert_eq!(
        r.location,
        holder(FileKind::Credentials, "base", Some("base"), 2)
    );
    // The holder's mfa_serial signs the IAM calls.
    assert_eq!(
        r.mfa_serial.as_deref(),
        Some("arn:aws:iam::123456789012:mfa/base")
    );

    let r = resolve(&f, "deep");
    assert_eq!((r.profile.as_str(), r.holder.as_str()), ("deep", "base"));
    assert_eq!(r.access_key_id, id("AKIABASE000000000001"));
}

#[test]
fn a_role_profile_that_names_itself_as_source_uses_its_own_keys() {
    let credentials = "\
[self]
aws_access_key_id = AKIASELF000000000001
aws_secret_access_key = selfSecret
role_arn = arn:aws:iam::123456789012:role/r
source_profile = self
";
    let r = resolve(&files("", credentials), "self");
    assert_eq!(r.access_key_id, id("AKIASELF000000000001"));
    assert_eq!(r.holder, "self");
}

#[test]
fn source_profile_loops_are_refused() {
    let config = "\
[profile a]
role_arn = arn:aws:iam::123456789012:role/a
source_profile = b

[profile b]
role_arn = arn:aws:iam::123456789012:role/b
source_profile = a

[profile me]
role_arn = arn:aws:iam::123456789012:role/me
source_profile = me
";
    let f = files(config, "");
    assert_eq!(
        refuse(&f, "a"),
        ProfileError::SourceLoop {
            profile: "a".into(),
            chain: vec!["a".into(), "b".into(), "a".into()]
        }
    );
    assert_eq!(
        refuse(&f, "me"),
        ProfileError::SourceLoop {
            profile: "me".into(),
            chain: vec!["me".into(), "me".into()]
        }
    );
    let msg = refuse(&f, "a").to_string();
    assert!(msg.contains("a -> b -> a"), "{msg}");
}

#[test]
fn missing_source_profile_is_named() {
    let config = "\
[profile top]
role_arn = arn:aws:iam::123456789012:role/top
source_profile = middle

[profile middle]
role_arn = arn:aws:iam::123456789012:role/middle
source_profile = nowhere
";
    let e = refuse(&files(config, ""), "top");
    assert_eq!(
        e,
        ProfileError::SourceNotFound {
            profile: "middle".into(),
            source_profile: "nowhere".into()
        }
    );
    assert!(e.to_string().contains("nowhere"));
}

#[test]
fn unsupported_kinds_are_refused_by_name() {
    let config = "\
[profile envrole]
role_arn = arn:aws:iam::123456789012:role/ci
credential_source = Environment

[profile ssosess]
sso_session = corp
sso_account_id = 123456789012
sso_role_name = ReadOnly

[sso-session corp]
sso_start_url = https://corp.awsapps.com/start
sso_region = us-east-1

[profile ssolegacy]
sso_start_url = https://corp.awsapps.com/start
sso_region = us-east-1
sso_account_id = 123456789012
sso_role_name = ReadOnly

[profile proc]
credential_process = /usr/local/bin/vault-creds --profile proc

[profile webid]
role_arn = arn:aws:iam::123456789012:role/web
web_identity_token_file = /var/run/secrets/eks.amazonaws.com/serviceaccount/token

[profile webidonly]
web_identity_token_file = /var/run/token

[profile login]
login_session = arn:aws:iam::123456789012:user/alice
region = eu-west-1

[profile cfgsession]
aws_access_key_id = ASIACFGSESSION000001
aws_secret_access_key = tempSecret
aws_session_token = IQoJb3JpZ2luX2VjEXAMPLE

[profile empty]
region = eu-west-1

[profile blankrole]
role_arn =
web_identity_token_file =
sso_session = corp

[profile shadowed]
credential_process = /usr/local/bin/creds
";
    let credentials = "\
[session]
aws_access_key_id = ASIASESSION000000001
aws_secret_access_key = tempSecret
aws_session_token = IQoJb3JpZ2luX2VjEXAMPLE

[shadowed]
credential_process =
";
    let f = files(config, credentials);
    let cases = [
        ("envrole", ProfileKind::CredentialSource),
        ("ssosess", ProfileKind::Sso),
        ("ssolegacy", ProfileKind::Sso),
        ("proc", ProfileKind::CredentialProcess),
        // botocore's assume-role provider leaves a profile with web_identity_token_file to the
        // web-identity provider, role_arn or not.
        ("webid", ProfileKind::WebIdentity),
        ("webidonly", ProfileKind::WebIdentity),
        ("login", ProfileKind::LoginSession),
        ("session", ProfileKind::Session),
        ("cfgsession", ProfileKind::Session),
        ("empty", ProfileKind::NoCredentials),
        // An empty setting is no setting.
        ("blankrole", ProfileKind::Sso),
        // The credentials file's (empty) value is the one read.
        ("shadowed", ProfileKind::NoCredentials),
    ];
    let mut wrong = Vec::new();
    for (name, kind) in cases {
        let got = profile::resolve(&f, name);
        let want = Err(ProfileError::Unsupported {
            profile: name.into(),
            kind,
        });
        if got != want {
            wrong.push(format!("{name}: expected {want:?}, got {got:?}"));
        }
        if let Err(e) = got {
            let msg = e.to_string();
            assert!(msg.contains(name), "the message names the profile: {msg}");
        }
        let k = profile::kind(&f, name);
        if k != Ok(kind) {
            wrong.push(format!("{name}: kind() says {k:?}, expected {kind:?}"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn the_unsupported_profile_met_along_a_chain_is_named() {
    let config = "\
[profile role]
role_arn = arn:aws:iam::123456789012:role/r
source_profile = sso

[profile sso]
sso_session = corp
";
    assert_eq!(
        refuse(&files(config, ""), "role"),
        ProfileError::Unsupported {
            profile: "sso".into(),
            kind: ProfileKind::Sso
        }
    );
}

#[test]
fn unknown_profile() {
    let f = files(CONFIG, CREDENTIALS);
    let e = refuse(&f, "nope");
    assert_eq!(
        e,
        ProfileError::NotFound {
            profile: "nope".into()
        }
    );
    assert!(e.to_string().contains("(nope)"), "{e}");
    // A config section for sso-session or services is not a profile.
    let f = files("[sso-session nope]\nsso_start_url = https://x\n", "");
    assert_eq!(
        refuse(&f, "nope"),
        ProfileError::NotFound {
            profile: "nope".into()
        }
    );
}

#[test]
fn partial_keys_name_the_file_and_line() {
    let credentials = "\
[ok]
aws_access_key_id = AKIAOK00000000000001
aws_secret_access_key = okSecret

[half]
# the secret was lost
aws_access_key_id = AKIAHALF000000000001
";
    let e = refuse(&files("", credentials), "half");
    match &e {
        ProfileError::BadKeys {
            profile,
            file,
            line,
            ..
        } => {
            assert_eq!(
                (profile.as_str(), *file, *line),
                ("half", FileKind::Credentials, 7)
            );
        }
        other => panic!("expected BadKeys, got {other:?}"),
    }
    let msg = e.to_string();
    assert!(msg.contains("line 7"), "{msg}");
    assert!(
        !msg.contains("AKIAHALF"),
        "errors do not quote values: {msg}"
    );

    // The same in the config file.
    let config = "[profile half]\nregion = us-east-1\naws_access_key_id = AKIAHALF000000000001\n";
    assert!(matches!(
        refuse(&files(config, ""), "half"),
        ProfileError::BadKeys {
            file: FileKind::Config,
            line: 3,
            ..
        }
    ));

    // A key id that continues on the next line.
    let credentials =
        "[multi]\naws_access_key_id = AKIAMULTI\n  000000001\naws_secret_access_key = s\n";
    assert!(matches!(
        refuse(&files("", credentials), "multi"),
        ProfileError::BadKeys {
            file: FileKind::Credentials,
            line: 2,
            ..
        }
    ));
}

/// A key in both files (and in a session profile, which is no holder), and another key.
const SHARED_CREDENTIALS: &str = "\
[default]
aws_access_key_id = AKIASHARED0000000001
aws_secret_access_key = sharedSecret

[other]
aws_access_key_id = AKIAOTHER00000000001
aws_secret_access_key = otherSecret
";
const SHARED_CONFIG: &str = "\
[default]
region = eu-west-1

[profile deploy]
region = us-east-1
aws_access_key_id = AKIASHARED0000000001
aws_secret_access_key = sharedSecret

[profile temp]
aws_access_key_id = AKIASHARED0000000001
aws_secret_access_key = sharedSecret
aws_session_token = token
";

#[test]
fn holders_span_both_files() {
    let f = files(SHARED_CONFIG, SHARED_CREDENTIALS);
    assert_eq!(
        f.holders(&id("AKIASHARED0000000001")),
        vec![
            holder(FileKind::Credentials, "default", Some("default"), 2),
            holder(FileKind::Config, "profile deploy", Some("deploy"), 6),
        ],
        "a section with a session token is not a holder"
    );
    assert!(f.holders(&id("AKIANOBODY0000000001")).is_empty());

    let held = f.held_keys();
    let mut ids: Vec<_> = held.keys().cloned().collect();
    ids.sort();
    assert_eq!(
        ids,
        vec![id("AKIAOTHER00000000001"), id("AKIASHARED0000000001")]
    );
    assert_eq!(
        held.get(&id("AKIAOTHER00000000001")),
        Some(&[holder(FileKind::Credentials, "other", Some("other"), 6)][..])
    );
    assert_eq!(
        held.get(&id("AKIASHARED0000000001")).map(<[_]>::len),
        Some(2)
    );
}

#[test]
fn named_profiles_sharing_a_key_rotate_once() {
    let credentials = "\
[default]
aws_access_key_id = AKIASHARED0000000001
aws_secret_access_key = sharedSecret
";
    let config = "\
[profile deploy]
aws_access_key_id = AKIASHARED0000000001
aws_secret_access_key = sharedSecret
";
    let f = files(config, credentials);
    let sel = profile::select(
        &f,
        &Selection::Profiles(vec!["deploy".into(), "default".into(), "deploy".into()]),
    )
    .expect("both resolve");
    assert_eq!(sel.candidates.len(), 1);
    let c = &sel.candidates[0];
    assert_eq!(c.profiles, vec!["deploy".to_owned(), "default".to_owned()]);
    assert_eq!(c.holder, "deploy");
    assert_eq!(f.holders(&c.access_key_id).len(), 2);
    assert!(sel.skipped.is_empty());
}

#[test]
fn named_profiles_stop_at_the_first_that_cannot_be_rotated() {
    let f = files("[profile sso]\nsso_session = corp\n", CREDENTIALS);
    let e = profile::select(
        &f,
        &Selection::Profiles(vec!["default".into(), "sso".into()]),
    );
    assert_eq!(
        e,
        Err(ProfileError::Unsupported {
            profile: "sso".into(),
            kind: ProfileKind::Sso
        })
    );
}

#[test]
fn all_profiles_groups_by_key_and_skips_the_rest() {
    let credentials = "\
[default]
aws_access_key_id = AKIASHARED0000000001
aws_secret_access_key = sharedSecret

[ci]
aws_access_key_id = AKIACI00000000000001
aws_secret_access_key = ciSecret

[temp]
aws_access_key_id = ASIATEMP000000000001
aws_secret_access_key = tempSecret
aws_session_token = token

[broken]
aws_access_key_id = AKIABROKEN0000000001
";
    let config = "\
[default]
region = eu-west-1

[profile deploy]
aws_access_key_id = AKIASHARED0000000001
aws_secret_access_key = sharedSecret

[profile admin]
role_arn = arn:aws:iam::123456789012:role/admin
source_profile = default

[profile sso]
sso_session = corp

[profile plain]
region = us-west-2
";
    let f = files(config, credentials);
    let sel =
        profile::select(&f, &Selection::All).expect("--all-profiles never fails on one profile");
    let groups: Vec<(Vec<String>, String)> = sel
        .candidates
        .iter()
        .map(|c| {
            let profiles = c.profiles.iter().map(|p| p.to_string()).collect();
            (profiles, c.access_key_id.to_string())
        })
        .collect();
    assert_eq!(
        groups,
        vec![
            (
                vec!["default".to_owned(), "deploy".to_owned()],
                "AKIASHARED0000000001".to_owned()
            ),
            (vec!["ci".to_owned()], "AKIACI00000000000001".to_owned()),
        ]
    );
    assert_eq!(
        f.holders(&sel.candidates[0].access_key_id),
        vec![
            holder(FileKind::Credentials, "default", Some("default"), 2),
            holder(FileKind::Config, "profile deploy", Some("deploy"), 5),
        ]
    );
    let skipped: Vec<&str> = sel.skipped.iter().map(|s| s.profile.as_str()).collect();
    assert_eq!(skipped, vec!["temp", "broken", "admin", "sso", "plain"]);
    let reason = |p: &str| -> String {
        sel.skipped
            .iter()
            .find(|s: &&SkippedProfile| s.profile == p)
            .expect("skipped")
            .reason
            .to_string()
    };
    assert!(
        reason("temp").contains("aws_session_token"),
        "{}",
        reason("temp")
    );
    assert!(reason("broken").contains("line 15"), "{}", reason("broken"));
    assert!(reason("admin").contains("default"), "{}", reason("admin"));
    assert!(reason("sso").contains("sso"), "{}", reason("sso"));
    assert!(
        reason("plain").contains("no credentials"),
        "{}",
        reason("plain")
    );
}

#[test]
fn profile_names_credentials_first_each_once() {
    let f = files(CONFIG, CREDENTIALS);
    assert_eq!(f.profile_names(), vec!["default", "work", "cfgonly"]);
}

#[test]
fn a_malformed_file_is_named() {
    let e = AwsFiles::parse("[default]\nregion = x\nthis is not a setting\n", "")
        .expect_err("malformed");
    assert_eq!(e.file, FileKind::Config);
    assert_eq!(e.error.line, 3);
    let e = AwsFiles::parse("", "aws_access_key_id = AKIA\n").expect_err("outside a section");
    assert_eq!(e.file, FileKind::Credentials);
    assert_eq!(e.error.line, 1);
}
