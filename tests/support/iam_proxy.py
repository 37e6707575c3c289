#!/usr/bin/env python3
"""A proxy between the program under test and moto_server that adds what moto lacks.

    iam_proxy.py MOTO_URL [--port N] [--bootstrap] [--verbose]

Listens on 127.0.0.1 (port 0 by default: the OS chooses) and prints `PORT <n>` as the first
line of stdout once it is ready (after the bootstrap, with --bootstrap). Forwards every request
byte for byte (headers, Host included: SigV4 signs it) to MOTO_URL, and on the way:

- rejects requests signed by an INACTIVE access key (moto accepts them) as real AWS does:
  403 InvalidClientTokenId, in the AWS error shape of the service (IAM or STS); for Secrets
  Manager (JSON PROTOCOL below) 400 UnrecognizedClientException in its JSON shape;
- refuses a key created through the proxy (seen in a CreateAccessKey response) in the same way
  for `delay_new_key_seconds` after its creation (IAM's propagation delay);
- injects faults per action and signing key (see FAULT KINDS);
- acts as STS's GetSessionToken (moto's session credentials do not work for anything), see
  SESSIONS below;
- waits `latency_ms` before it handles each AWS request (a network's round trip);
- logs every request: service, action, signing key id, HTTP status, time, whether it
  intervened, the names it acted on (user, group, secret). Never a secret, never a body.

Many clients at once: one thread per connection (ThreadingHTTPServer), keep-alive (HTTP/1.1,
every answer has a Content-Length); each request opens its own connection to moto, which
serves each in a thread as well.

JSON PROTOCOL (Secrets Manager): a request with an `X-Amz-Target: secretsmanager.<Action>`
header (or an application/x-amz-json-1.x body) is logged with the service of its credential
scope (`secretsmanager`), the action of its X-Amz-Target, and `secret_id` (the body's
`SecretId`, else its `Name`: the only members read; never SecretString or any other value).
The proxy's own answers to it take the JSON protocol's shape: the status, then
{"__type": CODE, "message": MESSAGE} with `x-amzn-ErrorType: CODE` and Content-Type
application/x-amz-json-1.1. An inactive or too new key: 400 UnrecognizedClientException
"The security token included in the request is invalid." (AWS's JSON services); the SESSIONS
refusals: 400 UnrecognizedClientException (token), ExpiredTokenException,
InvalidSignatureException, AccessDeniedException. moto answers a JSON-protocol request's
authentication and authorization failures (unknown key, wrong secret, a policy that does not
allow the action) in its query-protocol XML with 403, which no SDK reads for a JSON service:
the proxy always translates them (InvalidClientTokenId -> 400 UnrecognizedClientException,
SignatureDoesNotMatch -> 400 InvalidSignatureException, AccessDenied -> 400
AccessDeniedException, message kept). moto's own JSON errors go through as they are (e.g. 404
ResourceNotFoundException, where AWS says 400), unless `aws_error_shape` (below).

Key status is learnt from the CreateAccessKey/UpdateAccessKey/DeleteAccessKey calls that go
through the proxy (and from the admin API below); a key the proxy has not seen is looked up
once in moto's /moto-api/data.json (which keeps deleted keys too: a deleted key is forwarded,
and moto itself refuses it).

SESSIONS: a GetSessionToken signed by a long-term key K is forwarded to moto first (moto checks
K's signature and the user's policy); if moto answers 200, the proxy checks the MFA code
(`mfa_devices`), then answers itself, as AWS does, with credentials of its own: an `ASIA…` key
id, a secret and a session token, valid for DurationSeconds (900..129600, default 43200), and
remembers that they stand for K (K's secret is read from moto's /moto-api/data.json). A request
signed by such a session key is checked as AWS checks it: the X-Amz-Security-Token must be the
session's (else 403 InvalidClientTokenId), the session must not have expired (403 ExpiredToken),
the SigV4 signature must be the one the session's secret gives (else 403 SignatureDoesNotMatch);
GetSessionToken itself is refused (403 AccessDenied). A request that passes is re-signed with
K (same date, region and service; X-Amz-Security-Token dropped) and forwarded to moto, which
then acts as K's user. Differences from AWS: moto sees K as the caller (K's last use is updated),
and once K is deleted from moto, its sessions stop working (at AWS they live until they expire).
The MFA checks, with `mfa_devices` set (a non-empty {SERIAL: CODE} map): a SerialNumber without
a TokenCode or the other way round: 403 AccessDenied "MultiFactorAuthentication failed, must
provide both MFA serial number and one time pass code."; a TokenCode that is not six digits:
400 ValidationError; a SerialNumber not in the map: 403 AccessDenied "MultiFactorAuthentication
failed, unable to validate MFA code. Please verify your MFA serial number is valid and
associated with this user."; another code than the map's: 403 AccessDenied
"MultiFactorAuthentication failed with invalid MFA one time pass code.". Without `mfa_devices`,
any SerialNumber and six-digit TokenCode are accepted ("mfa": "unchecked" in the log).

Control API, on the same port (JSON in, JSON out):
  POST /__proxy/config   {"delay_new_key_seconds": 6, "reject_inactive": true,
                          "faults": [RULE...] (replaces the list), "hang_seconds": 30,
                          "aws_error_shape": false,
                          "mfa_devices": {SERIAL: CODE} (replaces the map; {} checks no code),
                          "latency_ms": 0}
                                                        -> the whole config
     aws_error_shape: moto's XML errors as AWS's (no <Errors>, a namespace); moto's JSON
       errors with a 4xx status as 400 with Content-Type application/x-amz-json-1.1.
     latency_ms: every AWS request (not the control API, nor what admin ops send to moto
       directly) waits this long on arrival, before the faults, the key checks and moto:
       a round trip costs the same whatever the answer. 0..600000.
  GET  /__proxy/config                                  -> the whole config (faults with what is left)
  POST /__proxy/faults   RULE or [RULE...]              -> appends; returns the whole config
  GET  /__proxy/log[?since=SEQ]                         -> [ENTRY...]
  POST /__proxy/reset                                   -> clears log, faults, delay, mfa_devices,
                                                           latency_ms; reject_inactive on
                                                           (sessions are kept)
  GET  /__proxy/keys                                    -> {"AKIA...": {"status", "user", "age"}}
  GET  /__proxy/sessions                                -> {"ASIA...": {"key" (K), "user",
                                                           "serial" (or null), "expires_in"}}
  POST /__proxy/admin    {"op": OP, ...args}            -> the result of moto_admin.Admin.OP
     ops: create_user {user, policy?}, create_access_key {user}, list_access_keys {user},
     update_access_key {id, status, user?}, delete_access_key {id, user?}, last_used {id},
     get_caller_identity {id, secret, via_proxy?}, admin_identity {},
     call {service, action, params, id, secret, token?, via_proxy?} -> {"status", "body"} (any
     signed query-protocol call, its answer as sent; `token`: a session token, signed); for
     service "secretsmanager" a JSON-protocol call, `params` its JSON body, -> {"status",
     "headers" ([name, value]...), "body"},
     signed_request {service, action, params, id, secret, token?} -> {"method", "path",
     "headers", "body"}: a request to the proxy signed but not sent (moto ignores its date,
     so it can be sent again and again: e.g. by many clients on keep-alive connections),
     fleet (IAM): tag_user {user, key, value}, create_group {group}, add_user_to_group {user,
     group}, put_user_policy {user, name, policy}, put_group_policy {group, name, policy}
     (`policy`: a policy document, as JSON text),
     fleet (Secrets Manager, signed by the admin, to moto directly):
     list_secrets {prefix?} -> [{"name", "description"}...] (every page; never a value;
     `prefix`: the `name` filter), create_secret {name, value?, description?} -> {"name",
     "arn", "version_id"} (no value: no version, as at AWS), delete_secret {name} (forced, no
     recovery window), describe_secret {name} -> DescribeSecret's answer (no value in it),
     get_resource_policy {name} -> {"name", "arn", "policy" (text, or null)},
     get_secret_value {name, id, secret, via_proxy?} -> {"name", "value", "version_id"}
     (signed by the given key: a test acting as the user; via_proxy, the key checks apply),
     users_with_keys {users: [NAME...], status?} -> [{"user", "id"}...] (no secrets; for
     benchmarks),
     upload_ssh_public_key {user, body} -> {"id"}; admin_secret_value {name} -> {"value"} (the
     admin reads a secret's value: to check what a delivery holds),
     organization {names: [NAME...]} -> {"management": ID, "accounts": [{"name", "id"}...]}
     (creates the organization and one account per name; turns moto's auth off for good:
     the role moto makes in each new account has no policy), close_account {account_id}.
     Every op takes "account": ID to act in that account of the organization, through its
     OrganizationAccountAccessRole.
     enable_auth {} -> moto's answer to POST /moto-api/reset-auth with 0 (the bootstrap has
     already done it: a no-op then, "PREVIOUS_INITIAL_NO_AUTH_ACTION_COUNT": "0.0").
     An AWS error answers 400 {"error": {"status", "code", "message"}}.
  GET  /__proxy/health                                  -> {"ok": true}

RULE: {"action": "CreateAccessKey" | "*", "key": AKID (optional: only requests signed by it),
       "role_arn": ARN (optional: only an AssumeRole of that role),
       "kind": KIND, "count": N (default 1; a negative count never runs out),
       "seconds": S (hang only), "status"/"code"/"message" (kind "error" only)}
FAULT KINDS: throttle (400 Throttling "Rate exceeded"), 500 (ServiceFailure), 503
  (ServiceUnavailable), limit (409 LimitExceeded "Cannot exceed quota for AccessKeysPerUser: 2"),
  denied (403 AccessDenied), error (any status/code/message), hang (read the request, say
  nothing for `seconds`, then close), close (close the connection without answering), after
  (forward, so the action takes effect, then close without answering).
  For a JSON-protocol request (Secrets Manager: match it by its action name, e.g.
  "GetSecretValue"), the same in that protocol's shape: throttle 400 ThrottlingException
  "Rate exceeded", 500 InternalServiceError "An error occurred on the server side.", 503
  ServiceUnavailable, limit 400 LimitExceededException, denied 400 AccessDeniedException (on
  resource: the secret_id), error the given status/code/message as JSON.
  The first rule that matches a request and has count left applies (before the key checks;
  "after" goes through them).
ENTRY: {"seq", "time" (unix seconds, on arrival), "ms" (latency_ms included), "done" (false
  while the proxy is still at it, e.g. a hang: entries are logged on arrival), "method",
  "path", "service" (the credential scope's: "iam", "sts", "secretsmanager"; unsigned: the
  X-Amz-Target's prefix, or null), "action",
  "key" (the signing key id, as the client signed: a session's ASIA… id for session requests),
  "status" (null when no answer was sent), "intervened" (null, or what the proxy did:
  "inactive", "delay", "moto-unreachable" (answered 502), a fault kind, or for SESSIONS:
  "session" (a GetSessionToken answered with the proxy's credentials), "resigned" (a session's
  request forwarded signed by its K), "bad-mfa" (the code or device refused), "bad-duration",
  "bad-token", "bad-signature", "expired", "session-denied" (GetSessionToken signed by a
  session)),
  "user_name", "access_key_id", "new_key_status" (the request's UserName, AccessKeyId and
  Status parameters), "new_key" (the AccessKeyId that a CreateAccessKey answer held),
  "serial_number" (GetSessionToken's SerialNumber), "mfa" (GetSessionToken: "ok", "unchecked"
  (no mfa_devices), "none" (no SerialNumber nor TokenCode), "incomplete", "bad-format",
  "unknown-device", "wrong-code"; never the code itself), "session" (the ASIA… key id that a
  GetSessionToken answer held), "session_of" (for a request signed by a session: the long-term
  key id K it stands for, which signed what went to moto), "group_name" (the request's
  GroupName parameter), "role_arn" (an AssumeRole's RoleArn), "secret_id" (a JSON-protocol request's SecretId, else its Name)}.

Python 3 stdlib only (moto_admin.py beside it is stdlib only too).
"""

