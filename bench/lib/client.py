#!/usr/bin/env python3
"""The benchmark's HTTP client for setting up tokens (stdlib only).

  client.py post URL JSON FIELD
      POST JSON to URL and print FIELD of the JSON answer (fails unless 2xx).
  client.py sessions BASE SINK PREFIX COUNT OUT
      Sign COUNT phones PREFIX000000.. in at delivery (send-otp, code from
      the SMS sink, verify-otp) and write one line per session to OUT:
      the refresh token, a tab, the access token.
"""
import json
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor


def post(url, body):
    req = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"content-type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.load(r)
    except urllib.error.HTTPError as e:
        raise SystemExit(f"POST {url} -> {e.code}: {e.read().decode(errors='replace')}")


def code_for(sink, phone):
    url = f"{sink}/code?phone={urllib.parse.quote(phone)}"
    for _ in range(100):
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                return r.read().decode()
        except urllib.error.HTTPError as e:
            if e.code != 404:
                raise
        time.sleep(0.05)
    raise SystemExit(f"no code reached the SMS sink for {phone}")


def session(base, sink, phone):
    post(f"{base}/api/accounts/auth/send-otp/", {"phone_number": phone})
    answer = post(
        f"{base}/api/accounts/auth/verify-otp/",
        {"phone_number": phone, "otp": code_for(sink, phone)},
    )
    return answer["refresh_token"], answer["access_token"]


def main(argv):
    if len(argv) == 4 and argv[0] == "post":
        print(post(argv[1], json.loads(argv[2]))[argv[3]])
        return 0
    if len(argv) == 6 and argv[0] == "sessions":
        base, sink, prefix, count, out = argv[1:]
        phones = [f"{prefix}{i:06d}" for i in range(int(count))]
        with ThreadPoolExecutor(max_workers=8) as pool:
            pairs = list(pool.map(lambda p: session(base, sink, p), phones))
        with open(out, "w") as f:
            for refresh, access in pairs:
                f.write(f"{refresh}\t{access}\n")
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
