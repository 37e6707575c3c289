#!/usr/bin/env python3
"""Admin calls to a moto_server, signed with SigV4, Python stdlib only.

The end-to-end tests' view of IAM and Secrets Manager "from the side": create users, keys,
groups and secrets, look at them, change them, without going through the program under test
or the proxy's request log (or, with a user's key, act as that user).
iam_proxy.py imports this module and serves it on its control API (POST /__proxy/admin);
it also runs as a command for people (the README demo, debugging):

    moto_admin.py --endpoint URL [--key AKID --secret SECRET] OP [ARGS...]
    moto_admin.py --endpoint URL bootstrap            # before auth is on: prints the admin key

Every command prints one JSON document on stdout; an AWS error exits 1 with
{"error": {"status": ..., "code": ..., "message": ...}}.

Facts about moto 5.x that this relies on (checked against moto 5.2.5):
- Authentication is off until `POST /moto-api/reset-auth` with a plain number as the body
  (not a form: werkzeug would swallow a form body and moto would see ""): N more requests
  go unauthenticated, then every request must be signed by an existing IAM user's access key
  with the right secret, and the user's policies must allow the action (GetCallerIdentity is
  always allowed). There is no root identity once auth is on: `bootstrap` creates the user
  `moto-admin` with an allow-all inline policy and a key BEFORE turning auth on.
- moto accepts inactive keys and has no propagation delay (the proxy adds both).
- Auth covers Secrets Manager too, with identity policies only (user, group): a resource
  policy is stored (GetResourcePolicy gives it back) but never consulted, so a user reads a
  secret only if its own policies allow secretsmanager:GetSecretValue (on "*": moto checks
  Secrets Manager actions against the resource "*"). Refusals come in moto's XML, 403, even
  for this JSON-protocol service (the proxy translates them).
- Secrets Manager: the ListSecrets `name` filter is a case-sensitive prefix match (and
  `description` a word match); CreateSecret without SecretString makes no version
  (GetSecretValue: 404 ResourceNotFoundException "... for staging label: AWSCURRENT");
  UpdateSecret with SecretString and Description changes both (a new AWSCURRENT version, the
  old one AWSPREVIOUS) but an empty Description keeps the old one; UpdateSecret without a
  ClientRequestToken fails with ResourceExistsException (the SDKs always send one: so do
  these calls); moto's errors are JSON with 404 where AWS says 400; a forced DeleteSecret
  frees the name at once; DescribeSecret's LastAccessedDate is always null.
"""

import datetime
import hashlib
import hmac
import http.client
import json
import sys
import urllib.parse
import uuid
import xml.etree.ElementTree as ET

REGION = "us-east-1"
ADMIN_USER = "moto-admin"
ALLOW_ALL = json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
)
# What a user may do by default in the tests: everything with IAM and STS (its own keys and,
# for admin mode, other users' keys).
IAM_STS_ALL = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": ["iam:*", "sts:*"], "Resource": "*"}],
    }
)
VERSIONS = {"iam": "2010-05-08", "sts": "2011-06-15", "ses": "2010-12-01"}
FORM = "application/x-www-form-urlencoded; charset=utf-8"
# The JSON-protocol services: the X-Amz-Target prefix of each.
JSON_TARGETS = {"secretsmanager": "secretsmanager", "organizations": "AWSOrganizationsV20161128"}
JSON_CONTENT_TYPE = "application/x-amz-json-1.1"


class AwsError(Exception):
    def __init__(self, status, code, message, body=""):
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.body = body

    def to_json(self):
        return {"status": self.status, "code": self.code, "message": self.message}


def _strip_ns(root):
    for el in root.iter():
        if isinstance(el.tag, str) and "}" in el.tag:
            el.tag = el.tag.split("}", 1)[1]
    return root