import argparse
import base64
import datetime
import hashlib
import hmac
import http.client
import http.server
import json
import os
import re
import select
import secrets
import socket
import string
import sys
import threading
import time
import traceback
import urllib.parse
import uuid
import xml.etree.ElementTree as ET

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import moto_admin  # noqa: E402
import relay  # noqa: E402

NAMESPACES = {
    "iam": "https://iam.amazonaws.com/doc/2010-05-08/",
    "sts": "https://sts.amazonaws.com/doc/2011-06-15/",
}
DEFAULT_ACCOUNT = "123456789012"
CRED_RE = re.compile(r"Credential=([^/,\s]+)/[^/]*/([^/]*)/([^/]*)/")
# A whole SigV4 Authorization header: key id, date, region, service, signed headers, signature.
AUTH_RE = re.compile(
    r"AWS4-HMAC-SHA256\s+Credential=([^/,\s]+)/(\d{8})/([^/,\s]+)/([^/,\s]+)/aws4_request\s*,"
    r"\s*SignedHeaders=([^,\s]+)\s*,\s*Signature=([0-9a-f]{64})\s*$"
)
SIGNATURE_MISMATCH = (
    "The request signature we calculated does not match the signature you provided. Check your "
    "AWS Secret Access Key and signing method. Consult the service documentation for details."
)
INVALID_TOKEN = "The security token included in the request is invalid."
MFA_INCOMPLETE = (
    "MultiFactorAuthentication failed, must provide both MFA serial number and one time pass code."
)
MFA_UNKNOWN_DEVICE = (
    "MultiFactorAuthentication failed, unable to validate MFA code. Please verify your MFA serial "
    "number is valid and associated with this user."
)
MFA_WRONG_CODE = "MultiFactorAuthentication failed with invalid MFA one time pass code."
FAULT_KINDS = {"throttle", "500", "503", "limit", "denied", "error", "hang", "close", "after"}
JSON_CONTENT_TYPE = "application/x-amz-json-1.1"
# An error of the query protocol (IAM, STS) as a JSON-protocol service (Secrets Manager) says
# it: its status and code there. AWS's JSON services answer a bad key, a bad signature, an
# expired token or a missing permission with 400 and these codes.
JSON_EQUIVALENT = {
    "InvalidClientTokenId": (400, "UnrecognizedClientException"),
    "SignatureDoesNotMatch": (400, "InvalidSignatureException"),
    "ExpiredToken": (400, "ExpiredTokenException"),
    "AccessDenied": (400, "AccessDeniedException"),
    "Throttling": (400, "ThrottlingException"),
    "ServiceFailure": (500, "InternalServiceError"),
    "ServiceUnavailable": (503, "ServiceUnavailable"),
    "LimitExceeded": (400, "LimitExceededException"),
}
# Headers of moto's answer that the proxy sets itself or that concern one connection only.
NOT_FORWARDED = {
    "server",
    "date",
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "te",
    "trailer",
    "upgrade",
    "content-length",
}


