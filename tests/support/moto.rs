//! The end-to-end tests' world: a real `moto_server` (PyPI `moto[server]` 5.x) with
//! authentication enforced, behind `iam_proxy.py` (inactive keys refused, a propagation delay,
//! injected faults, a request log), admin calls that go to moto directly, and a throwaway `HOME`
//! for the binary. Everything listens on 127.0.0.1; nothing talks to AWS.
//!
//! Use it from an integration test (std only, no dev-dependency):
//!
//! ```ignore
//! #![cfg(not(target_family = "wasm"))] // the wasm CI step builds every test: no processes there
//! #[path = "support/moto.rs"]
//! mod moto;
//! use moto::{Fault, FaultKind, Home, Moto};
//!
//! let moto = Moto::start();                         // moto + proxy, killed on Drop
//! let key = moto.user_with_key("alice");            // user with iam:*/sts:* and one key
//! let home = moto.home("", &key.credentials_profile("default"));
//! moto.set_delay(6.0);                              // a new key works 6 s after its creation
//! moto.add_fault(Fault::new("DeleteAccessKey", FaultKind::Throttle));
//! let out = home.command().arg("rotate").output()?; // the binary (feature `cli`)
//! let log = moto.log();                             // what the binary sent
//! let front = moto.tls_front();                     // HTTPS in front of the proxy:
//! home.command().env("AWS_ENDPOINT_URL", front.url()).arg("--ca-bundle").arg(front.ca());
//! let proxy = ForwardProxy::start();                // a forward proxy with a request log:
//! home.command().env("HTTP_PROXY", proxy.url());    // proxy.log() == ["POST http://…/", …]
//! // the fleet: a user allowed to read secrets, a secret, the user reading it
//! moto.create_user_with_policy("bob", &allow_policy(&["secretsmanager:GetSecretValue"]));
//! moto.create_secret("aws-rotate-keys/bob", Some("…"), Some("…"));
//! let value = moto.get_secret_value_as(&bob_key, "aws-rotate-keys/bob")?; // via the proxy
//! moto.set_latency_ms(50);                          // every AWS request waits 50 ms
//! ```
//!
//! The venv comes from `ART_VENV`, else `<crate>/target/test-venv`; when it is missing,
//! `scripts/test-env.sh` creates it (once per test process, under a file lock).
//!
//! How authentication is enforced (moto 5.2.5, checked): moto starts with auth off; the proxy
//! (`--bootstrap`) creates the user `moto-admin` with an allow-all inline policy and a key, then
//! POSTs `0` (a `text/plain` body: a form body makes moto fail with a 500) to
//! `/moto-api/reset-auth`, and checks that a wrong secret is now refused. From then on every
//! request must be signed by an existing IAM user's key with the right secret, and that user's
//! policies must allow the action (GetCallerIdentity is always allowed): an unknown or deleted
//! key gets 403 InvalidClientTokenId, a wrong secret 403 SignatureDoesNotMatch, both in moto's
//! own shape (`<ErrorResponse><Errors><Error>…`, no namespace). There is no root identity.
//! moto accepts INACTIVE keys: the proxy refuses them (403 InvalidClientTokenId, AWS's shape).
//!
//! Secrets Manager (the JSON protocol) goes through the proxy too: logged with `secret_id` (never
//! a value), refused for an inactive or too new key as AWS refuses it (400
//! UnrecognizedClientException, JSON), faults in the JSON shape. moto applies identity policies
//! only (a user reads a secret if its own policy allows `secretsmanager:GetSecretValue` on `*`:
//! see `allow_policy`); resource policies are stored, never applied. Its XML refusals to a
//! JSON-protocol request are translated by the proxy.
//!
//! MFA sessions: moto's GetSessionToken answers with a fixed example key that nothing accepts.
//! The proxy answers it itself once moto has accepted the long-term key's signature: its own
//! `ASIA…` credentials, checked (token, SigV4 signature) on every later request and re-signed
//! with the long-term key on the way to moto; the code is checked against `set_mfa_device`.
//! The log shows the session's key id as the signer and the long-term key in `session_of`.
//!
//! Processes: moto and the proxy are children of the test process with a pipe as stdin; both
//! exit when it closes (Drop, a panic's unwinding, or the test process dying by any signal),
//! and Drop kills and reaps them as well.
#![allow(dead_code, clippy::disallowed_methods)]

use std::collections::VecDeque;
use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, mpsc};
use std::time::Duration;

pub use json::Json;

/// The crate's root (where `scripts/` and `tests/support/` are).
pub fn crate_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The Python venv with moto and the `aws` CLI v1: `ART_VENV`, else `<crate>/target/test-venv`,
/// created by `scripts/test-env.sh` the first time it is missing.
pub fn venv() -> &'static Path {
    static VENV: OnceLock<PathBuf> = OnceLock::new();
    VENV.get_or_init(|| {
        let dir = std::env::var_os("ART_VENV")
            .map(PathBuf::from)
            .unwrap_or_else(|| crate_dir().join("target/test-venv"));
        let ready = dir.join("bin/moto_server").exists() && dir.join("bin/aws").exists();
        if !ready {
            let out = Command::new("bash")
                .arg(crate_dir().join("scripts/test-env.sh"))
                .env("ART_VENV", &dir)
                .current_dir(crate_dir())
                .stderr(Stdio::inherit())
                .output()
                .expect("run scripts/test-env.sh");
            assert!(
                out.status.success(),
                "scripts/test-env.sh failed ({}): see its messages above",
                out.status
            );
        }
        assert!(
            dir.join("bin/moto_server").exists(),
            "no moto_server in {}",
            dir.display()
        );
        dir
    })
}

/// The `aws` CLI v1 of the venv.
pub fn aws_cli_path() -> PathBuf {
    venv().join("bin/aws")
}

// ---- processes ---------------------------------------------------------------------------------

/// A child process whose stdin pipe is its lifeline, and whose output is drained into a buffer.
struct Proc {
    name: &'static str,
    child: Child,
    lifeline: Option<ChildStdin>,
    output: Arc<Mutex<VecDeque<String>>>,
}

impl Proc {
    fn tail(&self) -> String {
        let lines = self.output.lock().map(|l| l.clone()).unwrap_or_default();
        let lines: Vec<String> = lines.into_iter().collect();
        format!("--- last output of {} ---\n{}", self.name, lines.join("\n"))
    }

    fn stop(&mut self) {
        drop(self.lifeline.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Drain a pipe line by line into `sink` (the last 300 lines), telling `tx` each line.
fn drain(
    pipe: impl Read + Send + 'static,
    sink: Arc<Mutex<VecDeque<String>>>,
    tx: mpsc::Sender<String>,
) {
    std::thread::spawn(move || {
        let mut reader = BufReader::new(pipe);
        let mut line = String::new();
        loop {
            line.clear();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    let l = line.trim_end().to_string();
                    let _ = tx.send(l.clone());
                    if let Ok(mut s) = sink.lock() {
                        if s.len() >= 300 {
                            s.pop_front();
                        }
                        s.push_back(l);
                    }
                }
            }
        }
    });
}

/// Spawn `cmd` with a lifeline stdin and piped output; wait until a line gives `ready(line)`.
fn spawn_until(
    name: &'static str,
    mut cmd: Command,
    ready: impl Fn(&str) -> Option<u16>,
    timeout: Duration,
) -> (Proc, u16) {
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("spawn {name}: {e}"));
    let output = Arc::new(Mutex::new(VecDeque::new()));
    let (tx, rx) = mpsc::channel();
    drain(
        child.stdout.take().expect("stdout"),
        output.clone(),
        tx.clone(),
    );
    drain(child.stderr.take().expect("stderr"), output.clone(), tx);
    let lifeline = child.stdin.take();
    let proc = Proc {
        name,
        child,
        lifeline,
        output,
    };
    let deadline = std::time::Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match rx.recv_timeout(left.min(Duration::from_millis(200))) {
            Ok(line) => {
                if let Some(port) = ready(&line) {
                    return (proc, port);
                }
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                panic!("{name} ended before it was ready\n{}", proc.tail())
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
        }
        if left.is_zero() {
            panic!("{name} not ready after {timeout:?}\n{}", proc.tail());
        }
    }
}

/// moto_server's `main`, on port 0, exiting when stdin closes.
const MOTO_BOOT: &str = r#"
import os, sys, threading
def watch():
    try:
        while sys.stdin.buffer.read(65536):
            pass
    finally:
        os._exit(0)
threading.Thread(target=watch, daemon=True).start()
from moto.server import main
main(["-H", "127.0.0.1", "-p", "0"])
"#;

// ---- Moto --------------------------------------------------------------------------------------

/// A moto_server with authentication enforced, and iam_proxy.py in front of it.
pub struct Moto {
    // Dropped in this order: the proxy first.
    proxy: Proc,
    moto: Proc,
    moto_url: String,
    proxy_url: String,
    proxy_port: u16,
    admin_key_id: String,
}

/// An access key with its secret (from the admin API or a CreateAccessKey answer).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessKey {
    pub id: String,
    pub secret: String,
    pub user: String,
}

