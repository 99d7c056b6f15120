"""Stands in for vLLM's OpenAI-compatible server in the kind end-to-end run (no GPU there).

Takes the arguments modelpins renders, refuses to start unless the model directory the init
containers filled exists and is not empty, and answers /health and /v1/models.
"""

import argparse
import json
import os
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer

parser = argparse.ArgumentParser()
parser.add_argument("--model", required=True)
parser.add_argument("--served-model-name", nargs="+", default=[])
parser.add_argument("--port", type=int, default=8000)
parser.add_argument("--lora-modules", nargs="+", default=[])
args, _ = parser.parse_known_args()

if not os.path.isdir(args.model) or not os.listdir(args.model):
    sys.exit(f"model directory {args.model} is missing or empty")
names = args.served_model_name + [m.split("=", 1)[0] for m in args.lora_modules]


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/health":
            body = b""
        elif self.path == "/v1/models":
            body = json.dumps({"object": "list", "data": [{"id": n, "object": "model"} for n in names]}).encode()
        else:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


HTTPServer(("0.0.0.0", args.port), Handler).serve_forever()  # noqa: S104 - a pod's port