class State:
    def __init__(self, moto_url):
        self.moto_url = moto_url.rstrip("/")
        # Each proxy thread's keep-alive connection to moto (see `forward`).
        self.moto_conns = threading.local()
        self.lock = threading.Lock()
        self.started = time.time()
        self.seq = 0
        self.log = []
        self.keys = {}  # id -> {"status", "user", "created" (time or None)}
        # The proxy's own session credentials: ASIA id -> {"secret", "token", "expires" (time),
        # "key", "key_secret" (the long-term key K they stand for), "user", "serial"}.
        self.sessions = {}
        self.admin = None  # moto_admin.Admin once bootstrapped
        self.account_admins = {}  # account id -> moto_admin.Admin acting there through its role
        self.port = None
        self.reset_config()

    def reset_config(self):
        self.delay = 0.0
        self.reject_inactive = True
        self.hang_seconds = 30.0
        self.aws_error_shape = False
        self.faults = []
        self.mfa_devices = {}  # serial -> the code it shows now
        self.latency_ms = 0.0

    def config_json(self):
        return {
            "delay_new_key_seconds": self.delay,
            "reject_inactive": self.reject_inactive,
            "hang_seconds": self.hang_seconds,
            "aws_error_shape": self.aws_error_shape,
            "faults": [dict(f) for f in self.faults],
            "mfa_devices": dict(self.mfa_devices),
            "latency_ms": self.latency_ms,
        }

    def set_config(self, c):
        if "delay_new_key_seconds" in c:
            self.delay = float(c["delay_new_key_seconds"] or 0)
        if "reject_inactive" in c:
            self.reject_inactive = bool(c["reject_inactive"])
        if "hang_seconds" in c:
            self.hang_seconds = float(c["hang_seconds"])
        if "aws_error_shape" in c:
            self.aws_error_shape = bool(c["aws_error_shape"])
        if "faults" in c:
            self.faults = [check_rule(r) for r in (c["faults"] or [])]
        if "mfa_devices" in c:
            devices = c["mfa_devices"] or {}
            if not isinstance(devices, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in devices.items()
            ):
                raise ValueError(f"mfa_devices is a JSON object of serial: code, not {devices!r}")
            self.mfa_devices = dict(devices)
        if "latency_ms" in c:
            ms = float(c["latency_ms"] or 0)
            if not 0 <= ms <= 600_000:
                raise ValueError(f"latency_ms is 0..600000, not {ms}")
            self.latency_ms = ms

    def take_fault(self, action, key, role_arn=None):
        """The first live rule matching the request, its count taken (under the lock)."""
        for rule in self.faults:
            if rule["count"] == 0:
                continue
            if rule["action"] not in ("*", action):
                continue
            if rule.get("key") and rule["key"] != key:
                continue
            if rule.get("role_arn") and rule["role_arn"] != role_arn:
                continue
            if rule["count"] > 0:
                rule["count"] -= 1
            return dict(rule)
        return None

    # -- what the proxy knows of the keys ------------------------------------------------------
    def key_created(self, key_id, user, status, through_proxy):
        self.keys[key_id] = {
            "status": status or "Active",
            "user": user,
            "created": time.time() if through_proxy else None,
        }

    def key_status(self, key_id, status):
        k = self.keys.get(key_id)
        if k is None:
            self.keys[key_id] = {"status": status, "user": None, "created": None}
        else:
            k["status"] = status

    def key_deleted(self, key_id):
        k = self.keys.get(key_id)
        if k is not None:
            k["status"] = "Deleted"

    def lookup(self, key_id):
        """What the proxy knows of a key, asking moto's data.json once for an unknown one."""
        with self.lock:
            k = self.keys.get(key_id)
        if k is not None:
            return k
        if key_id.startswith("ASIA"):
            # A role session's key (moto's AssumeRole): data.json lists IAM users' keys only.
            return None
        for inst in self.moto_keys():
            if inst.get("access_key_id") == key_id:
                with self.lock:
                    k = self.keys.setdefault(
                        key_id,
                        {"status": inst.get("status"), "user": inst.get("user_name"), "created": None},
                    )
                return k
        return None

    def moto_keys(self):
        """Every access key moto has (deleted ones too), as /moto-api/data.json shows them."""
        try:
            conn = http.client.HTTPConnection(*hostport(self.moto_url), timeout=10)
            conn.request("GET", "/moto-api/data.json")
            data = json.loads(conn.getresponse().read())
            conn.close()
        except Exception:  # moto will decide
            return []
        return data.get("iam", {}).get("AccessKey", [])

    def moto_key(self, key_id):
        """moto's record of a key (with its secret and user), or None."""
        for inst in self.moto_keys():
            if inst.get("access_key_id") == key_id:
                return inst
        return None


def hostport(url):
    u = urllib.parse.urlsplit(url)
    return u.hostname, u.port or 80