impl AccessKey {
    /// A credentials-file section holding this key: `[name]\naws_access_key_id = …\n…`.
    pub fn credentials_profile(&self, name: &str) -> String {
        format!(
            "[{name}]\naws_access_key_id = {}\naws_secret_access_key = {}\n",
            self.id, self.secret
        )
    }
}

/// The (name, description) pairs of the admin API's `list_secrets`.
fn secrets_of(j: &Json) -> Vec<(String, Option<String>)> {
    j.as_array()
        .unwrap_or(&[])
        .iter()
        .map(|s| {
            let f = |k: &str| s.get(k).and_then(Json::as_str).map(str::to_string);
            (f("name").unwrap_or_default(), f("description"))
        })
        .collect()
}

/// The rows of the admin API's `list_access_keys`.
fn key_infos(j: &Json) -> Vec<KeyInfo> {
    j.as_array()
        .unwrap_or(&[])
        .iter()
        .map(|k| {
            let s = |f: &str| k.get(f).and_then(Json::as_str).unwrap_or("").to_string();
            KeyInfo {
                id: s("id"),
                status: s("status"),
                created: s("created"),
                user: s("user"),
            }
        })
        .collect()
}

/// A mail SES took.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentMail {
    /// The sender.
    pub from: String,
    /// The recipients.
    pub to: Vec<String>,
    /// The subject.
    pub subject: String,
    /// The plain-text body.
    pub body: String,
}

/// One row of ListAccessKeys.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyInfo {
    pub id: String,
    /// `Active` or `Inactive`.
    pub status: String,
    /// As moto renders it, e.g. `2026-11-26T10:34:04.531700Z`.
    pub created: String,
    pub user: String,
}

/// Temporary credentials from GetSessionToken (the proxy's own).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionCredentials {
    pub id: String,
    pub secret: String,
    pub token: String,
    /// As the answer has it, e.g. `2026-11-26T17:00:00Z`.
    pub expiration: String,
}

/// A session the proxy made (GET /__proxy/sessions).
#[derive(Clone, Debug, PartialEq)]
pub struct SessionInfo {
    pub id: String,
    /// The long-term key id it stands for.
    pub key: String,
    pub user: Option<String>,
    pub serial: Option<String>,
    pub expires_in: f64,
}

/// What GetCallerIdentity answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    pub account: String,
    pub arn: String,
    pub user_id: String,
}

/// What DescribeSecret says of a secret (metadata: a value is never in it).
#[derive(Clone, Debug, PartialEq)]
pub struct SecretInfo {
    pub name: String,
    pub arn: String,
    pub description: Option<String>,
    /// Version id and its stages (`AWSCURRENT`, `AWSPREVIOUS`); none for a secret created
    /// without a value.
    pub versions: Vec<(String, Vec<String>)>,
    /// Unix time; always None in moto 5.2.5 (it does not track reads).
    pub last_accessed: Option<f64>,
    /// Unix time, for a secret scheduled for deletion.
    pub deleted: Option<f64>,
    /// The whole answer, for anything else (tags, dates).
    pub json: Json,
}

/// An HTTP answer: status, headers (as sent, in order) and body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpAnswer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl HttpAnswer {
    /// The first header of that name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A signed request to the proxy, not yet sent (see `Moto::signed_request`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedRequest {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl SignedRequest {
    /// The request as bytes on the wire (HTTP/1.1, keep-alive, with a Content-Length).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = format!("{} {} HTTP/1.1\r\n", self.method, self.path);
        for (k, v) in &self.headers {
            out.push_str(&format!("{k}: {v}\r\n"));
        }
        out.push_str(&format!("Content-Length: {}\r\n\r\n", self.body.len()));
        out.push_str(&self.body);
        out.into_bytes()
    }
}

/// A keep-alive connection to the proxy: requests one after the other on one socket.
pub struct ProxyConnection {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl ProxyConnection {
    /// Send `request`, read its answer (the connection stays open for the next one).
    pub fn send(&mut self, request: &SignedRequest) -> std::io::Result<HttpAnswer> {
        self.writer.write_all(&request.to_bytes())?;
        let mut line = String::new();
        self.reader.read_line(&mut line)?;
        let status = line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| std::io::Error::other(format!("no HTTP status in {line:?}")))?;
        let mut headers = Vec::new();
        loop {
            line.clear();
            if self.reader.read_line(&mut line)? == 0 {
                return Err(std::io::Error::other("connection closed in the headers"));
            }
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            if let Some((k, v)) = l.split_once(':') {
                headers.push((k.trim().to_string(), v.trim().to_string()));
            }
        }
        let len: usize = headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
            .and_then(|(_, v)| v.parse().ok())
            .ok_or_else(|| std::io::Error::other("no Content-Length"))?;
        let mut body = vec![0; len];
        self.reader.read_exact(&mut body)?;
        Ok(HttpAnswer {
            status,
            headers,
            body: String::from_utf8_lossy(&body).into_owned(),
        })
    }
}

/// A policy document (JSON text) that allows `actions` on every resource: with moto, the only
/// resource that works for Secrets Manager (it checks its actions against `*`).
pub fn allow_policy(actions: &[&str]) -> String {
    let actions: Vec<String> = actions.iter().map(|a| json::quote(a)).collect();
    format!(
        "{{\"Version\":\"2012-10-17\",\"Statement\":[{{\"Effect\":\"Allow\",\"Action\":[{}],\"Resource\":\"*\"}}]}}",
        actions.join(",")
    )
}

/// An AWS error answer (or the proxy's own, with code `MotoUnreachable`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AwsError {
    pub status: u16,
    pub code: Option<String>,
    pub message: String,
}

/// One request the proxy saw.
#[derive(Clone, Debug, PartialEq)]
pub struct LogEntry {
    pub seq: u64,
    /// Unix time, seconds, when the request arrived.
    pub time: f64,
    /// How long the proxy took to answer (or to give up), milliseconds; 0 until `done`.
    pub ms: f64,
    /// False while the proxy is still at it (a hang): the entry is logged on arrival.
    pub done: bool,
    pub method: String,
    /// `iam`, `sts` or `secretsmanager` (from the credential scope; unsigned: the
    /// X-Amz-Target's prefix); None when unsigned and not a JSON-protocol request.
    pub service: Option<String>,
    pub action: Option<String>,
    /// The signing access key id.
    pub key: Option<String>,
    /// The HTTP status sent, None when the connection was closed without an answer.
    pub status: Option<u16>,
    /// None when the request went to moto untouched; else `inactive`, `delay`, or a fault kind.
    pub intervened: Option<String>,
    /// The request's UserName, AccessKeyId and (UpdateAccessKey) Status parameters.
    pub user_name: Option<String>,
    pub access_key_id: Option<String>,
    pub new_key_status: Option<String>,
    /// The AccessKeyId of the key that a CreateAccessKey answer held.
    pub new_key: Option<String>,
    /// GetSessionToken's SerialNumber.
    pub serial_number: Option<String>,
    /// GetSessionToken's MFA check: `ok`, `unchecked` (no device set), `none`, `incomplete`,
    /// `bad-format`, `unknown-device`, `wrong-code` (never the code itself).
    pub mfa: Option<String>,
    /// The session key id (`ASIA…`) that a GetSessionToken answer held.
    pub session: Option<String>,
    /// For a request signed by a session: the long-term key id it stands for (which signed
    /// what the proxy sent on to moto).
    pub session_of: Option<String>,
    /// The request's GroupName parameter (IAM).
    pub group_name: Option<String>,
    /// A JSON-protocol (Secrets Manager) request's `SecretId`, else its `Name`: the only part
    /// of its body the proxy reads (never a SecretString).
    pub secret_id: Option<String>,
}

impl LogEntry {
    fn from_json(j: &Json) -> LogEntry {
        let s = |k: &str| j.get(k).and_then(Json::as_str).map(str::to_string);
        LogEntry {
            seq: j.get("seq").and_then(Json::as_f64).unwrap_or(0.0) as u64,
            time: j.get("time").and_then(Json::as_f64).unwrap_or(0.0),
            ms: j.get("ms").and_then(Json::as_f64).unwrap_or(0.0),
            done: j.get("done").and_then(Json::as_bool).unwrap_or(false),
            method: s("method").unwrap_or_default(),
            service: s("service"),
            action: s("action"),
            key: s("key"),
            status: j.get("status").and_then(Json::as_f64).map(|n| n as u16),
            intervened: s("intervened"),
            user_name: s("user_name"),
            access_key_id: s("access_key_id"),
            new_key_status: s("new_key_status"),
            new_key: s("new_key"),
            serial_number: s("serial_number"),
            mfa: s("mfa"),
            session: s("session"),
            session_of: s("session_of"),
            group_name: s("group_name"),
            secret_id: s("secret_id"),
        }
    }

    /// True for the actions that change IAM or Secrets Manager (Create/Update/Delete…, Put…,
    /// Attach…, Tag…, …): not Get…, List… nor Describe….
    pub fn is_mutating(&self) -> bool {
        let a = self.action.as_deref().unwrap_or("");
        !(a.starts_with("Get")
            || a.starts_with("List")
            || a.starts_with("Describe")
            || a.is_empty())
    }
}

