#!/usr/bin/python3
"""A chat tool's webhook, for test_webhook.sh: takes POSTs on 127.0.0.1:PORT,
checks X-Aioctl-Signature (sha256=HMAC-SHA256(secret, body)), refuses the
first REFUSE requests with 503, and appends each body it takes to OUT as
one line. A bad or missing signature is refused (401) and logged."""
import hashlib
import hmac
import http.server
import sys

port, secret_file, out, refuse = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
secret = open(secret_file, "rb").read().splitlines()[0]
seen = 0


class Hook(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        global seen
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        seen += 1
        want = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(self.headers.get("X-Aioctl-Signature", ""), want):
            print("bad signature", flush=True)
            self.send_response(401)
        elif seen <= refuse:
            print("refused", seen, flush=True)
            self.send_response(503)
        else:
            with open(out, "ab") as f:
                f.write(body + b"\n")
            self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


http.server.HTTPServer(("127.0.0.1", port), Hook).serve_forever()
