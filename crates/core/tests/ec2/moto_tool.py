#!/usr/bin/env python3
"""The independent side of the EC2 tests: boto3 (AWS's official SDK) seeds and
reads moto, makes out-of-band changes, creates IAM users, and a tiny proxy
injects EC2 throttling in front of moto. Output is JSON on stdout."""

import argparse
import json
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.request import Request, urlopen

import boto3
from botocore.config import Config

CFG = Config(retries={"max_attempts": 10, "mode": "standard"})


def ec2(endpoint, region, key=None, secret=None):
    return boto3.client(
        "ec2",
        endpoint_url=endpoint,
        region_name=region,
        aws_access_key_id=key or "testing",
        aws_secret_access_key=secret or "testing",
        config=CFG,
    )


def seed(args):
    """Launch one instance per reservation (moto pages by reservation)."""
    local = threading.local()

    def client():
        if not hasattr(local, "c"):
            local.c = ec2(args.endpoint, args.region)
        return local.c

    def launch(i):
        name = f"{args.prefix}-{args.region}-{i:05d}"
        r = client().run_instances(
            ImageId="ami-12c6146b",
            MinCount=1,
            MaxCount=1,
            InstanceType="t3.micro",
            TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": name}, {"Key": "team", "Value": ("alpha", "beta")[i % 2]}]}],
        )
        return r["Instances"][0]["InstanceId"]

    with ThreadPoolExecutor(max_workers=8) as pool:
        ids = list(pool.map(launch, range(args.count)))
    if args.stopped_every:
        to_stop = ids[:: args.stopped_every]
        c = ec2(args.endpoint, args.region)
        for i in range(0, len(to_stop), 500):
            c.stop_instances(InstanceIds=to_stop[i : i + 500])
    json.dump(ids, sys.stdout)


def describe(args):
    out = []
    for region in args.region:
        pages = ec2(args.endpoint, region).get_paginator("describe_instances").paginate()
        for page in pages:
            for res in page["Reservations"]:
                for i in res["Instances"]:
                    name = next((t["Value"] for t in i.get("Tags", []) if t["Key"] == "Name"), None)
                    tags = {t["Key"]: t["Value"] for t in i.get("Tags", []) if t["Key"] != "Name"}
                    out.append({"id": f"{region}:{i['InstanceId']}", "name": name, "state": i["State"]["Name"], "type": i["InstanceType"], "private_ip": i.get("PrivateIpAddress"), "tags": tags})
    json.dump(out, sys.stdout)


def stop(args):
    r = ec2(args.endpoint, args.region).stop_instances(InstanceIds=args.ids)
    json.dump([c["CurrentState"]["Name"] for c in r["StoppingInstances"]], sys.stdout)


def start(args):
    r = ec2(args.endpoint, args.region).start_instances(InstanceIds=args.ids)
    json.dump([c["CurrentState"]["Name"] for c in r["StartingInstances"]], sys.stdout)


def iam_user(args):
    """An IAM user allowed (or not) to use EC2, then switch moto's auth on."""
    iam = boto3.client("iam", endpoint_url=args.endpoint, region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing")
    iam.create_user(UserName=args.user)
    if args.allow_ec2:
        policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ec2:*", "Resource": "*"}]}
        iam.put_user_policy(UserName=args.user, PolicyName="ec2", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName=args.user)["AccessKey"]
    if args.enable_auth:
        body = b"0"  # moto's reset-auth takes the count of unauthenticated calls still allowed
        # Sent as text: a form body would be parsed away before moto reads it.
        urlopen(Request(f"{args.endpoint}/moto-api/reset-auth", data=body, method="POST", headers={"Content-Type": "text/plain"})).read()
    json.dump({"access_key_id": key["AccessKeyId"], "secret": key["SecretAccessKey"]}, sys.stdout)


def proxy(args):
    """Answer the first N EC2 calls with RequestLimitExceeded, forward the rest."""
    state = {"throttled": 0, "forwarded": 0}
    lock = threading.Lock()
    body503 = (
        b'<?xml version="1.0" encoding="UTF-8"?><Response><Errors><Error><Code>RequestLimitExceeded</Code>'
        b"<Message>Request limit exceeded.</Message></Error></Errors><RequestID>proxy</RequestID></Response>"
    )

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def do_GET(self):
            if self.path == "/__stats":
                data = json.dumps(state).encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                return
            self.send_error(404)

        def do_POST(self):
            length = int(self.headers.get("Content-Length", "0"))
            data = self.rfile.read(length)
            with lock:
                throttle = args.throttle_first < 0 or state["throttled"] < args.throttle_first
                state["throttled" if throttle else "forwarded"] += 1
            if throttle:
                self.send_response(503)
                self.send_header("Content-Type", "text/xml")
                self.send_header("Content-Length", str(len(body503)))
                self.end_headers()
                self.wfile.write(body503)
                return
            # Host is part of the signature: forward the headers untouched.
            headers = {k: v for k, v in self.headers.items() if k.lower() not in ("content-length", "connection")}
            req = Request(args.upstream + self.path, data=data, headers=headers, method="POST")
            try:
                resp = urlopen(req)
                status, body, ctype = resp.status, resp.read(), resp.headers.get("Content-Type", "text/xml")
            except Exception as e:  # HTTPError carries the upstream answer
                status, body, ctype = getattr(e, "code", 502), e.read() if hasattr(e, "read") else b"", "text/xml"
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(server.server_address[1], flush=True)
    server.serve_forever()


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("seed")
    s.add_argument("endpoint")
    s.add_argument("--region", required=True)
    s.add_argument("--count", type=int, required=True)
    s.add_argument("--prefix", default="vm")
    s.add_argument("--stopped-every", type=int, default=0)
    d = sub.add_parser("describe")
    d.add_argument("endpoint")
    d.add_argument("--region", action="append", required=True)
    st = sub.add_parser("stop")
    st.add_argument("endpoint")
    st.add_argument("--region", required=True)
    st.add_argument("ids", nargs="+")
    sa = sub.add_parser("start")
    sa.add_argument("endpoint")
    sa.add_argument("--region", required=True)
    sa.add_argument("ids", nargs="+")
    u = sub.add_parser("iam-user")
    u.add_argument("endpoint")
    u.add_argument("--user", required=True)
    u.add_argument("--allow-ec2", action="store_true")
    u.add_argument("--enable-auth", action="store_true")
    x = sub.add_parser("proxy")
    x.add_argument("--upstream", required=True)
    x.add_argument("--throttle-first", type=int, required=True, help="-1: throttle every call")
    args = p.parse_args()
    {"seed": seed, "describe": describe, "stop": stop, "start": start, "iam-user": iam_user, "proxy": proxy}[args.cmd](args)


if __name__ == "__main__":
    main()