/// What a fault rule does to a matching request. The codes are IAM's and STS's; a Secrets
/// Manager (JSON-protocol) request gets the JSON shape and that protocol's code, as noted.
#[derive(Clone, Debug, PartialEq)]
pub enum FaultKind {
    /// 400 `Throttling`, "Rate exceeded" (JSON: 400 `ThrottlingException`).
    Throttle,
    /// 500 `ServiceFailure` (JSON: 500 `InternalServiceError`).
    ServerError,
    /// 503 `ServiceUnavailable` (JSON too).
    Unavailable,
    /// 409 `LimitExceeded`, "Cannot exceed quota for AccessKeysPerUser: 2" (JSON: 400
    /// `LimitExceededException`).
    Limit,
    /// 403 `AccessDenied` (JSON: 400 `AccessDeniedException`).
    Denied,
    /// Any error answer (in the request's protocol's shape).
    Error {
        status: u16,
        code: String,
        message: String,
    },
    /// Read the request, answer nothing for `seconds` (default: the proxy's `hang_seconds`,
    /// 30), then close the connection.
    Hang,
    /// Close the connection without answering (the action does not happen).
    Close,
    /// Forward (the action happens), then close the connection without answering.
    After,
}

impl FaultKind {
    fn name(&self) -> &'static str {
        match self {
            FaultKind::Throttle => "throttle",
            FaultKind::ServerError => "500",
            FaultKind::Unavailable => "503",
            FaultKind::Limit => "limit",
            FaultKind::Denied => "denied",
            FaultKind::Error { .. } => "error",
            FaultKind::Hang => "hang",
            FaultKind::Close => "close",
            FaultKind::After => "after",
        }
    }
}

/// A fault rule: `Fault::new("CreateAccessKey", FaultKind::Throttle).key(id).count(2)`.
#[derive(Clone, Debug, PartialEq)]
pub struct Fault {
    /// An action name, or `*` for every request.
    pub action: String,
    /// Only requests signed by this access key id.
    pub key: Option<String>,
    pub kind: FaultKind,
    /// How many requests it applies to (default 1); negative: every matching request.
    pub count: i64,
    /// For `Hang`: how long.
    pub seconds: Option<f64>,
    /// Only an `AssumeRole` of this role.
    pub role_arn: Option<String>,
}

impl Fault {
    pub fn new(action: &str, kind: FaultKind) -> Fault {
        Fault {
            action: action.to_string(),
            key: None,
            kind,
            count: 1,
            seconds: None,
            role_arn: None,
        }
    }
    pub fn role_arn(mut self, arn: &str) -> Fault {
        self.role_arn = Some(arn.to_string());
        self
    }
    pub fn key(mut self, key_id: &str) -> Fault {
        self.key = Some(key_id.to_string());
        self
    }
    pub fn count(mut self, n: i64) -> Fault {
        self.count = n;
        self
    }
    pub fn forever(self) -> Fault {
        self.count(-1)
    }
    pub fn seconds(mut self, s: f64) -> Fault {
        self.seconds = Some(s);
        self
    }
    pub fn to_json(&self) -> String {
        let mut o = vec![
            format!("\"action\":{}", json::quote(&self.action)),
            format!("\"kind\":{}", json::quote(self.kind.name())),
            format!("\"count\":{}", self.count),
        ];
        if let Some(k) = &self.key {
            o.push(format!("\"key\":{}", json::quote(k)));
        }
        if let Some(r) = &self.role_arn {
            o.push(format!("\"role_arn\":{}", json::quote(r)));
        }
        if let Some(s) = self.seconds {
            o.push(format!("\"seconds\":{s}"));
        }
        if let FaultKind::Error {
            status,
            code,
            message,
        } = &self.kind
        {
            o.push(format!("\"status\":{status}"));
            o.push(format!("\"code\":{}", json::quote(code)));
            o.push(format!("\"message\":{}", json::quote(message)));
        }
        format!("{{{}}}", o.join(","))
    }
}

impl Moto {
    /// Start moto (auth enforced) and the proxy; panics with their output if either fails.
    pub fn start() -> Moto {
        let venv = venv();
        let python = venv.join("bin/python");
        let mut cmd = Command::new(&python);
        cmd.arg("-c").arg(MOTO_BOOT);
        for var in [
            "INITIAL_NO_AUTH_ACTION_COUNT",
            "MOTO_ACCOUNT_ID",
            "MOTO_PORT",
            "AWS_PROFILE",
        ] {
            cmd.env_remove(var);
        }
        let timeout = Duration::from_secs(120);
        let (moto, moto_port) = spawn_until(
            "moto_server",
            cmd,
            |l| {
                l.split_once("Running on http://127.0.0.1:")
                    .and_then(|(_, p)| p.trim().parse().ok())
            },
            timeout,
        );
        let moto_url = format!("http://127.0.0.1:{moto_port}");
        let mut cmd = Command::new(&python);
        cmd.arg(crate_dir().join("tests/support/iam_proxy.py"))
            .arg(&moto_url)
            .arg("--bootstrap")
            .arg("--watch-stdin")
            .env("PYTHONDONTWRITEBYTECODE", "1");
        let (proxy, proxy_port) = spawn_until(
            "iam_proxy.py",
            cmd,
            |l| l.strip_prefix("PORT ").and_then(|p| p.trim().parse().ok()),
            timeout,
        );
        let mut m = Moto {
            proxy,
            moto,
            moto_url,
            proxy_url: format!("http://127.0.0.1:{proxy_port}"),
            proxy_port,
            admin_key_id: String::new(),
        };
        let admin = m
            .admin("{\"op\":\"admin_identity\"}")
            .expect("admin identity");
        m.admin_key_id = admin
            .get("id")
            .and_then(Json::as_str)
            .unwrap_or("")
            .to_string();
        m
    }

    /// moto itself (admin calls; no proxy checks, not in the log).
    pub fn moto_url(&self) -> &str {
        &self.moto_url
    }

    /// The proxy: the endpoint the program under test talks to.
    pub fn endpoint(&self) -> &str {
        &self.proxy_url
    }

    pub fn proxy_port(&self) -> u16 {
        self.proxy_port
    }

    /// The access key id the admin calls are signed with (user `moto-admin`).
    pub fn admin_key_id(&self) -> &str {
        &self.admin_key_id
    }

    /// The process ids of moto_server and the proxy.
    pub fn pids(&self) -> (u32, u32) {
        (self.moto.child.id(), self.proxy.child.id())
    }

    /// The last lines that moto and the proxy printed (for a failing test's message).
    pub fn output_tail(&self) -> String {
        format!("{}\n{}", self.moto.tail(), self.proxy.tail())
    }

    /// A throwaway HOME whose files are `config` and `credentials`, pointed at the proxy.
    pub fn home(&self, config: &str, credentials: &str) -> Home {
        Home::new(self.endpoint(), config, credentials)
    }

    // -- the control API -------------------------------------------------------------------

    /// One request to the proxy; the answer's status and body.
    pub fn proxy_request(&self, method: &str, path: &str, body: &str) -> (u16, String) {
        http(self.proxy_port, method, path, body)
            .unwrap_or_else(|e| panic!("{method} {path}: {e}\n{}", self.output_tail()))
    }

    fn proxy_json(&self, method: &str, path: &str, body: &str) -> Json {
        let (status, text) = self.proxy_request(method, path, body);
        assert_eq!(status, 200, "{method} {path} {body}: {text}");
        Json::parse(&text).unwrap_or_else(|e| panic!("{method} {path}: bad JSON ({e}): {text}"))
    }

    /// Merge settings into the proxy's config (JSON object; see iam_proxy.py); the whole config.
    pub fn configure(&self, json: &str) -> Json {
        self.proxy_json("POST", "/__proxy/config", json)
    }

    pub fn config(&self) -> Json {
        self.proxy_json("GET", "/__proxy/config", "")
    }

    /// A key created through the proxy is refused (InvalidClientTokenId) for this long.
    pub fn set_delay(&self, seconds: f64) {
        self.configure(&format!("{{\"delay_new_key_seconds\":{seconds}}}"));
    }

    /// Whether the proxy refuses requests signed by an inactive key (the default: yes).
    pub fn set_reject_inactive(&self, on: bool) {
        self.configure(&format!("{{\"reject_inactive\":{on}}}"));
    }

    /// Rewrite moto's error answers (`<Errors>` wrapper, no namespace) into AWS's shape.
    pub fn set_aws_error_shape(&self, on: bool) {
        self.configure(&format!("{{\"aws_error_shape\":{on}}}"));
    }

    /// How long a `Hang` fault without its own `seconds` says nothing.
    pub fn set_hang_seconds(&self, seconds: f64) {
        self.configure(&format!("{{\"hang_seconds\":{seconds}}}"));
    }

    /// The MFA devices whose codes GetSessionToken checks: `(serial, code)` pairs (replacing
    /// those set before). With none (the default and after `reset`), any six-digit code passes.
    pub fn set_mfa_devices(&self, devices: &[(&str, &str)]) {
        let members: Vec<String> = devices
            .iter()
            .map(|(serial, code)| format!("{}:{}", json::quote(serial), json::quote(code)))
            .collect();
        self.configure(&format!("{{\"mfa_devices\":{{{}}}}}", members.join(",")));
    }