def check_rule(r):
    if not isinstance(r, dict):
        raise ValueError(f"a fault rule is a JSON object, not {r!r}")
    kind = str(r.get("kind", ""))
    if kind not in FAULT_KINDS:
        raise ValueError(f"fault kind {kind!r}: expected one of {sorted(FAULT_KINDS)}")
    rule = {
        "action": r.get("action") or "*",
        "key": r.get("key"),
        "kind": kind,
        "count": int(r["count"]) if r.get("count") is not None else 1,
    }
    for extra in ("seconds", "status", "code", "message", "role_arn"):
        if r.get(extra) is not None:
            rule[extra] = r[extra]
    return rule


def error_xml(service, code, message, request_id, sender=True):
    ns = NAMESPACES.get(service, NAMESPACES["iam"])
    kind = "Sender" if sender else "Receiver"
    return (
        f'<ErrorResponse xmlns="{ns}">\n  <Error>\n    <Type>{kind}</Type>\n'
        f"    <Code>{code}</Code>\n    <Message>{xml_escape(message)}</Message>\n"
        f"  </Error>\n  <RequestId>{request_id}</RequestId>\n</ErrorResponse>\n"
    ).encode()


def xml_escape(s):
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# REST-JSON operations (SES v2), named by their method and path alone; their errors take the
# JSON shape.
REST_ACTIONS = {("POST", "/v2/email/outbound-emails"): "SendEmail"}


