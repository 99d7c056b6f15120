"""Stands in for vLLM's OpenAI-compatible server in the kind end-to-end run (no GPU there).

Takes the arguments modelpins renders (`vllm serve DIR ...`, through bin/vllm), refuses to start
unless the model and tokenizer directories the init containers filled exist and are not empty,
and answers /health and /v1/models (with the model directory as each model's `root`).
"""

import argparse
import json
import os
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer

parser = argparse.ArgumentParser()
parser.add_argument("serve", nargs="?", help="`vllm serve MODEL_DIR ...` (the stand-in's bin/vllm)")
parser.add_argument("model_dir", nargs="?")
parser.add_argument("--model")
parser.add_argument("--tokenizer")
parser.add_argument("--served-model-name", nargs="+", default=[])
parser.add_argument("--port", type=int, default=8000)
parser.add_argument("--lora-modules", nargs="+", default=[])
args, _ = parser.parse_known_args()
args.model = args.model or args.model_dir

for what, path in (("model", args.model), ("tokenizer", args.tokenizer or args.model)):
    if not path or not os.path.isdir(path) or not os.listdir(path):
        sys.exit(f"{what} directory {path} is missing or empty")
names = args.served_model_name + [m.split("=", 1)[0] for m in args.lora_modules]


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/health":
            body = b""
        elif self.path == "/v1/models":
            # `root` is the model directory, as vLLM's model card gives it: it tells which track's pod answered
            data = [{"id": n, "object": "model", "root": args.model} for n in names]
            body = json.dumps({"object": "list", "data": data}).encode()
        else:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


HTTPServer(("0.0.0.0", args.port), Handler).serve_forever()  # noqa: S104 - a pod's port