def sign(
    method, host, path, body, key, secret, service, region=REGION, now=None, token=None,
    content_type=FORM, extra=None,
):
    """SigV4 headers for a request with a form body (the query protocol), or another
    `content_type` (the JSON protocol); `extra`: more headers to send and sign (lowercase names,
    e.g. x-amz-target); `token`: a session token, sent and signed as X-Amz-Security-Token."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    amz_date = now.strftime("%Y%m%dT%H%M%SZ")
    date = now.strftime("%Y%m%d")
    payload_hash = hashlib.sha256(body).hexdigest()
    headers = {
        "content-type": content_type,
        "host": host,
        "x-amz-date": amz_date,
    }
    headers.update(extra or {})
    if token is not None:
        headers["x-amz-security-token"] = token
    signed = sorted(headers)
    canonical = "\n".join(
        [
            method,
            path,
            "",
            "".join(f"{h}:{headers[h]}\n" for h in signed),
            ";".join(signed),
            payload_hash,
        ]
    )
    scope = f"{date}/{region}/{service}/aws4_request"
    to_sign = "\n".join(
        ["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()]
    )

    def h(k, m):
        return hmac.new(k, m.encode(), hashlib.sha256).digest()

    k = h(h(h(h(("AWS4" + secret).encode(), date), region), service), "aws4_request")
    signature = hmac.new(k, to_sign.encode(), hashlib.sha256).hexdigest()
    headers["authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={key}/{scope}, "
        f"SignedHeaders={';'.join(signed)}, Signature={signature}"
    )
    return headers


def raw_call(endpoint, service, action, params, key=None, secret=None, timeout=30, token=None):
    """One query-protocol call; returns the HTTP status and the body (bytes)."""
    u = urllib.parse.urlsplit(endpoint)
    form = {"Action": action, "Version": VERSIONS[service]}
    form.update({k: v for k, v in params.items() if v is not None})
    body = urllib.parse.urlencode(form).encode()
    if key:
        headers = sign("POST", u.netloc, "/", body, key, secret, service, token=token)
    else:
        # Unsigned: only for bootstrap, while moto's auth is still off. moto routes by the
        # credential scope, so sign with a dummy key all the same.
        headers = sign("POST", u.netloc, "/", body, "AKIAIOSFODNN7EXAMPLE", "x" * 40, service)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)
    try:
        conn.request("POST", "/", body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
    finally:
        conn.close()
    return resp.status, data


def call(endpoint, service, action, params, key=None, secret=None, timeout=30, token=None):
    """One query-protocol call; returns the response's XML root (namespaces stripped)."""
    status, data = raw_call(endpoint, service, action, params, key, secret, timeout, token)
    try:
        root = _strip_ns(ET.fromstring(data))
    except ET.ParseError:
        raise AwsError(status, None, data[:300].decode("utf-8", "replace"), data)
    if status >= 300:
        code = root.findtext(".//Error/Code")
        message = root.findtext(".//Error/Message")
        raise AwsError(status, code, message, data.decode("utf-8", "replace"))
    return root


def prepare_json(host, service, action, payload, key, secret, token=None, target=None):
    """The signed headers and the body of a JSON-protocol request to `host` (host:port)."""
    body = json.dumps(payload).encode()
    target = target or f"{JSON_TARGETS[service]}.{action}"
    headers = sign(
        "POST", host, "/", body, key, secret, service, token=token,
        content_type=JSON_CONTENT_TYPE, extra={"x-amz-target": target},
    )
    return headers, body


def signed_request(port, service, action, params, key, secret, token=None):
    """A signed request to 127.0.0.1:`port`, not sent: {"method", "path", "headers" ([name,
    value] pairs), "body"} (JSON protocol for Secrets Manager, a form for IAM and STS). A test
    can send it as often as it likes (moto does not look at the date): e.g. many clients on
    keep-alive connections."""
    host = f"127.0.0.1:{port}"
    if service in JSON_TARGETS:
        headers, body = prepare_json(host, service, action, params, key, secret, token)
    else:
        form = {"Action": action, "Version": VERSIONS[service]}
        form.update({k: v for k, v in params.items() if v is not None})
        body = urllib.parse.urlencode(form).encode()
        headers = sign("POST", host, "/", body, key, secret, service, token=token)
    return {
        "method": "POST",
        "path": "/",
        "headers": [[k, v] for k, v in headers.items()],
        "body": body.decode(),
    }


