"""A tiny SMS gateway for the schemathesis run: accountd's webhook provider
POSTs {"to": "+E164", "message": "..."} here; each message is appended to
the file named on the command line as one JSON line, and answered 204.
Binds 127.0.0.1 on a free port and prints "listening on PORT"."""

import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Receiver(BaseHTTPRequestHandler):
    def do_POST(self):
        length = int(self.headers.get("content-length", "0"))
        message = json.loads(self.rfile.read(length))
        with open(sys.argv[1], "a", encoding="utf-8") as out:
            out.write(json.dumps(message) + "\n")
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
print(f"listening on {server.server_address[1]}", flush=True)
server.serve_forever()