    /// Every AWS request through the proxy waits `ms` milliseconds on arrival (a network's
    /// round trip; the control API and the admin calls to moto do not); `reset` sets 0.
    pub fn set_latency_ms(&self, ms: u64) {
        self.configure(&format!("{{\"latency_ms\":{ms}}}"));
    }

    /// The sessions the proxy made (kept across `reset`), in no particular order.
    pub fn sessions(&self) -> Vec<SessionInfo> {
        let j = self.proxy_json("GET", "/__proxy/sessions", "");
        let Json::Obj(members) = j else {
            panic!("GET /__proxy/sessions: not an object: {j:?}")
        };
        members
            .into_iter()
            .map(|(id, v)| {
                let s = |k: &str| v.get(k).and_then(Json::as_str).map(str::to_string);
                SessionInfo {
                    id,
                    key: s("key").unwrap_or_default(),
                    user: s("user"),
                    serial: s("serial"),
                    expires_in: v.get("expires_in").and_then(Json::as_f64).unwrap_or(0.0),
                }
            })
            .collect()
    }

    pub fn add_fault(&self, fault: Fault) {
        self.proxy_json("POST", "/__proxy/faults", &fault.to_json());
    }

    /// The fault rules with the count each has left.
    pub fn faults(&self) -> Vec<Json> {
        self.config()
            .get("faults")
            .and_then(Json::as_array)
            .map(<[Json]>::to_vec)
            .unwrap_or_default()
    }

    /// Every request the proxy saw since the start or the last reset.
    pub fn log(&self) -> Vec<LogEntry> {
        self.log_since(0)
    }

    /// The requests with a sequence number above `seq`.
    pub fn log_since(&self, seq: u64) -> Vec<LogEntry> {
        let j = self.proxy_json("GET", &format!("/__proxy/log?since={seq}"), "");
        j.as_array()
            .unwrap_or(&[])
            .iter()
            .map(LogEntry::from_json)
            .collect()
    }

    /// The log as the proxy sends it (to check that no secret is in it).
    pub fn log_text(&self) -> String {
        self.proxy_request("GET", "/__proxy/log", "").1
    }

    /// Clear the log and the faults; no delay; inactive keys refused again.
    pub fn reset(&self) {
        self.proxy_json("POST", "/__proxy/reset", "");
    }

    // -- admin calls (to moto directly, signed by moto-admin) -------------------------------

    fn admin(&self, request: &str) -> Result<Json, AwsError> {
        let (status, text) = self.proxy_request("POST", "/__proxy/admin", request);
        let j = Json::parse(&text).unwrap_or_else(|e| panic!("admin {request}: {e}: {text}"));
        if status == 200 {
            return Ok(j);
        }
        let err = j
            .get("error")
            .unwrap_or_else(|| panic!("admin {request}: {status} {text}"));
        Err(AwsError {
            status: err
                .get("status")
                .and_then(Json::as_f64)
                .map_or(status, |n| n as u16),
            code: err.get("code").and_then(Json::as_str).map(str::to_string),
            message: err
                .get("message")
                .and_then(Json::as_str)
                .unwrap_or("")
                .to_string(),
        })
    }

    fn admin_ok(&self, request: &str) -> Json {
        self.admin(request)
            .unwrap_or_else(|e| panic!("admin {request}: {e:?}"))
    }

    // -- an organization ---------------------------------------------------------------------

    /// An organization whose management account is the admin's, with one new account per
    /// name: (the management account's id, the new accounts' ids). moto's auth goes off for
    /// good (the role it makes in each account has no policy).
    pub fn organization(&self, names: &[&str]) -> (String, Vec<String>) {
        let quoted: Vec<String> = names.iter().map(|n| json::quote(n)).collect();
        let j = self.admin_ok(&format!(
            "{{\"op\":\"organization\",\"names\":[{}]}}",
            quoted.join(",")
        ));
        let management = j
            .get("management")
            .and_then(Json::as_str)
            .unwrap_or("")
            .to_string();
        let ids = j
            .get("accounts")
            .and_then(Json::as_array)
            .unwrap_or(&[])
            .iter()
            .map(|a| a.get("id").and_then(Json::as_str).unwrap_or("").to_string())
            .collect();
        (management, ids)
    }

    /// Uploads an SSH public key (OpenSSH's one-line form) for `user`; its id.
    pub fn upload_ssh_public_key(&self, user: &str, body: &str) -> String {
        let j = self.admin_ok(&format!(
            "{{\"op\":\"upload_ssh_public_key\",\"user\":{},\"body\":{}}}",
            json::quote(user),
            json::quote(body)
        ));
        j.get("id").and_then(Json::as_str).unwrap_or("").to_string()
    }

    /// A secret's value as the admin reads it.
    pub fn admin_secret_value(&self, name: &str) -> Option<String> {
        let j = self.admin_ok(&format!(
            "{{\"op\":\"admin_secret_value\",\"name\":{}}}",
            json::quote(name)
        ));
        j.get("value").and_then(Json::as_str).map(str::to_string)
    }

    /// Verifies a sender in SES (moto does it at once): mail from it is then sent.
    pub fn verify_email(&self, address: &str) {
        self.admin_ok(&format!(
            "{{\"op\":\"verify_email\",\"address\":{}}}",
            json::quote(address)
        ));
    }

    /// Every mail SES took (moto keeps them), oldest first.
    pub fn sent_mail(&self) -> Vec<SentMail> {
        let j = self.admin_ok("{\"op\":\"sent_mail\"}");
        j.as_array()
            .unwrap_or(&[])
            .iter()
            .map(|m| SentMail {
                from: m
                    .get("source")
                    .and_then(Json::as_str)
                    .unwrap_or("")
                    .to_string(),
                to: m
                    .get("to")
                    .and_then(Json::as_array)
                    .unwrap_or(&[])
                    .iter()
                    .filter_map(Json::as_str)
                    .map(str::to_string)
                    .collect(),
                subject: m
                    .get("subject")
                    .and_then(Json::as_str)
                    .unwrap_or("")
                    .to_string(),
                body: m
                    .get("body")
                    .and_then(Json::as_str)
                    .unwrap_or("")
                    .to_string(),
            })
            .collect()
    }

    /// Closes an account of the organization (moto makes it SUSPENDED).
    pub fn close_account(&self, account: &str) {
        self.admin_ok(&format!(
            "{{\"op\":\"close_account\",\"account_id\":{}}}",
            json::quote(account)
        ));
    }

    /// An admin op (a JSON object) done in `account` through its role.
    pub fn admin_in(&self, account: &str, request: &str) -> Json {
        let inner = request.trim().strip_prefix('{').unwrap_or(request);
        self.admin_ok(&format!("{{\"account\":{},{inner}", json::quote(account)))
    }

    /// A user with one key, in `account`.
    pub fn user_with_key_in(&self, account: &str, name: &str) -> AccessKey {
        self.admin_in(
            account,
            &format!("{{\"op\":\"create_user\",\"user\":{}}}", json::quote(name)),
        );
        let j = self.admin_in(
            account,
            &format!(
                "{{\"op\":\"create_access_key\",\"user\":{}}}",
                json::quote(name)
            ),
        );
        let s = |k: &str| j.get(k).and_then(Json::as_str).unwrap_or("").to_string();
        AccessKey {
            id: s("id"),
            secret: s("secret"),
            user: s("user"),
        }
    }

    /// Many users with a key each (`status`: `Active` or `Inactive`), in `account` (`None`: the
    /// admin's), in one admin call; how many were made. For benchmarks: no secret comes back.
    pub fn users_with_keys_in(
        &self,
        account: Option<&str>,
        names: &[String],
        status: &str,
    ) -> usize {
        let quoted: Vec<String> = names.iter().map(|n| json::quote(n)).collect();
        let request = format!(
            "{{\"op\":\"users_with_keys\",\"users\":[{}],\"status\":{}}}",
            quoted.join(","),
            json::quote(status)
        );
        let j = match account {
            Some(a) => self.admin_in(a, &request),
            None => self.admin_ok(&request),
        };
        j.as_array().map_or(0, <[Json]>::len)
    }

    /// The keys of `user` in `account`.
    pub fn list_access_keys_in(&self, account: &str, user: &str) -> Vec<KeyInfo> {
        let j = self.admin_in(
            account,
            &format!(
                "{{\"op\":\"list_access_keys\",\"user\":{}}}",
                json::quote(user)
            ),
        );
        key_infos(&j)
    }

    /// The secrets of `account` (names and descriptions).
    pub fn list_secrets_in(&self, account: &str) -> Vec<(String, Option<String>)> {
        secrets_of(&self.admin_in(account, "{\"op\":\"list_secrets\"}"))
    }

    /// A user allowed `iam:*` and `sts:*` on everything.
    pub fn create_user(&self, name: &str) {
        self.create_user_with_policy(name, "iam-sts");
    }

    /// `policy`: `iam-sts`, `all` (`*`), `none` (no policy: only GetCallerIdentity works), or a
    /// policy document (JSON text), attached inline.
    pub fn create_user_with_policy(&self, name: &str, policy: &str) {
        self.admin_ok(&format!(
            "{{\"op\":\"create_user\",\"user\":{},\"policy\":{}}}",
            json::quote(name),
            json::quote(policy)
        ));
    }