def raw_json_call(
    endpoint, service, action, payload, key, secret, timeout=30, token=None, target=None
):
    """One JSON-protocol call (e.g. Secrets Manager): POST / with X-Amz-Target
    `PREFIX.Action`, signed; returns the HTTP status, the answer's headers ((name, value)
    pairs) and its body (bytes)."""
    u = urllib.parse.urlsplit(endpoint)
    headers, body = prepare_json(u.netloc, service, action, payload, key, secret, token, target)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)
    try:
        conn.request("POST", "/", body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
    finally:
        conn.close()
    return resp.status, resp.getheaders(), data


def json_error(status, headers, data):
    """The AwsError of a JSON-protocol error answer: the code from `__type` (after any `#`),
    else from x-amzn-ErrorType (before any `:`)."""
    try:
        j = json.loads(data)
    except ValueError:
        j = None
    if not isinstance(j, dict):
        return AwsError(status, None, data[:300].decode("utf-8", "replace"), data)
    code = j.get("__type") or j.get("code") or ""
    if not code:
        code = next((v for k, v in headers if k.lower() == "x-amzn-errortype"), "")
        code = code.split(":", 1)[0]
    code = code.rsplit("#", 1)[-1] or None
    message = j.get("message") or j.get("Message") or ""
    return AwsError(status, code, message, data.decode("utf-8", "replace"))


def json_call(endpoint, service, action, payload, key, secret, timeout=30, token=None):
    """One JSON-protocol call; returns the answer's JSON object, or raises AwsError."""
    status, headers, data = raw_json_call(
        endpoint, service, action, payload, key, secret, timeout, token
    )
    if status >= 300:
        raise json_error(status, headers, data)
    try:
        return json.loads(data) if data.strip() else {}
    except ValueError:
        raise AwsError(status, None, data[:300].decode("utf-8", "replace"), data)


class Admin:
    """Admin calls with the bootstrap admin's key (or any key given)."""

    def __init__(self, endpoint, key, secret, token=None):
        self.endpoint = endpoint
        self.key = key
        self.secret = secret
        self.token = token

    def iam(self, action, **params):
        return call(self.endpoint, "iam", action, params, self.key, self.secret, token=self.token)

    # -- organizations (moto's auth must be off: its assumed roles have no policies) ----------
    def organization(self, names):
        """An organization with the caller's account as its management account, and one new
        account per name: {"management": ID, "accounts": [{"name", "id"}...]}."""
        org = json_call(self.endpoint, "organizations", "CreateOrganization",
                        {"FeatureSet": "ALL"}, self.key, self.secret)
        out = []
        for n in names:
            a = json_call(self.endpoint, "organizations", "CreateAccount",
                          {"Email": f"{n}@example.com", "AccountName": n}, self.key, self.secret)
            out.append({"name": n, "id": a["CreateAccountStatus"]["AccountId"]})
        return {"management": org["Organization"]["MasterAccountId"], "accounts": out}

    def close_account(self, account):
        json_call(self.endpoint, "organizations", "CloseAccount", {"AccountId": account},
                  self.key, self.secret)
        return {"id": account}

    def in_account(self, account, role="OrganizationAccountAccessRole"):
        """An Admin acting in `account` through its role."""
        root = call(self.endpoint, "sts", "AssumeRole",
                    {"RoleArn": f"arn:aws:iam::{account}:role/{role}",
                     "RoleSessionName": "test-setup"}, self.key, self.secret)
        c = root.find(".//Credentials")
        return Admin(self.endpoint, c.findtext("AccessKeyId"), c.findtext("SecretAccessKey"),
                     c.findtext("SessionToken"))

    def create_user(self, user, policy="iam-sts"):
        """policy: "iam-sts" (iam:* and sts:*), "all", "none", or a policy document (JSON)."""
        root = self.iam("CreateUser", UserName=user)
        doc = {"iam-sts": IAM_STS_ALL, "all": ALLOW_ALL, "none": None}.get(policy, policy)
        if doc:
            self.iam("PutUserPolicy", UserName=user, PolicyName="test-policy", PolicyDocument=doc)
        return {"user": user, "arn": root.findtext(".//User/Arn")}

    def create_access_key(self, user):
        root = self.iam("CreateAccessKey", UserName=user)
        k = root.find(".//AccessKey")
        return {
            "id": k.findtext("AccessKeyId"),
            "secret": k.findtext("SecretAccessKey"),
            "status": k.findtext("Status"),
            "user": k.findtext("UserName"),
        }

    def list_access_keys(self, user):
        root = self.iam("ListAccessKeys", UserName=user)
        return [
            {
                "id": m.findtext("AccessKeyId"),
                "status": m.findtext("Status"),
                "created": m.findtext("CreateDate"),
                "user": m.findtext("UserName"),
            }
            for m in root.iter("member")
        ]

    def update_access_key(self, id, status, user=None):
        self.iam("UpdateAccessKey", AccessKeyId=id, Status=status, UserName=user)
        return {"id": id, "status": status}

    def delete_access_key(self, id, user=None):
        self.iam("DeleteAccessKey", AccessKeyId=id, UserName=user)
        return {"id": id}

    def last_used(self, id):
        root = self.iam("GetAccessKeyLastUsed", AccessKeyId=id)
        return {
            "id": id,
            "user": root.findtext(".//UserName"),
            "last_used": root.findtext(".//AccessKeyLastUsed/LastUsedDate"),
            "service": root.findtext(".//AccessKeyLastUsed/ServiceName"),
        }


    # -- fleet: tags, groups, policies --------------------------------------------------------
    def tag_user(self, user, key, value):
        tag = {"Tags.member.1.Key": key, "Tags.member.1.Value": value}
        self.iam("TagUser", UserName=user, **tag)
        return {"user": user, "key": key, "value": value}

    def create_group(self, group):
        root = self.iam("CreateGroup", GroupName=group)
        return {"group": group, "arn": root.findtext(".//Group/Arn")}

    def add_user_to_group(self, user, group):
        self.iam("AddUserToGroup", UserName=user, GroupName=group)
        return {"user": user, "group": group}

    def put_user_policy(self, user, name, policy):
        """An inline policy (a JSON document, as text) on a user; replaces one of that name."""
        self.iam("PutUserPolicy", UserName=user, PolicyName=name, PolicyDocument=policy)
        return {"user": user, "name": name}

    def put_group_policy(self, group, name, policy):
        """An inline policy on a group: moto counts it for every member."""
        self.iam("PutGroupPolicy", GroupName=group, PolicyName=name, PolicyDocument=policy)
        return {"group": group, "name": name}

    # -- fleet: Secrets Manager (names and metadata; a value only from get_secret_value) -------
    def sm(self, action, **payload):
        return json_call(self.endpoint, "secretsmanager", action, payload, self.key, self.secret,
                         token=self.token)

    def list_secrets(self, prefix=None):
        """Every secret (or those whose name starts with `prefix`: the `name` filter, a
        case-sensitive prefix match in moto 5.2.5), as {"name", "description"}, every page."""
        out, token = [], None
        while True:
            payload = {"MaxResults": 100}
            if prefix:
                payload["Filters"] = [{"Key": "name", "Values": [prefix]}]
            if token:
                payload["NextToken"] = token
            j = self.sm("ListSecrets", **payload)
            out += [
                {"name": s.get("Name"), "description": s.get("Description")}
                for s in j.get("SecretList") or []
            ]
            token = j.get("NextToken")
            if not token:
                return out

    def create_secret(self, name, value=None, description=None):
        """CreateSecret; without `value` moto makes no version (GetSecretValue then fails)."""
        # As the SDKs do (an idempotency token): moto's answer to a name in use is then AWS's.
        payload = {"Name": name, "ClientRequestToken": str(uuid.uuid4())}
        if value is not None:
            payload["SecretString"] = value
        if description is not None:
            payload["Description"] = description
        j = self.sm("CreateSecret", **payload)
        return {"name": j.get("Name"), "arn": j.get("ARN"), "version_id": j.get("VersionId")}

    def delete_secret(self, name):
        """DeleteSecret with ForceDeleteWithoutRecovery: gone at once."""
        j = self.sm("DeleteSecret", SecretId=name, ForceDeleteWithoutRecovery=True)
        return {"name": j.get("Name"), "arn": j.get("ARN")}

    def describe_secret(self, name):
        """DescribeSecret's answer as moto gives it (metadata only: no value in it)."""
        return self.sm("DescribeSecret", SecretId=name)

    def get_resource_policy(self, name):
        j = self.sm("GetResourcePolicy", SecretId=name)
        return {"name": j.get("Name"), "arn": j.get("ARN"), "policy": j.get("ResourcePolicy")}


def get_secret_value(endpoint, name, key, secret):
    """GetSecretValue signed by `key` (e.g. a fleet user reading what was left for it)."""
    j = json_call(endpoint, "secretsmanager", "GetSecretValue", {"SecretId": name}, key, secret)
    return {"name": j.get("Name"), "value": j.get("SecretString"), "version_id": j.get("VersionId")}


def get_caller_identity(endpoint, key, secret):
    root = call(endpoint, "sts", "GetCallerIdentity", {}, key, secret)
    return {
        "account": root.findtext(".//Account"),
        "arn": root.findtext(".//Arn"),
        "user_id": root.findtext(".//UserId"),
    }


def enable_auth(endpoint, unauthenticated=0):
    """POST /moto-api/reset-auth with a plain-number body (not a form)."""
    u = urllib.parse.urlsplit(endpoint)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    try:
        conn.request(
            "POST",
            "/moto-api/reset-auth",
            body=str(unauthenticated).encode(),
            headers={"Content-Type": "text/plain"},
        )
        resp = conn.getresponse()
        data = resp.read()
    finally:
        conn.close()
    if resp.status != 200:
        raise AwsError(resp.status, "ResetAuthFailed", data.decode("utf-8", "replace"))
    return json.loads(data)


def bootstrap(endpoint):
    """Create the admin user and key while auth is off, turn auth on, and prove it is on."""
    call(endpoint, "iam", "CreateUser", {"UserName": ADMIN_USER})
    call(
        endpoint,
        "iam",
        "PutUserPolicy",
        {"UserName": ADMIN_USER, "PolicyName": "allow-all", "PolicyDocument": ALLOW_ALL},
    )
    root = call(endpoint, "iam", "CreateAccessKey", {"UserName": ADMIN_USER})
    key = root.findtext(".//AccessKey/AccessKeyId")
    secret = root.findtext(".//AccessKey/SecretAccessKey")
    enable_auth(endpoint, 0)
    # Auth is on only if a wrong secret is refused and the right one works.
    try:
        get_caller_identity(endpoint, key, "0" * 40)
    except AwsError as e:
        if e.status != 403:
            raise
    else:
        raise RuntimeError("moto accepted a wrong secret after reset-auth: auth is not enforced")
    me = get_caller_identity(endpoint, key, secret)
    return {"id": key, "secret": secret, "user": ADMIN_USER, "arn": me["arn"]}


def main(argv):
    import argparse

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--endpoint", required=True, help="moto's URL, e.g. http://127.0.0.1:5000")
    p.add_argument("--key", help="the admin's access key id (from bootstrap)")
    p.add_argument("--secret", help="the admin's secret access key")
    p.add_argument("op", help="bootstrap | create-user | create-access-key | list-access-keys | "
                   "update-access-key | delete-access-key | last-used | get-caller-identity | "
                   "tag-user | create-group | add-user-to-group | put-user-policy | "
                   "list-secrets | create-secret | delete-secret | describe-secret | "
                   "get-resource-policy | get-secret-value")
    p.add_argument("args", nargs="*")
    a = p.parse_args(argv)
    admin = Admin(a.endpoint, a.key, a.secret)
    ops = {
        "bootstrap": lambda: bootstrap(a.endpoint),
        "create-user": lambda user, policy="iam-sts": admin.create_user(user, policy),
        "create-access-key": admin.create_access_key,
        "list-access-keys": admin.list_access_keys,
        "update-access-key": lambda id, status, user=None: admin.update_access_key(id, status, user),
        "delete-access-key": lambda id, user=None: admin.delete_access_key(id, user),
        "last-used": admin.last_used,
        "get-caller-identity": lambda key, secret: get_caller_identity(a.endpoint, key, secret),
        "tag-user": admin.tag_user,
        "create-group": admin.create_group,
        "add-user-to-group": admin.add_user_to_group,
        "put-user-policy": admin.put_user_policy,
        "list-secrets": admin.list_secrets,
        "create-secret": admin.create_secret,
        "delete-secret": admin.delete_secret,
        "describe-secret": admin.describe_secret,
        "get-resource-policy": admin.get_resource_policy,
        "get-secret-value": lambda name, key, secret: get_secret_value(
            a.endpoint, name, key, secret
        ),
    }
    try:
        out = ops[a.op](*a.args)
    except AwsError as e:
        print(json.dumps({"error": e.to_json()}))
        return 1
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
