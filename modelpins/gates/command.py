"""Custom gates: a command that reads the candidate on stdin as JSON and prints its verdict as JSON.

Contract (documented in the README):
- argv from `run`, no shell; relative paths resolve against the pins file's directory
  (the working directory); `python`/`python3` as the program mean the interpreter running
  modelpins, so the script sees the same packages.
- stdin: {"model", "version", "alias", "previous_version", "run_id", "metrics", "params",
  "tags", "source", "tracking_uri", "commit", "gate": {name, kind, min, max}}.
- stdout: {"passed": bool, "value": number|null, "threshold": number|string|null,
  "detail": string}; the object may follow log lines, as the last line. It is read as
  strictly as the pins file: a key given twice, NaN or Infinity, or a known key of the
  wrong type fails the gate, saying which.
- exit status other than 0, no or malformed JSON, or running past `timeout` seconds
  is an error: the gate fails, with stderr's tail shown. At the timeout the process, its
  group and its descendants are killed and reading stops, whoever holds the pipes. On Linux
  that includes a descendant that double-forked out of the tree, and what the process leaves
  running when it exits is killed then (modelpins.proc, docs/explanation/gate-processes.md).
- output is bounded: the last MiB of stdout (the verdict is its last line, after any
  amount of log) and the last 64 KiB of stderr are kept.
- the environment is inherited without any credential or registry setting (modelpins.redact.
  without_credentials: every MLFLOW_TRACKING_*, every MODELPINS_ENV_*, GITHUB_TOKEN and the other
  tokens); MLFLOW_TRACKING_URI is set to the server under test (without user-info). With
  `registry_credentials: true` the script also gets that server's MLFLOW_TRACKING_TOKEN,
  _USERNAME, _PASSWORD and TLS settings, and no other server's.
"""

from __future__ import annotations

import json
import math
import os
import sys
from collections.abc import Mapping
from typing import Any

from modelpins.gates import GateError, GateResult, Target
from modelpins.gates.builtin import bounds_text, fmt, within
from modelpins.pins import Gate
from modelpins.proc import collect, start
from modelpins.redact import public_url, without_credentials

MAX_OUTPUT = 1024 * 1024  # bytes of stdout kept (the last ones: the verdict is the last line)
STDERR_TAIL = 1500


def payload(gate: Gate, target: Target) -> dict[str, Any]:
    c = target.candidate
    spec = {k: v for k, v in (("min", gate.min), ("max", gate.max)) if v is not None}
    return {
        "model": c.model,
        "version": c.version,
        "alias": target.alias,
        "previous_version": target.previous,
        "run_id": c.run_id or None,
        "metrics": dict(c.metrics),
        "params": dict(c.params),
        "tags": dict(c.tags),
        "source": c.source,
        "tracking_uri": public_url(target.tracking_uri),
        "commit": target.commit,
        "gate": {"name": gate.name, "kind": gate.kind, **spec},
    }


def argv_for(gate: Gate) -> list[str]:
    argv = list(gate.run)
    if argv and argv[0] in ("python", "python3"):
        argv[0] = sys.executable
    return argv


def invoke(gate: Gate, target: Target) -> dict[str, Any]:
    """Run the gate's command; its parsed verdict, or GateError (exit status, timeout, bad output)."""
    env = gate_env(gate, target)
    try:
        proc = start(argv_for(gate), target.base_dir, env)
    except OSError as exc:
        where = f"paths are relative to {target.base_dir}"
        raise GateError(f"cannot run {gate.run[0]!r}: {exc.strerror} ({where})") from None
    out, err, finished = collect(proc, json.dumps(payload(gate, target)).encode(), gate.timeout, MAX_OUTPUT)
    if not finished:
        raise GateError(f"timed out after {fmt(gate.timeout)}s and was killed{_tail(err)}")
    if proc.returncode != 0:
        raise GateError(f"exited with status {proc.returncode}{_tail(err)}")
    return _verdict(out.decode("utf-8", "replace"), err)


def gate_env(gate: Gate, target: Target, env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The script's environment: ours without credentials, the server under test, and (only with
    `registry_credentials`) that server's credentials."""
    out = without_credentials(os.environ if env is None else env)
    out.update(MLFLOW_TRACKING_URI=public_url(target.tracking_uri), MODELPINS_GATE=gate.name)
    if gate.registry_credentials:
        out.update(target.credentials)
    return out


def _tail(err: bytes) -> str:
    text = err.decode("utf-8", "replace").strip()
    if not text:
        return ""
    if len(text) > STDERR_TAIL:
        text = "..." + text[-STDERR_TAIL:]
    return f"; stderr:\n{text}"


class Refused(ValueError):
    """JSON that parses but that a verdict may not hold: the message says why."""


def _strict_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise Refused(f"gives '{key[:40]}' more than once; give each key once")
        out[key] = value
    return out


def _not_finite(text: str) -> Any:
    raise Refused(f"holds {text[:20]}, which is not a finite number; print a plain number or null")


def _finite(text: str) -> float:
    number = float(text)
    return number if math.isfinite(number) else _not_finite(text)


def _verdict(stdout: str, err: bytes) -> dict[str, Any]:
    lines = [line for line in stdout.strip().splitlines() if line.strip()]
    if not lines:
        raise GateError(f"printed nothing on stdout; expected a JSON verdict{_tail(err)}")
    for text in (stdout, lines[-1]):
        try:
            found = json.loads(text, object_pairs_hook=_strict_object, parse_constant=_not_finite, parse_float=_finite)
        except Refused as exc:
            raise GateError(f"the JSON verdict {exc}") from None
        except ValueError:
            continue
        if isinstance(found, dict):
            return _checked(found)
    raise GateError(f"stdout is not a JSON object: {lines[-1][:200]!r}{_tail(err)}")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _checked(v: dict[str, Any]) -> dict[str, Any]:
    if "passed" in v and not isinstance(v["passed"], bool):
        raise GateError(f"'passed' must be true or false, not {v['passed']!r:.40}")
    value = v.get("value")
    if value is not None and not _is_number(value):
        raise GateError(f"'value' must be a number or null, not {value!r:.40}")
    threshold = v.get("threshold")
    if threshold is not None and not (_is_number(threshold) or isinstance(threshold, str)):
        raise GateError(f"'threshold' must be a number, text or null, not {threshold!r:.40}")
    if "detail" in v and not isinstance(v["detail"], str):
        raise GateError(f"'detail' must be text, not {v['detail']!r:.40}")
    return v


def _threshold_text(v: Any) -> str:
    if v is None:
        return ""
    return fmt(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else str(v)[:80]


def command(gate: Gate, target: Target) -> GateResult:
    """kind: command. The script decides: `passed` is required."""
    v = invoke(gate, target)
    if "passed" not in v:
        raise GateError("the JSON verdict has no 'passed'")
    value = v.get("value")
    return GateResult(
        gate.name,
        gate.kind,
        v["passed"],
        None if value is None else float(value),
        _threshold_text(v.get("threshold")),
        str(v.get("detail", ""))[:500],
    )


def safety_script(gate: Gate, target: Target) -> GateResult:
    """kind: safety with `run`: the script computes a score; min/max in the pins file decide.

    A script that itself says passed: false fails the gate too.
    """
    v = invoke(gate, target)
    value = v.get("value")
    if value is None:
        raise GateError("the JSON verdict has no numeric 'value' (the safety score)")
    passed = within(float(value), gate.min, gate.max) and v.get("passed", True) is True
    return GateResult(
        gate.name,
        gate.kind,
        passed,
        float(value),
        bounds_text(gate.min, gate.max),
        str(v.get("detail", ""))[:500],
    )