    pub fn create_access_key(&self, user: &str) -> AccessKey {
        let j = self.admin_ok(&format!(
            "{{\"op\":\"create_access_key\",\"user\":{}}}",
            json::quote(user)
        ));
        let s = |k: &str| j.get(k).and_then(Json::as_str).unwrap_or("").to_string();
        AccessKey {
            id: s("id"),
            secret: s("secret"),
            user: s("user"),
        }
    }

    /// `users` users named `{prefix}{u}`, each with one key held by `per_user` profiles
    /// `u{u}p{p}`, alternately in the credentials and the config file: (config, credentials,
    /// the keys).
    pub fn many_profiles(
        &self,
        prefix: &str,
        users: usize,
        per_user: usize,
    ) -> (String, String, Vec<AccessKey>) {
        let (mut config, mut credentials, mut keys) = (String::new(), String::new(), Vec::new());
        for u in 0..users {
            let k = self.user_with_key(&format!("{prefix}{u}"));
            for p in 0..per_user {
                if p % 2 == 0 {
                    credentials.push_str(&k.credentials_profile(&format!("u{u}p{p}")));
                } else {
                    config.push_str(&k.credentials_profile(&format!("profile u{u}p{p}")));
                }
            }
            keys.push(k);
        }
        (config, credentials, keys)
    }

    /// `create_user` then `create_access_key`.
    pub fn user_with_key(&self, name: &str) -> AccessKey {
        self.create_user(name);
        self.create_access_key(name)
    }

    pub fn list_access_keys(&self, user: &str) -> Vec<KeyInfo> {
        let j = self.admin_ok(&format!(
            "{{\"op\":\"list_access_keys\",\"user\":{}}}",
            json::quote(user)
        ));
        key_infos(&j)
    }

    /// `status`: `Active` or `Inactive`.
    pub fn update_access_key(&self, user: &str, id: &str, status: &str) {
        self.admin_ok(&format!(
            "{{\"op\":\"update_access_key\",\"user\":{},\"id\":{},\"status\":{}}}",
            json::quote(user),
            json::quote(id),
            json::quote(status)
        ));
    }

    pub fn delete_access_key(&self, user: &str, id: &str) {
        self.admin_ok(&format!(
            "{{\"op\":\"delete_access_key\",\"user\":{},\"id\":{}}}",
            json::quote(user),
            json::quote(id)
        ));
    }

    /// GetAccessKeyLastUsed's LastUsedDate, if the key was ever used.
    pub fn last_used(&self, id: &str) -> Option<String> {
        let j = self.admin_ok(&format!(
            "{{\"op\":\"last_used\",\"id\":{}}}",
            json::quote(id)
        ));
        j.get("last_used")
            .and_then(Json::as_str)
            .map(str::to_string)
    }

    /// GetCallerIdentity signed by `id`/`secret`, sent to moto directly (no proxy checks).
    pub fn caller_identity(&self, id: &str, secret: &str) -> Result<Identity, AwsError> {
        self.identity(id, secret, false)
    }

    /// GetCallerIdentity signed by `id`/`secret`, through the proxy (logged, checked, faults).
    /// One attempt, no retry: ~5 ms, where the `aws` CLI takes ~0.4 s and more.
    pub fn caller_identity_via_proxy(&self, id: &str, secret: &str) -> Result<Identity, AwsError> {
        self.identity(id, secret, true)
    }

    fn identity(&self, id: &str, secret: &str, via_proxy: bool) -> Result<Identity, AwsError> {
        let j = self.admin(&format!(
            "{{\"op\":\"get_caller_identity\",\"id\":{},\"secret\":{},\"via_proxy\":{via_proxy}}}",
            json::quote(id),
            json::quote(secret)
        ))?;
        let s = |k: &str| j.get(k).and_then(Json::as_str).unwrap_or("").to_string();
        Ok(Identity {
            account: s("account"),
            arn: s("arn"),
            user_id: s("user_id"),
        })
    }

    /// Any query-protocol call (`service`: `iam` or `sts`) signed by `id`/`secret`, sent to
    /// the proxy (`via_proxy`) or to moto; the HTTP status and the body as sent.
    pub fn signed_call(
        &self,
        service: &str,
        action: &str,
        params: &[(&str, &str)],
        id: &str,
        secret: &str,
        via_proxy: bool,
    ) -> (u16, String) {
        self.signed_call_with_token(service, action, params, id, secret, None, via_proxy)
    }

    /// `signed_call` with a session token (sent and signed as X-Amz-Security-Token).
    #[allow(clippy::too_many_arguments)]
    pub fn signed_call_with_token(
        &self,
        service: &str,
        action: &str,
        params: &[(&str, &str)],
        id: &str,
        secret: &str,
        token: Option<&str>,
        via_proxy: bool,
    ) -> (u16, String) {
        let params: Vec<String> = params
            .iter()
            .map(|(k, v)| format!("{}:{}", json::quote(k), json::quote(v)))
            .collect();
        let token = token.map_or_else(|| "null".to_owned(), json::quote);
        let j = self.admin_ok(&format!(
            "{{\"op\":\"call\",\"service\":{},\"action\":{},\"params\":{{{}}},\"id\":{},\"secret\":{},\"token\":{token},\"via_proxy\":{via_proxy}}}",
            json::quote(service),
            json::quote(action),
            params.join(","),
            json::quote(id),
            json::quote(secret)
        ));
        let status = j.get("status").and_then(Json::as_f64).unwrap_or(0.0) as u16;
        (
            status,
            j.get("body")
                .and_then(Json::as_str)
                .unwrap_or("")
                .to_string(),
        )
    }

    /// A JSON-protocol call (`service`: `secretsmanager`) with `payload` (a JSON object, as
    /// text) as its body, signed by `id`/`secret` (and `token`, a session token), sent to the
    /// proxy (`via_proxy`) or to moto: the answer as sent, headers included.
    #[allow(clippy::too_many_arguments)]
    pub fn signed_json_call(
        &self,
        service: &str,
        action: &str,
        payload: &str,
        id: &str,
        secret: &str,
        token: Option<&str>,
        via_proxy: bool,
    ) -> HttpAnswer {
        let token = token.map_or_else(|| "null".to_owned(), json::quote);
        let j = self.admin_ok(&format!(
            "{{\"op\":\"call\",\"service\":{},\"action\":{},\"params\":{payload},\"id\":{},\"secret\":{},\"token\":{token},\"via_proxy\":{via_proxy}}}",
            json::quote(service),
            json::quote(action),
            json::quote(id),
            json::quote(secret)
        ));
        let headers = j
            .get("headers")
            .and_then(Json::as_array)
            .unwrap_or(&[])
            .iter()
            .filter_map(|h| {
                let h = h.as_array()?;
                Some((
                    h.first()?.as_str()?.to_owned(),
                    h.get(1)?.as_str()?.to_owned(),
                ))
            })
            .collect();
        HttpAnswer {
            status: j.get("status").and_then(Json::as_f64).unwrap_or(0.0) as u16,
            headers,
            body: j
                .get("body")
                .and_then(Json::as_str)
                .unwrap_or("")
                .to_string(),
        }
    }

    /// A request to the proxy signed by `id`/`secret` but not sent: `params` is a JSON object
    /// (as text): the body for `secretsmanager`, the form's parameters (strings) for `iam`
    /// and `sts`. moto does not check the date, so it can be sent many times, e.g. on
    /// `connect()`ions.
    pub fn signed_request(
        &self,
        service: &str,
        action: &str,
        params: &str,
        id: &str,
        secret: &str,
    ) -> SignedRequest {
        let j = self.admin_ok(&format!(
            "{{\"op\":\"signed_request\",\"service\":{},\"action\":{},\"params\":{params},\"id\":{},\"secret\":{}}}",
            json::quote(service),
            json::quote(action),
            json::quote(id),
            json::quote(secret)
        ));
        let s = |k: &str| j.get(k).and_then(Json::as_str).unwrap_or("").to_string();
        let headers = j
            .get("headers")
            .and_then(Json::as_array)
            .unwrap_or(&[])
            .iter()
            .filter_map(|h| {
                let h = h.as_array()?;
                Some((
                    h.first()?.as_str()?.to_owned(),
                    h.get(1)?.as_str()?.to_owned(),
                ))
            })
            .collect();
        SignedRequest {
            method: s("method"),
            path: s("path"),
            headers,
            body: s("body"),
        }
    }

    /// A new keep-alive connection to the proxy.
    pub fn connect(&self) -> ProxyConnection {
        let stream = TcpStream::connect(("127.0.0.1", self.proxy_port))
            .unwrap_or_else(|e| panic!("connect to the proxy: {e}"));
        stream
            .set_read_timeout(Some(Duration::from_secs(120)))
            .expect("read timeout");
        let writer = stream.try_clone().expect("clone the stream");
        ProxyConnection {
            reader: BufReader::new(stream),
            writer,
        }
    }

    // -- the fleet: users' tags, groups, policies, Secrets Manager (admin calls) -----------