def sigv4_signature(secret, method, raw_path, headers, signed, payload_hash, amz_date, scope):
    """The SigV4 signature of a request. `headers`: (name, value) pairs as received; `signed`:
    the lowercase names to sign, in order; `scope`: DATE/REGION/SERVICE/aws4_request."""
    path, _, query = raw_path.partition("?")
    pairs = sorted(
        (urllib.parse.quote(k, safe="-_.~"), urllib.parse.quote(v, safe="-_.~"))
        for k, v in urllib.parse.parse_qsl(query, keep_blank_values=True)
    )
    canonical_headers = ""
    for name in signed:
        values = [" ".join(v.split()) for k, v in headers if k.lower() == name]
        canonical_headers += f"{name}:{','.join(values)}\n"
    canonical = "\n".join(
        [
            method,
            urllib.parse.quote(path or "/", safe="/~"),
            "&".join(f"{k}={v}" for k, v in pairs),
            canonical_headers,
            ";".join(signed),
            payload_hash,
        ]
    )
    to_sign = "\n".join(
        ["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()]
    )
    date, region, service, _ = scope.split("/")

    def h(k, m):
        return hmac.new(k, m.encode(), hashlib.sha256).digest()

    k = h(h(h(h(("AWS4" + secret).encode(), date), region), service), "aws4_request")
    return hmac.new(k, to_sign.encode(), hashlib.sha256).hexdigest()


def random_text(alphabet, n):
    return "".join(secrets.choice(alphabet) for _ in range(n))


def strip_ns(root):
    for el in root.iter():
        if isinstance(el.tag, str) and "}" in el.tag:
            el.tag = el.tag.split("}", 1)[1]
    return root


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: every answer has a Content-Length
    server_version = "iam-proxy"
    sys_version = ""
    state = None  # set in main()
    verbose = False
    json_protocol = False  # the request at hand's protocol (set per request in proxy())

    def log_message(self, format, *args):
        if self.verbose:
            sys.stderr.write("iam_proxy: " + (format % args) + "\n")

    def do_GET(self):
        self.dispatch()

    def do_POST(self):
        self.dispatch()

    def do_PUT(self):
        self.dispatch()

    def do_DELETE(self):
        self.dispatch()

    def do_HEAD(self):
        self.dispatch()

    # -- plumbing ------------------------------------------------------------------------------
    def read_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return None
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def complete_entry(self):
        """Time and close the request's log entry before its answer's first byte leaves: a client
        that reads the log as soon as it has its answer finds the entry done."""
        entry, st = getattr(self, "entry", None), self.state
        if entry is None:
            return
        with st.lock:
            if not entry["done"]:
                entry["ms"] = round((time.time() - entry["time"]) * 1000, 3)
                entry["done"] = True

    def answer(self, status, body, headers=()):
        self.complete_entry()
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self.wfile.flush()

    def answer_json(self, status, obj):
        self.answer(status, json.dumps(obj).encode(), [("Content-Type", "application/json")])

    def drop_connection(self):
        """Close the connection without a byte of answer."""
        self.complete_entry()
        self.close_connection = True
        try:
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def dispatch(self):
        try:
            if self.path.startswith("/__proxy/"):
                self.control()
            else:
                self.proxy()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    # -- the control API -----------------------------------------------------------------------
    def control(self):
        st = self.state
        body = self.read_body() or b""
        path, _, query = self.path.partition("?")
        route = (self.command, path[len("/__proxy/"):].rstrip("/"))
        try:
            arg = json.loads(body) if body.strip() else {}
        except ValueError as e:
            return self.answer_json(400, {"error": {"code": "BadJson", "message": str(e)}})
        try:
            if route == ("GET", "health"):
                return self.answer_json(200, {"ok": True, "moto": st.moto_url})
            if route == ("POST", "config"):
                with st.lock:
                    st.set_config(arg)
                    return self.answer_json(200, st.config_json())
            if route == ("GET", "config"):
                with st.lock:
                    return self.answer_json(200, st.config_json())
            if route == ("POST", "faults"):
                rules = [check_rule(r) for r in (arg if isinstance(arg, list) else [arg])]
                with st.lock:
                    st.faults.extend(rules)
                    return self.answer_json(200, st.config_json())
            if route == ("GET", "log"):
                since = int(urllib.parse.parse_qs(query).get("since", ["0"])[0])
                with st.lock:
                    return self.answer_json(200, [e for e in st.log if e["seq"] > since])
            if route == ("POST", "reset"):
                with st.lock:
                    st.log = []
                    st.reset_config()
                    return self.answer_json(200, st.config_json())
            if route == ("GET", "keys"):
                now = time.time()
                with st.lock:
                    out = {
                        k: {
                            "status": v["status"],
                            "user": v["user"],
                            "age": None if v["created"] is None else now - v["created"],
                        }
                        for k, v in st.keys.items()
                    }
                return self.answer_json(200, out)
            if route == ("GET", "sessions"):
                now = time.time()
                with st.lock:
                    out = {
                        sid: {
                            "key": v["key"],
                            "user": v["user"],
                            "serial": v["serial"],
                            "expires_in": v["expires"] - now,
                        }
                        for sid, v in st.sessions.items()
                    }
                return self.answer_json(200, out)
            if route == ("POST", "admin"):
                return self.admin(arg)
        except ValueError as e:
            return self.answer_json(400, {"error": {"code": "BadRequest", "message": str(e)}})
        return self.answer_json(404, {"error": {"code": "NotFound", "message": f"{route}"}})

    def admin(self, arg):
        st = self.state
        op = arg.get("op")
        a = st.admin
        try:
            if a is None and op not in ("get_caller_identity", "get_secret_value", "call",
                                        "signed_request"):
                raise ValueError("no admin: start the proxy with --bootstrap")
            url = f"http://127.0.0.1:{st.port}" if arg.get("via_proxy") else st.moto_url
            if arg.get("account") and a is not None:
                # The op, in another account of the organization, through its role (one
                # session per account: moto's never expire).
                with st.lock:
                    inner = st.account_admins.get(arg["account"])
                if inner is None:
                    inner = a.in_account(arg["account"])
                    with st.lock:
                        st.account_admins[arg["account"]] = inner
                a = inner
            if op == "create_user":
                out = a.create_user(arg["user"], arg.get("policy") or "iam-sts")
            elif op == "create_access_key":
                out = a.create_access_key(arg["user"])
                with st.lock:
                    st.key_created(out["id"], out["user"], out["status"], through_proxy=False)
            elif op == "list_access_keys":
                out = a.list_access_keys(arg["user"])
            elif op == "update_access_key":
                out = a.update_access_key(arg["id"], arg["status"], arg.get("user"))
                with st.lock:
                    st.key_status(arg["id"], arg["status"])
            elif op == "delete_access_key":
                out = a.delete_access_key(arg["id"], arg.get("user"))
                with st.lock:
                    st.key_deleted(arg["id"])
            elif op == "last_used":
                out = a.last_used(arg["id"])
            elif op == "get_caller_identity":
                out = moto_admin.get_caller_identity(url, arg["id"], arg["secret"])
            elif op == "call" and arg["service"] in moto_admin.JSON_TARGETS:
                status, headers, data = moto_admin.raw_json_call(
                    url, arg["service"], arg["action"], arg.get("params") or {},
                    arg["id"], arg["secret"], token=arg.get("token"),
                )
                out = {
                    "status": status,
                    "headers": [[k, v] for k, v in headers],
                    "body": data.decode("utf-8", "replace"),
                }
            elif op == "call":
                status, data = moto_admin.raw_call(
                    url, arg["service"], arg["action"], arg.get("params") or {},
                    arg["id"], arg["secret"], token=arg.get("token"),
                )
                out = {"status": status, "body": data.decode("utf-8", "replace")}
            elif op == "signed_request":
                out = moto_admin.signed_request(
                    st.port, arg["service"], arg["action"], arg.get("params") or {},
                    arg["id"], arg["secret"], token=arg.get("token"),
                )
            elif op == "admin_identity":
                out = {"id": a.key, "user": moto_admin.ADMIN_USER}
            elif op == "tag_user":
                out = a.tag_user(arg["user"], arg["key"], arg["value"])
            elif op == "create_group":
                out = a.create_group(arg["group"])
            elif op == "add_user_to_group":
                out = a.add_user_to_group(arg["user"], arg["group"])
            elif op == "put_user_policy":
                out = a.put_user_policy(arg["user"], arg["name"], arg["policy"])
            elif op == "put_group_policy":
                out = a.put_group_policy(arg["group"], arg["name"], arg["policy"])
            elif op == "list_secrets":
                out = a.list_secrets(arg.get("prefix"))
            elif op == "create_secret":
                out = a.create_secret(arg["name"], arg.get("value"), arg.get("description"))
            elif op == "delete_secret":
                out = a.delete_secret(arg["name"])
            elif op == "describe_secret":
                out = a.describe_secret(arg["name"])
            elif op == "get_resource_policy":
                out = a.get_resource_policy(arg["name"])
            elif op == "get_secret_value":
                out = moto_admin.get_secret_value(url, arg["name"], arg["id"], arg["secret"])
            elif op == "enable_auth":
                out = moto_admin.enable_auth(st.moto_url, 0)
            elif op == "organization":
                # moto's roles in the new accounts have no policies: auth goes off for good.
                moto_admin.enable_auth(st.moto_url, 10**9)
                out = a.organization(arg["names"])
            elif op == "users_with_keys":
                # Many users with a key each (of `status`), in one call: for benchmarks.
                out = []
                for n in arg["users"]:
                    a.create_user(n, "none")
                    k = a.create_access_key(n)
                    status = arg.get("status", "Active")
                    if status != "Active":
                        a.update_access_key(k["id"], status, n)
                    with st.lock:
                        st.key_created(k["id"], n, status, through_proxy=False)
                    out.append({"user": n, "id": k["id"]})
            elif op == "upload_ssh_public_key":
                root = a.iam("UploadSSHPublicKey", UserName=arg["user"],
                             SSHPublicKeyBody=arg["body"])
                out = {"id": root.findtext(".//SSHPublicKeyId")}
            elif op == "admin_secret_value":
                out = {"value": a.sm("GetSecretValue", SecretId=arg["name"]).get("SecretString")}
            elif op == "verify_email":
                # SES (v1's VerifyEmailIdentity: moto verifies at once) lets it send.
                moto_admin.call(url, "ses", "VerifyEmailIdentity",
                                {"EmailAddress": arg["address"]}, a.key, a.secret, token=a.token)
                out = {}
            elif op == "sent_mail":
                # Every mail SES took, as moto keeps them: {"source", "to", "subject", "body"}.
                conn = http.client.HTTPConnection(*hostport(st.moto_url), timeout=10)
                conn.request("GET", "/moto-api/data.json")
                data = json.loads(conn.getresponse().read())
                conn.close()
                out = [
                    {
                        "source": m.get("source"),
                        "to": (m.get("destinations") or {}).get("ToAddresses") or [],
                        "subject": m.get("subject"),
                        "body": m.get("body"),
                    }
                    for m in data.get("ses", {}).get("Message", [])
                ]
            elif op == "close_account":
                out = a.close_account(arg["account_id"])
            else:
                raise ValueError(f"unknown admin op {op!r}")
        except moto_admin.AwsError as e:
            return self.answer_json(400, {"error": e.to_json()})
        except KeyError as e:
            raise ValueError(f"admin op {op!r}: missing argument {e}")
        except (OSError, http.client.HTTPException) as e:
            return self.answer_json(502, {"error": {"code": "MotoUnreachable", "message": str(e)}})
        return self.answer_json(200, out)

    # -- the proxy -----------------------------------------------------------------------------
    def proxy(self):
        st = self.state
        t0 = time.time()
        body = self.read_body()
        if body is None:
            self.close_connection = True
            return self.answer(411, b"chunked request bodies are not supported\n")
        path, _, query = self.path.partition("?")
        params = urllib.parse.parse_qs(query)
        ctype = self.headers.get("Content-Type", "")
        if body and (
            "x-www-form-urlencoded" in ctype or (not ctype and body[:7] == b"Action=")
        ):
            try:
                params.update(urllib.parse.parse_qs(body.decode("utf-8"), keep_blank_values=True))
            except UnicodeDecodeError:
                pass

        def param(name):
            v = params.get(name)
            return v[0] if v else None

        # The JSON protocol (Secrets Manager): `X-Amz-Target: secretsmanager.GetSecretValue`, a
        # JSON body. Only names are read from it (SecretId, Name), never a value.
        target = self.headers.get("X-Amz-Target", "")
        self.json_protocol = bool(target) or "x-amz-json" in ctype
        doc = {}
        if self.json_protocol and body:
            try:
                doc = json.loads(body)
            except (ValueError, UnicodeDecodeError):
                doc = {}
            if not isinstance(doc, dict):
                doc = {}

        def name_in_body(name):
            v = doc.get(name)
            return v if isinstance(v, str) else None

        rest_action = REST_ACTIONS.get((self.command, path))
        self.json_protocol = self.json_protocol or rest_action is not None
        action = param("Action") or target.rpartition(".")[2] or rest_action
        m = CRED_RE.search(self.headers.get("Authorization", ""))
        key, service = (m.group(1), m.group(3)) if m else (None, None)
        if service is None and "." in target:
            service = target.partition(".")[0].lower() or None
        entry = {
            "method": self.command,
            "path": path,
            "service": service,
            "action": action,
            "key": key,
            "status": None,
            "intervened": None,
            "user_name": param("UserName"),
            "access_key_id": param("AccessKeyId"),
            "new_key_status": param("Status") if action == "UpdateAccessKey" else None,
            "new_key": None,
            "serial_number": param("SerialNumber") if action == "GetSessionToken" else None,
            "mfa": None,
            "session": None,
            "session_of": None,
            "group_name": param("GroupName"),
            "role_arn": param("RoleArn") if action == "AssumeRole" else None,
            "secret_id": name_in_body("SecretId") or name_in_body("Name"),
        }
        self.params = params
        request_id = str(uuid.uuid4())
        # Logged on arrival (a hanging request shows up at once, "done": false), completed in
        # place: every member exists from the start, so a concurrent dump sees a whole entry.
        entry.update({"ms": None, "done": False, "time": t0})
        with st.lock:
            st.seq += 1
            entry["seq"] = st.seq
            st.log.append(entry)
        self.entry = entry
        try:
            self.handle_request(entry, body, request_id)
        finally:
            self.complete_entry()
            self.entry = None

    def handle_request(self, entry, body, request_id):
        st = self.state
        action, key, service = entry["action"], entry["key"], entry["service"]
        with st.lock:
            latency = st.latency_ms
        if latency > 0:  # the round trip to AWS, whatever the answer
            time.sleep(latency / 1000)
        with st.lock:
            fault = st.take_fault(action, key, entry.get("role_arn"))
            hang_default = st.hang_seconds
        if fault is not None:
            kind = fault["kind"]
            entry["intervened"] = kind
            if kind == "close":
                return self.drop_connection()
            if kind == "hang":
                time.sleep(float(fault.get("seconds", hang_default)))
                return self.drop_connection()
            if kind != "after":
                status, code, message = self.fault_error(fault, entry)
                entry["status"] = status
                status, headers, data = self.error_answer(
                    service, status, code, message, request_id
                )
                return self.answer(status, data, headers)

        status, headers, data = self.respond(entry, body, request_id)
        if fault is not None:  # "after": it took effect; the client never hears of it
            return self.drop_connection()
        entry["status"] = status
        self.answer(status, data, headers)

    def respond(self, entry, body, request_id):
        """What AWS would answer: refused for an inactive or too new key, else moto's answer."""
        st = self.state
        key, service = entry["key"], entry["service"]
        with st.lock:
            session = st.sessions.get(key) if key else None
        if session is not None:
            return self.respond_session(entry, body, request_id, session)
        k = st.lookup(key) if key else None
        if k is not None:
            with st.lock:
                reject_inactive, delay = st.reject_inactive, st.delay
            why = None
            if reject_inactive and k["status"] == "Inactive":
                why = "inactive"
            elif delay > 0 and k["created"] is not None and time.time() - k["created"] < delay:
                why = "delay"
            if why:
                return self.refuse(
                    entry, request_id, why, 403, "InvalidClientTokenId", INVALID_TOKEN
                )
        status, headers, data = self.forward_to_moto(entry, body)
        if status == 200 and entry["action"] == "GetSessionToken" and service == "sts":
            # moto accepted K's signature: the session is the proxy's to make.
            return self.make_session(entry, request_id)
        return status, headers, data

    def forward_to_moto(self, entry, body, headers=None):
        """moto's answer (in AWS's shape if asked), the keys' lives learnt from it."""
        st = self.state
        try:
            status, out_headers, data = self.forward(body, headers)
        except (OSError, http.client.HTTPException) as e:
            entry["intervened"] = entry["intervened"] or "moto-unreachable"
            return 502, [("Content-Type", "text/plain")], f"iam_proxy: moto: {e}\n".encode()
        self.learn(entry, status, data)
        if status >= 400 and self.json_protocol:
            return self.json_shape(entry, status, out_headers, data, st.aws_error_shape)
        if st.aws_error_shape and status >= 400:
            data = self.aws_shape(entry["service"], data) or data
        return status, out_headers, data

    def json_shape(self, entry, status, headers, data, aws_error_shape):
        """moto's error answer to a JSON-protocol request as AWS gives it. moto answers a
        refused key, signature or permission in its query-protocol XML (403,
        `<ErrorResponse><Errors><Error>`), which no SDK reads for a JSON service: always
        translated (InvalidClientTokenId -> 400 UnrecognizedClientException, ...). Its own
        JSON errors keep their shape; with `aws_error_shape`, a 4xx one gets AWS's 400 (moto
        says 404 for ResourceNotFoundException) and AWS's content type."""
        if data.lstrip()[:1] == b"<":
            try:
                root = strip_ns(ET.fromstring(data))
            except ET.ParseError:
                return status, headers, data
            code = root.findtext(".//Error/Code")
            if not code:
                return status, headers, data
            message = root.findtext(".//Error/Message") or ""
            status, code = JSON_EQUIVALENT.get(code, (status, code))
            rid = next((v for k, v in headers if k.lower() == "x-amzn-requestid"), None)
            rid = rid or str(uuid.uuid4())
            return self.error_answer(entry["service"], status, code, message, rid)
        if aws_error_shape and 400 <= status < 500:
            status = 400
            headers = [(k, v) for k, v in headers if k.lower() != "content-type"]
            headers.append(("Content-Type", JSON_CONTENT_TYPE))
        return status, headers, data

    def refuse(self, entry, request_id, why, status, code, message):
        """An AWS error answer of the proxy's own, noted in the log entry as `why`; in the
        JSON protocol's terms for a JSON-protocol request (JSON_EQUIVALENT)."""
        entry["intervened"] = entry["intervened"] or why
        if self.json_protocol:
            status, code = JSON_EQUIVALENT.get(code, (status, code))
        return self.error_answer(entry["service"], status, code, message, request_id)

    def error_answer(self, service, status, code, message, request_id):
        """(status, headers, body): an AWS error in the shape of the request's protocol. JSON:
        {"__type": CODE, "message": ...} with x-amzn-ErrorType; else IAM's or STS's XML."""
        if self.json_protocol:
            body = json.dumps({"__type": code, "message": message}).encode()
            headers = [
                ("x-amzn-RequestId", request_id),
                ("x-amzn-ErrorType", code),
                ("Content-Type", JSON_CONTENT_TYPE),
            ]
            return status, headers, body
        body = error_xml(service, code, message, request_id, sender=status < 500)
        return status, self.error_headers(request_id), body

    def param(self, name):
        v = self.params.get(name)
        return v[0] if v else None

    def make_session(self, entry, request_id):
        """GetSessionToken as STS answers it, once moto has accepted K's signature: the MFA
        checks, then credentials of the proxy's own that stand for K."""
        st = self.state
        serial, code = self.param("SerialNumber"), self.param("TokenCode")
        with st.lock:
            devices = dict(st.mfa_devices)
        if serial is None and code is None:
            entry["mfa"] = "none"
        elif serial is None or code is None:
            entry["mfa"] = "incomplete"
            return self.refuse(entry, request_id, "bad-mfa", 403, "AccessDenied", MFA_INCOMPLETE)
        elif not re.fullmatch(r"[0-9]{6}", code):
            entry["mfa"] = "bad-format"
            return self.refuse(
                entry, request_id, "bad-mfa", 400, "ValidationError",
                f"1 validation error detected: Value '{code}' at 'tokenCode' failed to satisfy "
                "constraint: Member must satisfy regular expression pattern: [\\d]*",
            )
        elif not devices:
            entry["mfa"] = "unchecked"
        elif serial not in devices:
            entry["mfa"] = "unknown-device"
            return self.refuse(
                entry, request_id, "bad-mfa", 403, "AccessDenied", MFA_UNKNOWN_DEVICE
            )
        elif not hmac.compare_digest(code.encode(), devices[serial].encode()):
            entry["mfa"] = "wrong-code"
            return self.refuse(entry, request_id, "bad-mfa", 403, "AccessDenied", MFA_WRONG_CODE)
        else:
            entry["mfa"] = "ok"
        try:
            duration = int(self.param("DurationSeconds") or 43200)
        except ValueError:
            duration = -1
        if not 900 <= duration <= 129600:
            return self.refuse(
                entry, request_id, "bad-duration", 400, "ValidationError",
                f"1 validation error detected: Value '{self.param('DurationSeconds')}' at "
                "'durationSeconds' failed to satisfy constraint: Member must have value "
                "between 900 and 129600",
            )
        k = st.moto_key(entry["key"])
        if k is None or not k.get("secret_access_key"):
            entry["intervened"] = "moto-unreachable"
            return 502, [("Content-Type", "text/plain")], b"iam_proxy: no secret for the key\n"
        sid = "ASIA" + random_text(string.ascii_uppercase + string.digits, 16)
        secret = random_text(string.ascii_letters + string.digits + "/+", 40)
        token = "IQoJb3JpZ2luX2Vj" + base64.b64encode(secrets.token_bytes(300)).decode()
        expires = time.time() + duration
        with st.lock:
            st.sessions[sid] = {
                "secret": secret,
                "token": token,
                "expires": expires,
                "key": entry["key"],
                "key_secret": k["secret_access_key"],
                "user": k.get("user_name"),
                "serial": serial,
            }
        entry["session"] = sid
        entry["intervened"] = entry["intervened"] or "session"
        expiration = datetime.datetime.fromtimestamp(expires, datetime.timezone.utc)
        body = (
            f'<GetSessionTokenResponse xmlns="{NAMESPACES["sts"]}">\n'
            "  <GetSessionTokenResult>\n    <Credentials>\n"
            f"      <AccessKeyId>{sid}</AccessKeyId>\n"
            f"      <SecretAccessKey>{xml_escape(secret)}</SecretAccessKey>\n"
            f"      <SessionToken>{xml_escape(token)}</SessionToken>\n"
            f"      <Expiration>{expiration.strftime('%Y-%m-%dT%H:%M:%SZ')}</Expiration>\n"
            "    </Credentials>\n  </GetSessionTokenResult>\n"
            f"  <ResponseMetadata>\n    <RequestId>{request_id}</RequestId>\n"
            "  </ResponseMetadata>\n</GetSessionTokenResponse>\n"
        ).encode()
        return 200, self.error_headers(request_id), body

    def respond_session(self, entry, body, request_id, session):
        """A request signed by one of the proxy's sessions: checked as AWS checks it, then
        re-signed with the session's long-term key K and sent to moto."""
        entry["session_of"] = session["key"]
        token = self.headers.get("X-Amz-Security-Token")
        if token != session["token"]:
            return self.refuse(
                entry, request_id, "bad-token", 403, "InvalidClientTokenId", INVALID_TOKEN
            )
        if time.time() >= session["expires"]:
            return self.refuse(
                entry, request_id, "expired", 403, "ExpiredToken",
                "The security token included in the request is expired",
            )
        auth = AUTH_RE.match(self.headers.get("Authorization", ""))
        amz_date = self.headers.get("X-Amz-Date")
        if auth is None or amz_date is None:
            return self.refuse(
                entry, request_id, "bad-signature", 403, "SignatureDoesNotMatch",
                SIGNATURE_MISMATCH,
            )
        _, date, region, service, signed, signature = auth.groups()
        signed = signed.split(";")
        scope = f"{date}/{region}/{service}/aws4_request"
        payload_hash = self.headers.get("X-Amz-Content-SHA256") or hashlib.sha256(body).hexdigest()
        headers = list(self.headers.items())
        want = sigv4_signature(
            session["secret"], self.command, self.path, headers, signed, payload_hash,
            amz_date, scope,
        )
        if not hmac.compare_digest(want, signature):
            return self.refuse(
                entry, request_id, "bad-signature", 403, "SignatureDoesNotMatch",
                SIGNATURE_MISMATCH,
            )
        if entry["action"] == "GetSessionToken":
            return self.refuse(
                entry, request_id, "session-denied", 403, "AccessDenied",
                "Cannot call GetSessionToken with session credentials",
            )
        # The same request signed by K: same date and scope, the session token gone.
        signed = [n for n in signed if n != "x-amz-security-token"]
        headers = [
            (k, v) for k, v in headers
            if k.lower() not in ("authorization", "x-amz-security-token")
        ]
        resigned = sigv4_signature(
            session["key_secret"], self.command, self.path, headers, signed, payload_hash,
            amz_date, scope,
        )
        headers.append((
            "Authorization",
            f"AWS4-HMAC-SHA256 Credential={session['key']}/{scope}, "
            f"SignedHeaders={';'.join(signed)}, Signature={resigned}",
        ))
        entry["intervened"] = entry["intervened"] or "resigned"
        return self.forward_to_moto(entry, body, headers)

    def fault_error(self, fault, entry):
        """(status, code, message) of a fault that answers, in the request's protocol's terms
        (a JSON-protocol request gets JSON_EQUIVALENT's status and code)."""
        kind = fault["kind"]
        if kind == "error":
            return (
                int(fault.get("status", 400)),
                str(fault.get("code", "InjectedError")),
                str(fault.get("message", "injected by iam_proxy")),
            )
        status, code, message = self.query_fault_error(kind, entry)
        if self.json_protocol:
            # Secrets Manager's own words where IAM's would be out of place.
            message = {
                "ServiceFailure": "An error occurred on the server side.",
                "LimitExceeded": "The request failed because it would exceed one of the "
                "Secrets Manager quotas.",
            }.get(code, message)
            status, code = JSON_EQUIVALENT.get(code, (status, code))
        return status, code, message

    def query_fault_error(self, kind, entry):
        action = entry["action"] or "*"
        if kind == "throttle":
            return 400, "Throttling", "Rate exceeded"
        if kind == "500":
            return (
                500,
                "ServiceFailure",
                "The request processing has failed because of an unknown error, exception or failure.",
            )
        if kind == "503":
            return 503, "ServiceUnavailable", "Service is unable to handle request."
        if kind == "limit":
            return 409, "LimitExceeded", "Cannot exceed quota for AccessKeysPerUser: 2"
        # "denied"
        st = self.state
        with st.lock:
            k = dict(st.keys.get(entry["key"]) or {})
        who = k.get("user") or "unknown"
        svc = entry["service"] or "iam"
        if self.json_protocol:
            resource = entry["secret_id"] or "*"
        elif entry.get("role_arn"):
            resource = entry["role_arn"]
        else:
            resource = f"user {entry['user_name'] or who}"
        return (
            403,
            "AccessDenied",
            f"User: arn:aws:iam::{DEFAULT_ACCOUNT}:user/{who} is not authorized to perform: "
            f"{svc}:{action} on resource: {resource} because no identity-based policy "
            f"allows the {svc}:{action} action",
        )

    @staticmethod
    def error_headers(request_id):
        return [("x-amzn-RequestId", request_id), ("Content-Type", "text/xml")]

    def aws_shape(self, service, data):
        """moto's <ErrorResponse><Errors><Error>… as AWS answers it (no <Errors>, a namespace)."""
        try:
            root = strip_ns(ET.fromstring(data))
        except ET.ParseError:
            return None
        if root.tag != "ErrorResponse" or root.find("Errors") is None:
            return None
        err = root.find(".//Error")
        code = err.findtext("Code") or "Unknown"
        message = err.findtext("Message") or ""
        rid = root.findtext(".//RequestId") or str(uuid.uuid4())
        return error_xml(service, code, message, rid, sender=(err.findtext("Type") != "Receiver"))

    def forward(self, body, headers=None):
        """The request to moto, with its own headers or `headers` ((name, value) pairs), on
        this thread's keep-alive connection to moto: a new connection per request made moto
        (a thread per connection) and the proxy spend more on connecting than on answering,
        which capped the benchmarks' throughput. A connection moto closed while idle is seen
        before the request is sent (it reads as ready), and replaced: a request is never sent
        twice."""
        st = self.state
        local = st.moto_conns
        conn = getattr(local, "conn", None)
        if conn is not None and conn.sock is not None:
            ready, _, _ = select.select([conn.sock], [], [], 0)
            if ready:  # EOF (or stray bytes): moto closed it
                conn.close()
                conn = None
        if conn is None or conn.sock is None:
            conn = http.client.HTTPConnection(*hostport(st.moto_url), timeout=120)
            local.conn = conn
        try:
            conn.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
            for k, v in headers if headers is not None else self.headers.items():
                if k.lower() in ("transfer-encoding", "connection"):
                    continue
                conn.putheader(k, v)
            conn.endheaders(body if body else None)
            resp = conn.getresponse()
            data = resp.read()
            headers = [(k, v) for k, v in resp.getheaders() if k.lower() not in NOT_FORWARDED]
            if resp.will_close:
                conn.close()
                local.conn = None
            return resp.status, headers, data
        except BaseException:
            conn.close()
            local.conn = None
            raise

    def learn(self, entry, status, data):
        """Follow the keys' lives through the calls that change them."""
        st = self.state
        action = entry["action"]
        if status != 200 or action not in ("CreateAccessKey", "UpdateAccessKey", "DeleteAccessKey"):
            return
        with st.lock:
            if action == "CreateAccessKey":
                try:
                    root = strip_ns(ET.fromstring(data))
                except ET.ParseError:
                    return
                new = root.findtext(".//AccessKey/AccessKeyId")
                if new:
                    entry["new_key"] = new
                    st.key_created(
                        new,
                        root.findtext(".//AccessKey/UserName"),
                        root.findtext(".//AccessKey/Status"),
                        through_proxy=True,
                    )
            elif action == "UpdateAccessKey" and entry["access_key_id"]:
                st.key_status(entry["access_key_id"], entry["new_key_status"] or "Active")
            elif action == "DeleteAccessKey" and entry["access_key_id"]:
                st.key_deleted(entry["access_key_id"])


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256
    allow_reuse_address = True


def main(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("moto_url", help="moto_server's URL, e.g. http://127.0.0.1:5000")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--bootstrap", action="store_true",
                   help="create the admin user and key, then turn moto's authentication on")
    p.add_argument("--watch-stdin", action="store_true", help="exit when stdin closes")
    p.add_argument("--verbose", action="store_true")
    a = p.parse_args(argv)
    if a.watch_stdin:
        relay.exit_with_parent()
    state = State(a.moto_url)
    if a.bootstrap:
        boot = moto_admin.bootstrap(state.moto_url)
        state.admin = moto_admin.Admin(state.moto_url, boot["id"], boot["secret"])
        state.key_created(boot["id"], boot["user"], "Active", through_proxy=False)
    Handler.state = state
    Handler.verbose = a.verbose
    server = Server(("127.0.0.1", a.port), Handler)
    state.port = server.server_address[1]
    print(f"PORT {state.port}", flush=True)
    try:
        server.serve_forever(poll_interval=0.5)
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except Exception:
        traceback.print_exc()
        sys.exit(1)
