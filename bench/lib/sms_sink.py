#!/usr/bin/env python3
"""A webhook SMS gateway for the benchmark (ACCOUNTD_SMS_PROVIDER=webhook).

POST {"to": "+E164", "message": "...123456..."} records the last code sent to
that phone; GET /code?phone=+E164 answers it (404 until one arrived). It binds
127.0.0.1 on a free port and prints `listening on http://ADDR` like accountd,
so the benchmark reads codes without parsing the server's log.
"""
import json
import re
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

CODES = {}
LOCK = threading.Lock()
DIGITS = re.compile(r"\b(\d{4,8})\b")


class Handler(BaseHTTPRequestHandler):
    def _answer(self, status, body=b""):
        self.send_response(status)
        self.send_header("content-type", "text/plain")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        length = int(self.headers.get("content-length") or 0)
        try:
            sms = json.loads(self.rfile.read(length) or b"{}")
            code = DIGITS.search(sms["message"]).group(1)
            with LOCK:
                CODES[sms["to"]] = code
        except (ValueError, KeyError, AttributeError, TypeError):
            self._answer(400, b"not an SMS with a code")
            return
        self._answer(200)

    def do_GET(self):
        phone = parse_qs(urlparse(self.path).query).get("phone", [""])[0]
        with LOCK:
            code = CODES.get(phone)
        if code is None:
            self._answer(404)
        else:
            self._answer(200, code.encode())

    def log_message(self, *args):
        pass


def main():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    host, port = server.server_address[:2]
    print(f"listening on http://{host}:{port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
