"""Receive MLflow registry webhooks and report drift at once when an alias is changed by hand.

    MODELPINS_WEBHOOK_SECRET=... python scripts/drift_webhook.py --pins model_pins.yaml \
        --tracking-uri http://mlflow:5000 --port 8765 --report drift.jsonl [--on-drift 'python notify.py']

Each signed `model_version_alias.created` / `.deleted` delivery is checked (signature,
timestamp, replay) and compared with the pins file for that model: one JSON line is
appended to --report and printed, the answer carries it, and when the model drifted
--on-drift runs (argv, no shell) with the report on stdin. Unsigned or invalid requests
get 401 and change nothing. See the README, "Registry webhooks".
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from modelpins import pins
from modelpins.errors import ModelPinsError
from modelpins.lifecycle import webhook
from modelpins.registry import MlflowRegistry

MAX_BODY = 1024 * 1024
REPORTING = threading.Lock()  # one report line and one --on-drift run at a time


def handler(args: argparse.Namespace, verifier: webhook.Verifier, registry: MlflowRegistry) -> type:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *a: object) -> None:
            pass

        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY:
                self.answer(413, {"error": "payload too large"})
                return
            body = self.rfile.read(length)
            reason = verifier.check(self.headers, body)
            if reason:
                print(f"refused delivery from {self.client_address[0]}: {reason}", file=sys.stderr, flush=True)
                self.answer(401, {"error": reason})
                return
            try:
                event = webhook.parse(body)
            except ValueError as exc:
                self.answer(400, {"error": f"malformed payload: {exc}"})
                return
            if event is None:
                self.answer(202, {"ignored": "not an alias event"})
                return
            try:
                result = process(args, registry, event)
            except ModelPinsError as exc:
                print(f"error: {exc}", file=sys.stderr, flush=True)
                self.answer(500, {"error": str(exc)})
                return
            self.answer(200, result)

        def answer(self, status: int, payload: dict[str, Any]) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler


def process(args: argparse.Namespace, registry: MlflowRegistry, event: webhook.AliasEvent) -> dict[str, Any]:
    p = pins.load_at(args.pins, args.ref) if args.ref else pins.load(args.pins)
    source = f"{args.pins}@{args.ref}" if args.ref else str(args.pins)
    if p is None:
        raise ModelPinsError(f"{args.pins} does not exist at {args.ref}")
    found = registry.call("GET", "registered-models/get", params={"name": event.model}, missing_ok=True)
    aliases = (found or {}).get("registered_model", {}).get("aliases", [])
    result = webhook.report(event, p, {a["alias"]: int(a["version"]) for a in aliases}, source)
    line = json.dumps(result, sort_keys=True)
    with REPORTING:
        print(line, flush=True)
        if args.report:
            with open(args.report, "a", encoding="utf-8") as fh:
                fh.write(line + "\n")
        if result["drift"] and args.on_drift:
            subprocess.run(shlex.split(args.on_drift), input=line, text=True, timeout=60, check=False)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pins", type=Path, default=Path("model_pins.yaml"))
    parser.add_argument("--ref", help="Compare with the pins file at this git ref (e.g. origin/main).")
    parser.add_argument("--tracking-uri", default=os.environ.get("MLFLOW_TRACKING_URI"))
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--report", type=Path, help="Append one JSON line per alias event to this file.")
    parser.add_argument("--on-drift", help="Command run (no shell) with the report on stdin when a model drifted.")
    args = parser.parse_args(argv)
    secret = os.environ.get("MODELPINS_WEBHOOK_SECRET", "")
    if not args.tracking_uri:
        parser.error("pass --tracking-uri or set MLFLOW_TRACKING_URI")
    try:
        verifier = webhook.Verifier(secret)
    except ValueError as exc:
        parser.error(f"{exc}: set MODELPINS_WEBHOOK_SECRET to the secret the webhook was registered with")
    server = ThreadingHTTPServer((args.host, args.port), handler(args, verifier, MlflowRegistry(args.tracking_uri)))
    print(f"listening on http://{args.host}:{server.server_address[1]}/", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