    /// moto's policy enforcement on (`POST /moto-api/reset-auth` with 0). `start()` has done
    /// it already (the proxy's bootstrap, after making `moto-admin` with an allow-all policy):
    /// this says so again, and returns moto's previous setting (`"0.0"` when it was on).
    pub fn enable_auth(&self) -> String {
        let j = self.admin_ok("{\"op\":\"enable_auth\"}");
        j.get("PREVIOUS_INITIAL_NO_AUTH_ACTION_COUNT")
            .and_then(Json::as_str)
            .unwrap_or("")
            .to_string()
    }

    pub fn tag_user(&self, user: &str, key: &str, value: &str) {
        self.admin_ok(&format!(
            "{{\"op\":\"tag_user\",\"user\":{},\"key\":{},\"value\":{}}}",
            json::quote(user),
            json::quote(key),
            json::quote(value)
        ));
    }

    pub fn create_group(&self, group: &str) {
        self.admin_ok(&format!(
            "{{\"op\":\"create_group\",\"group\":{}}}",
            json::quote(group)
        ));
    }

    pub fn add_user_to_group(&self, user: &str, group: &str) {
        self.admin_ok(&format!(
            "{{\"op\":\"add_user_to_group\",\"user\":{},\"group\":{}}}",
            json::quote(user),
            json::quote(group)
        ));
    }

    /// An inline policy `name` (a policy document, JSON text: see `allow_policy`) on `user`.
    pub fn put_user_policy(&self, user: &str, name: &str, policy: &str) {
        self.admin_ok(&format!(
            "{{\"op\":\"put_user_policy\",\"user\":{},\"name\":{},\"policy\":{}}}",
            json::quote(user),
            json::quote(name),
            json::quote(policy)
        ));
    }

    /// An inline policy on `group`: moto counts it for each member.
    pub fn put_group_policy(&self, group: &str, name: &str, policy: &str) {
        self.admin_ok(&format!(
            "{{\"op\":\"put_group_policy\",\"group\":{},\"name\":{},\"policy\":{}}}",
            json::quote(group),
            json::quote(name),
            json::quote(policy)
        ));
    }

    /// Every secret: (name, description), in moto's order (creation). Never a value.
    pub fn list_secrets(&self) -> Vec<(String, Option<String>)> {
        self.list_secrets_op("{\"op\":\"list_secrets\"}")
    }

    /// The secrets whose name starts with `prefix` (ListSecrets' `name` filter; in moto
    /// 5.2.5 a case-sensitive prefix match).
    pub fn list_secrets_with_prefix(&self, prefix: &str) -> Vec<(String, Option<String>)> {
        self.list_secrets_op(&format!(
            "{{\"op\":\"list_secrets\",\"prefix\":{}}}",
            json::quote(prefix)
        ))
    }

    fn list_secrets_op(&self, request: &str) -> Vec<(String, Option<String>)> {
        secrets_of(&self.admin_ok(request))
    }

    /// CreateSecret as the admin: `value` as its SecretString (None: no version at all, as
    /// at AWS); the ARN.
    pub fn create_secret(
        &self,
        name: &str,
        value: Option<&str>,
        description: Option<&str>,
    ) -> String {
        let opt = |v: Option<&str>| v.map_or_else(|| "null".to_owned(), json::quote);
        let j = self.admin_ok(&format!(
            "{{\"op\":\"create_secret\",\"name\":{},\"value\":{},\"description\":{}}}",
            json::quote(name),
            opt(value),
            opt(description)
        ));
        j.get("arn")
            .and_then(Json::as_str)
            .unwrap_or("")
            .to_string()
    }

    /// DeleteSecret with ForceDeleteWithoutRecovery: gone at once.
    pub fn delete_secret(&self, name: &str) -> Result<(), AwsError> {
        self.admin(&format!(
            "{{\"op\":\"delete_secret\",\"name\":{}}}",
            json::quote(name)
        ))
        .map(drop)
    }

    /// DescribeSecret as the admin (`ResourceNotFoundException` for no such secret).
    pub fn describe_secret(&self, name: &str) -> Result<SecretInfo, AwsError> {
        let j = self.admin(&format!(
            "{{\"op\":\"describe_secret\",\"name\":{}}}",
            json::quote(name)
        ))?;
        let s = |k: &str| j.get(k).and_then(Json::as_str).map(str::to_string);
        let versions = match j.get("VersionIdsToStages") {
            Some(Json::Obj(m)) => m
                .iter()
                .map(|(id, stages)| {
                    let stages = stages
                        .as_array()
                        .unwrap_or(&[])
                        .iter()
                        .filter_map(|s| s.as_str().map(str::to_string))
                        .collect();
                    (id.clone(), stages)
                })
                .collect(),
            _ => Vec::new(),
        };
        Ok(SecretInfo {
            name: s("Name").unwrap_or_default(),
            arn: s("ARN").unwrap_or_default(),
            description: s("Description"),
            versions,
            last_accessed: j.get("LastAccessedDate").and_then(Json::as_f64),
            deleted: j.get("DeletedDate").and_then(Json::as_f64),
            json: j,
        })
    }

    /// The secret's resource policy (JSON text), if it has one. moto stores it and never
    /// applies it.
    pub fn get_resource_policy(&self, name: &str) -> Result<Option<String>, AwsError> {
        let j = self.admin(&format!(
            "{{\"op\":\"get_resource_policy\",\"name\":{}}}",
            json::quote(name)
        ))?;
        Ok(j.get("policy").and_then(Json::as_str).map(str::to_string))
    }

    /// GetSecretValue signed by `key`, through the proxy (the key checks, faults and log
    /// apply): the SecretString, as the user would read it.
    pub fn get_secret_value_as(&self, key: &AccessKey, name: &str) -> Result<String, AwsError> {
        self.secret_value(key, name, true)
    }

    /// GetSecretValue signed by `key`, to moto directly (which lets an inactive key read).
    pub fn get_secret_value_from_moto(
        &self,
        key: &AccessKey,
        name: &str,
    ) -> Result<String, AwsError> {
        self.secret_value(key, name, false)
    }

    fn secret_value(
        &self,
        key: &AccessKey,
        name: &str,
        via_proxy: bool,
    ) -> Result<String, AwsError> {
        let j = self.admin(&format!(
            "{{\"op\":\"get_secret_value\",\"name\":{},\"id\":{},\"secret\":{},\"via_proxy\":{via_proxy}}}",
            json::quote(name),
            json::quote(&key.id),
            json::quote(&key.secret)
        ))?;
        Ok(j.get("value")
            .and_then(Json::as_str)
            .unwrap_or("")
            .to_string())
    }

    /// GetSessionToken signed by `key`, through the proxy, with `serial` and `code` where given
    /// (900 s, as the program asks): the session, or the error (as `AwsError`).
    pub fn get_session_token(
        &self,
        key: &AccessKey,
        serial: Option<&str>,
        code: Option<&str>,
    ) -> Result<SessionCredentials, AwsError> {
        let mut params = vec![("DurationSeconds", "900")];
        if let Some(s) = serial {
            params.push(("SerialNumber", s));
        }
        if let Some(c) = code {
            params.push(("TokenCode", c));
        }
        let (status, body) = self.signed_call(
            "sts",
            "GetSessionToken",
            &params,
            &key.id,
            &key.secret,
            true,
        );
        let element = |name: &str| {
            let open = format!("<{name}>");
            body.split_once(&open)
                .and_then(|(_, rest)| rest.split_once(&format!("</{name}>")))
                .map(|(v, _)| v.replace("&amp;", "&"))
        };
        if status != 200 {
            return Err(AwsError {
                status,
                code: element("Code"),
                message: element("Message").unwrap_or(body.clone()),
            });
        }
        let get = |name: &str| {
            element(name).unwrap_or_else(|| panic!("GetSessionToken: no {name} in {body}"))
        };
        Ok(SessionCredentials {
            id: get("AccessKeyId"),
            secret: get("SecretAccessKey"),
            token: get("SessionToken"),
            expiration: get("Expiration"),
        })
    }

    /// Asserts the MFA path of a rotation of key `old` from the log: exactly one
    /// GetSessionToken, signed by `old`, with `serial` and a code the proxy accepted; every IAM
    /// call signed by that session (standing for `old`); CreateAccessKey made `new`, and every
    /// GetCallerIdentity after it is signed by `new` itself; `old` signs nothing but STS calls.
    /// The session's key id.
    #[track_caller]
    pub fn assert_rotated_through_a_session(&self, old: &str, serial: &str, new: &str) -> String {
        let log = self.log();
        let sessions: Vec<_> = log
            .iter()
            .filter(|e| e.action.as_deref() == Some("GetSessionToken"))
            .collect();
        assert_eq!(sessions.len(), 1, "one session: {log:#?}");
        let s = sessions[0];
        assert_eq!(s.key.as_deref(), Some(old), "made with the old key: {s:?}");
        assert_eq!(s.serial_number.as_deref(), Some(serial), "{s:?}");
        assert_eq!(
            (s.status, s.mfa.as_deref()),
            (Some(200), Some("ok")),
            "{s:?}"
        );
        let session = s.session.clone().expect("the session's key id");
        let iam: Vec<_> = log
            .iter()
            .filter(|e| e.service.as_deref() == Some("iam"))
            .collect();
        for e in &iam {
            assert_eq!(
                (e.key.as_deref(), e.session_of.as_deref(), e.status),
                (Some(session.as_str()), Some(old), Some(200)),
                "IAM calls are signed by the session: {e:?}"
            );
        }
        let actions: Vec<_> = iam.iter().filter_map(|e| e.action.as_deref()).collect();
        assert!(
            actions.contains(&"ListAccessKeys") && actions.contains(&"CreateAccessKey"),
            "{actions:?}"
        );
        let created = iam
            .iter()
            .find(|e| e.action.as_deref() == Some("CreateAccessKey"))
            .expect("CreateAccessKey");
        assert_eq!(created.new_key.as_deref(), Some(new));
        let verifications: Vec<_> = log
            .iter()
            .filter(|e| e.seq > created.seq && e.action.as_deref() == Some("GetCallerIdentity"))
            .collect();
        assert!(
            verifications.iter().any(|e| e.status == Some(200)),
            "the new key was verified: {log:#?}"
        );
        assert!(
            verifications.iter().all(|e| e.key.as_deref() == Some(new)),
            "verified by the new key itself: {verifications:#?}"
        );
        assert!(
            log.iter()
                .filter(|e| e.key.as_deref() == Some(old))
                .all(|e| e.service.as_deref() == Some("sts")),
            "the old key signs STS calls only: {log:#?}"
        );
        session
    }

