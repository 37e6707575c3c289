#!/usr/bin/env python3
"""Admin calls to a moto_server, signed with SigV4, Python stdlib only.

The end-to-end tests' view of IAM "from the side": create users and keys, look at them,
change them, without going through the program under test or the proxy's request log.
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
"""

import datetime
import hashlib
import hmac
import http.client
import json
import sys
import urllib.parse
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
VERSIONS = {"iam": "2010-05-08", "sts": "2011-06-15"}


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


def sign(method, host, path, body, key, secret, service, region=REGION, now=None, token=None):
    """SigV4 headers for a request with a form body (the query protocol); `token`: a session
    token, sent and signed as X-Amz-Security-Token."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    amz_date = now.strftime("%Y%m%dT%H%M%SZ")
    date = now.strftime("%Y%m%d")
    payload_hash = hashlib.sha256(body).hexdigest()
    headers = {
        "content-type": "application/x-www-form-urlencoded; charset=utf-8",
        "host": host,
        "x-amz-date": amz_date,
    }
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


def call(endpoint, service, action, params, key=None, secret=None, timeout=30):
    """One query-protocol call; returns the response's XML root (namespaces stripped)."""
    status, data = raw_call(endpoint, service, action, params, key, secret, timeout)
    try:
        root = _strip_ns(ET.fromstring(data))
    except ET.ParseError:
        raise AwsError(status, None, data[:300].decode("utf-8", "replace"), data)
    if status >= 300:
        code = root.findtext(".//Error/Code")
        message = root.findtext(".//Error/Message")
        raise AwsError(status, code, message, data.decode("utf-8", "replace"))
    return root


class Admin:
    """Admin calls with the bootstrap admin's key (or any key given)."""

    def __init__(self, endpoint, key, secret):
        self.endpoint = endpoint
        self.key = key
        self.secret = secret

    def iam(self, action, **params):
        return call(self.endpoint, "iam", action, params, self.key, self.secret)

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
                   "update-access-key | delete-access-key | last-used | get-caller-identity")
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
