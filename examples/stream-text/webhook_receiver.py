"""A webhook receiver to watch a prediction stream: prints one line per webhook it is sent.

    python webhook_receiver.py [PORT]     # on 127.0.0.1; PORT from the argument, else $PORT, else 8000

Each webhook carries the whole prediction object; this prints its status and the text so far.
Standard library only.
"""

import json
import os
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer


class Receiver(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        prediction = json.loads(body)
        output = prediction.get("output") or []
        print(f"{prediction['status']:<10} tokens={len(output):<3} text={''.join(output)!r}", flush=True)
        self.send_response(200)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass  # one line per webhook is enough


if __name__ == "__main__":
    port = int(sys.argv[1] if len(sys.argv) > 1 else os.environ.get("PORT", "8000"))
    server = HTTPServer(("127.0.0.1", port), Receiver)
    print(f"receiving webhooks at http://127.0.0.1:{port}/", flush=True)  # once it can receive them
    server.serve_forever()