    /// The venv's `aws` CLI v1 with `key` in its environment and the proxy as endpoint
    /// (environment cleared but PATH; region us-east-1; no config files; no pager).
    pub fn aws(&self, key: &AccessKey) -> Command {
        self.aws_with(&key.id, &key.secret)
    }

    pub fn aws_with(&self, id: &str, secret: &str) -> Command {
        let mut c = Command::new(aws_cli_path());
        c.env_clear();
        if let Some(path) = std::env::var_os("PATH") {
            c.env("PATH", path);
        }
        c.env("AWS_ACCESS_KEY_ID", id)
            .env("AWS_SECRET_ACCESS_KEY", secret)
            .env("AWS_DEFAULT_REGION", "us-east-1")
            .env("AWS_CONFIG_FILE", "/dev/null")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_PAGER", "")
            .arg("--endpoint-url")
            .arg(&self.proxy_url);
        c
    }
}

/// `method path` to 127.0.0.1:port with `Connection: close`; the status and body.
fn http(port: u16, method: &str, path: &str, body: &str) -> std::io::Result<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(120)))?;
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes())?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("no HTTP status in {head:?}")))?;
    Ok((status, body.to_string()))
}

// ---- an HTTPS front ------------------------------------------------------------------------------

/// `tls_front.py` in front of the proxy: HTTPS on 127.0.0.1 with a certificate signed by a CA
/// made at start (`ca()`), and a second CA that signed nothing (`other_ca()`). Killed on Drop.
pub struct TlsFront {
    proc: Proc,
    url: String,
    dir: PathBuf,
}

impl TlsFront {
    /// `https://127.0.0.1:PORT`: the endpoint to give the program under test.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The PEM file of the CA that signed the front's certificate.
    pub fn ca(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }

    /// The PEM file of a CA that signed nothing here.
    pub fn other_ca(&self) -> PathBuf {
        self.dir.join("other-ca.pem")
    }
}

impl Drop for TlsFront {
    fn drop(&mut self) {
        self.proc.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Moto {
    /// An HTTPS front for the proxy, with certificates made for this test.
    pub fn tls_front(&self) -> TlsFront {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
            "tls-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let mut cmd = Command::new(venv().join("bin/python"));
        cmd.arg(crate_dir().join("tests/support/tls_front.py"))
            .arg(self.proxy_port.to_string())
            .arg(&dir)
            .arg("--watch-stdin")
            .env("PYTHONDONTWRITEBYTECODE", "1");
        let (proc, port) = spawn_until(
            "tls_front.py",
            cmd,
            |l| l.strip_prefix("PORT ").and_then(|p| p.trim().parse().ok()),
            Duration::from_secs(60),
        );
        TlsFront {
            proc,
            url: format!("https://127.0.0.1:{port}"),
            dir,
        }
    }
}

// ---- a forward proxy ----------------------------------------------------------------------------

/// `forward_proxy.py`: what `HTTPS_PROXY`/`HTTP_PROXY` point at in a test. It tunnels CONNECTs,
/// forwards absolute-form requests, and logs each request it receives (method and target, e.g.
/// `CONNECT 127.0.0.1:4567`, `POST http://127.0.0.1:4568/`), or refuses them all. Killed on Drop.
pub struct ForwardProxy {
    proc: Proc,
    port: u16,
    log: PathBuf,
}

impl ForwardProxy {
    /// A proxy that tunnels and forwards every request.
    pub fn start() -> ForwardProxy {
        Self::spawn(&[])
    }

    /// A proxy that answers every request, CONNECT included, with `status` (403, 407...).
    pub fn refusing(status: u16) -> ForwardProxy {
        Self::spawn(&["--refuse", &status.to_string()])
    }

    /// A proxy that serves only requests with Basic `Proxy-Authorization` `user:password`
    /// (407 to the others).
    pub fn with_credentials(user_password: &str) -> ForwardProxy {
        Self::spawn(&["--auth", user_password])
    }

    fn spawn(args: &[&str]) -> ForwardProxy {
        static N: AtomicUsize = AtomicUsize::new(0);
        let log = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
            "forward-proxy-{}-{}.log",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_file(&log);
        let mut cmd = Command::new(venv().join("bin/python"));
        cmd.arg(crate_dir().join("tests/support/forward_proxy.py"))
            .arg(&log)
            .args(args)
            .arg("--watch-stdin")
            .env("PYTHONDONTWRITEBYTECODE", "1");
        let (proc, port) = spawn_until(
            "forward_proxy.py",
            cmd,
            |l| l.strip_prefix("PORT ").and_then(|p| p.trim().parse().ok()),
            Duration::from_secs(60),
        );
        ForwardProxy { proc, port, log }
    }

    /// `http://127.0.0.1:PORT`: the value for `HTTPS_PROXY`/`HTTP_PROXY`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// `http://USERINFO@127.0.0.1:PORT`.
    pub fn url_with(&self, userinfo: &str) -> String {
        format!("http://{userinfo}@127.0.0.1:{}", self.port)
    }

    /// The requests received so far, one `METHOD TARGET` line each, oldest first.
    pub fn log(&self) -> Vec<String> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

impl Drop for ForwardProxy {
    fn drop(&mut self) {
        self.proc.stop();
        let _ = std::fs::remove_file(&self.log);
    }
}

/// A loopback port where nothing listens (bound, then released).
pub fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind(("127.0.0.1", 0)).expect("bind a free port");
    l.local_addr().expect("its address").port()
}

// ---- Home --------------------------------------------------------------------------------------

/// A temporary HOME under `<target>/tmp` (unique per test, removed on Drop; kept when
/// `ART_KEEP_TMP` is set) with `.aws/config` and `.aws/credentials`.
pub struct Home {
    dir: PathBuf,
    endpoint: String,
}

impl Home {
    /// `config`/`credentials`: the files' text, written byte for byte (an empty text still
    /// creates the file).
    pub fn new(endpoint: &str, config: &str, credentials: &str) -> Home {
        static N: AtomicUsize = AtomicUsize::new(0);
        let test = std::thread::current()
            .name()
            .unwrap_or("test")
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect::<String>();
        let test: String = test
            .chars()
            .rev()
            .take(60)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
            "home-{test}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join(".aws")).expect("create HOME/.aws");
        let home = Home {
            dir,
            endpoint: endpoint.to_string(),
        };
        home.write(".aws/config", config);
        home.write(".aws/credentials", credentials);
        home
    }

    pub fn path(&self) -> &Path {
        &self.dir
    }

    pub fn config_path(&self) -> PathBuf {
        self.dir.join(".aws/config")
    }

    pub fn credentials_path(&self) -> PathBuf {
        self.dir.join(".aws/credentials")
    }

    /// A file under HOME, by relative path (e.g. `.aws/credentials`).
    pub fn read(&self, rel: &str) -> String {
        let p = self.dir.join(rel);
        std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()))
    }

    pub fn read_bytes(&self, rel: &str) -> Vec<u8> {
        let p = self.dir.join(rel);
        std::fs::read(&p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()))
    }

    pub fn write(&self, rel: &str, text: impl AsRef<[u8]>) {
        let p = self.dir.join(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).expect("create parent dir");
        }
        std::fs::write(&p, text).unwrap_or_else(|e| panic!("write {}: {e}", p.display()));
    }

    pub fn config(&self) -> String {
        self.read(".aws/config")
    }

    pub fn credentials(&self) -> String {
        self.read(".aws/credentials")
    }

    /// The names in `.aws/` (journal, lock, temp files show up here).
    pub fn aws_dir_entries(&self) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(self.dir.join(".aws"))
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    }

    /// A command for `program` in this HOME: environment cleared but PATH; HOME,
    /// AWS_CONFIG_FILE, AWS_SHARED_CREDENTIALS_FILE set to this HOME's files; AWS_ENDPOINT_URL
    /// the proxy; AWS_REGION us-east-1; AWS_EC2_METADATA_DISABLED; AWS_PAGER empty (no pager);
    /// current directory HOME.
    pub fn command_for(&self, program: impl AsRef<OsStr>) -> Command {
        let mut c = Command::new(program);
        c.env_clear();
        if let Some(path) = std::env::var_os("PATH") {
            c.env("PATH", path);
        }
        c.env("HOME", &self.dir)
            .env("AWS_CONFIG_FILE", self.config_path())
            .env("AWS_SHARED_CREDENTIALS_FILE", self.credentials_path())
            .env("AWS_ENDPOINT_URL", &self.endpoint)
            .env("AWS_REGION", "us-east-1")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_PAGER", "")
            .current_dir(&self.dir);
        c
    }

    /// The binary under test in this HOME (see `command_for`): this build's, or `ART_BIN` (a
    /// build of it for another target), run through `ART_BIN_RUNNER` when that is set (`wine`,
    /// `qemu-aarch64 -L /usr/aarch64-linux-gnu`), with the runner's own variables (`WINE*`,
    /// `QEMU_*`) passed through.
    #[cfg(feature = "cli")]
    pub fn command(&self) -> Command {
        let bin = std::env::var_os("ART_BIN")
            .filter(|b| !b.is_empty())
            .unwrap_or_else(|| env!("CARGO_BIN_EXE_aws-rotate-keys").into());
        let runner = std::env::var("ART_BIN_RUNNER").unwrap_or_default();
        let mut words = runner.split_whitespace();
        let Some(program) = words.next() else {
            return self.command_for(bin);
        };
        let mut c = self.command_for(program);
        c.args(words).arg(bin);
        for (name, value) in std::env::vars_os() {
            let n = name.to_string_lossy();
            if n.starts_with("WINE") || n.starts_with("QEMU_") {
                c.env(&name, value);
            }
        }
        c
    }

    /// The venv's `aws` CLI v1 in this HOME (to compare outputs with the real thing).
    pub fn aws(&self) -> Command {
        self.command_for(aws_cli_path())
    }
}

impl Drop for Home {
    fn drop(&mut self) {
        if std::env::var_os("ART_KEEP_TMP").is_some() {
            eprintln!("kept HOME {}", self.dir.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

// ---- a minimal JSON reader ---------------------------------------------------------------------

pub mod json {
    //! Just enough JSON for the proxy's answers: parse into [`Json`], read with `get`/`as_*`.

    #[derive(Clone, Debug, PartialEq)]
    pub enum Json {
        Null,
        Bool(bool),
        Num(f64),
        Str(String),
        Arr(Vec<Json>),
        /// Members in their order.
        Obj(Vec<(String, Json)>),
    }

    impl Json {
        pub fn parse(text: &str) -> Result<Json, String> {
            let mut p = Parser {
                s: text.as_bytes(),
                i: 0,
            };
            let v = p.value()?;
            p.ws();
            if p.i != p.s.len() {
                return Err(format!("trailing characters at {}", p.i));
            }
            Ok(v)
        }

        /// A member of an object.
        pub fn get(&self, key: &str) -> Option<&Json> {
            match self {
                Json::Obj(m) => m.iter().find(|(k, _)| k == key).map(|(_, v)| v),
                _ => None,
            }
        }

        pub fn as_str(&self) -> Option<&str> {
            match self {
                Json::Str(s) => Some(s),
                _ => None,
            }
        }

        pub fn as_f64(&self) -> Option<f64> {
            match self {
                Json::Num(n) => Some(*n),
                _ => None,
            }
        }

        pub fn as_bool(&self) -> Option<bool> {
            match self {
                Json::Bool(b) => Some(*b),
                _ => None,
            }
        }

        pub fn as_array(&self) -> Option<&[Json]> {
            match self {
                Json::Arr(a) => Some(a),
                _ => None,
            }
        }

        pub fn is_null(&self) -> bool {
            matches!(self, Json::Null)
        }
    }

    /// `s` as a JSON string literal.
    pub fn quote(s: &str) -> String {
        let mut o = String::with_capacity(s.len() + 2);
        o.push('"');
        for c in s.chars() {
            match c {
                '"' => o.push_str("\\\""),
                '\\' => o.push_str("\\\\"),
                '\n' => o.push_str("\\n"),
                '\r' => o.push_str("\\r"),
                '\t' => o.push_str("\\t"),
                c if (c as u32) < 0x20 => o.push_str(&format!("\\u{:04x}", c as u32)),
                c => o.push(c),
            }
        }
        o.push('"');
        o
    }

    struct Parser<'a> {
        s: &'a [u8],
        i: usize,
    }

    impl Parser<'_> {
        fn ws(&mut self) {
            while self.i < self.s.len() && matches!(self.s[self.i], b' ' | b'\t' | b'\n' | b'\r') {
                self.i += 1;
            }
        }

        fn err<T>(&self, what: &str) -> Result<T, String> {
            Err(format!("{what} at byte {}", self.i))
        }

        fn lit(&mut self, word: &str, v: Json) -> Result<Json, String> {
            if self.s[self.i..].starts_with(word.as_bytes()) {
                self.i += word.len();
                Ok(v)
            } else {
                self.err("bad literal")
            }
        }

        fn value(&mut self) -> Result<Json, String> {
            self.ws();
            match self.s.get(self.i) {
                None => self.err("unexpected end"),
                Some(b'n') => self.lit("null", Json::Null),
                Some(b't') => self.lit("true", Json::Bool(true)),
                Some(b'f') => self.lit("false", Json::Bool(false)),
                Some(b'"') => self.string().map(Json::Str),
                Some(b'[') => {
                    self.i += 1;
                    let mut a = Vec::new();
                    self.ws();
                    if self.s.get(self.i) == Some(&b']') {
                        self.i += 1;
                        return Ok(Json::Arr(a));
                    }
                    loop {
                        a.push(self.value()?);
                        self.ws();
                        match self.s.get(self.i) {
                            Some(b',') => self.i += 1,
                            Some(b']') => {
                                self.i += 1;
                                return Ok(Json::Arr(a));
                            }
                            _ => return self.err("expected , or ]"),
                        }
                    }
                }
                Some(b'{') => {
                    self.i += 1;
                    let mut m = Vec::new();
                    self.ws();
                    if self.s.get(self.i) == Some(&b'}') {
                        self.i += 1;
                        return Ok(Json::Obj(m));
                    }
                    loop {
                        self.ws();
                        if self.s.get(self.i) != Some(&b'"') {
                            return self.err("expected a member name");
                        }
                        let k = self.string()?;
                        self.ws();
                        if self.s.get(self.i) != Some(&b':') {
                            return self.err("expected :");
                        }
                        self.i += 1;
                        m.push((k, self.value()?));
                        self.ws();
                        match self.s.get(self.i) {
                            Some(b',') => self.i += 1,
                            Some(b'}') => {
                                self.i += 1;
                                return Ok(Json::Obj(m));
                            }
                            _ => return self.err("expected , or }"),
                        }
                    }
                }
                Some(_) => self.number(),
            }
        }

        fn number(&mut self) -> Result<Json, String> {
            let start = self.i;
            while self.i < self.s.len()
                && matches!(
                    self.s[self.i],
                    b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9'
                )
            {
                self.i += 1;
            }
            std::str::from_utf8(&self.s[start..self.i])
                .ok()
                .and_then(|t| t.parse::<f64>().ok())
                .map(Json::Num)
                .ok_or_else(|| format!("bad number at byte {start}"))
        }

        fn hex4(&mut self) -> Result<u32, String> {
            let h = self.s.get(self.i..self.i + 4).ok_or("short \\u escape")?;
            let v = std::str::from_utf8(h)
                .ok()
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                .ok_or("bad \\u escape")?;
            self.i += 4;
            Ok(v)
        }

        fn string(&mut self) -> Result<String, String> {
            self.i += 1; // the opening quote
            let mut out = String::new();
            loop {
                let start = self.i;
                while self.i < self.s.len() && self.s[self.i] != b'"' && self.s[self.i] != b'\\' {
                    self.i += 1;
                }
                out.push_str(
                    std::str::from_utf8(&self.s[start..self.i]).map_err(|e| e.to_string())?,
                );
                match self.s.get(self.i) {
                    None => return self.err("unterminated string"),
                    Some(b'"') => {
                        self.i += 1;
                        return Ok(out);
                    }
                    _ => {}
                }
                self.i += 1; // the backslash
                let c = *self.s.get(self.i).ok_or("unterminated escape")?;
                self.i += 1;
                match c {
                    b'"' => out.push('"'),
                    b'\\' => out.push('\\'),
                    b'/' => out.push('/'),
                    b'b' => out.push('\u{8}'),
                    b'f' => out.push('\u{c}'),
                    b'n' => out.push('\n'),
                    b'r' => out.push('\r'),
                    b't' => out.push('\t'),
                    b'u' => {
                        let mut cp = self.hex4()?;
                        if (0xD800..0xDC00).contains(&cp) && self.s[self.i..].starts_with(b"\\u") {
                            self.i += 2;
                            let lo = self.hex4()?;
                            cp =
                                0x10000 + ((cp - 0xD800) << 10) + (lo.wrapping_sub(0xDC00) & 0x3FF);
                        }
                        out.push(char::from_u32(cp).unwrap_or('\u{FFFD}'));
                    }
                    _ => return self.err("bad escape"),
                }
            }
        }
    }
}
