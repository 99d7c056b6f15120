"""PromQL as the pins file writes it: vLLM's metric names, the `$selector` / `$window` slots and an offline check.

A canary query names one track's series through `$selector` (filled per track, so the candidate
and the stable track are measured by the same query over the same `$window`). The offline check is
structural (brackets and quotes balanced, the slots present, every `vllm:` name one vLLM exports);
Prometheus's own parser checks the rest where a server is configured (modelpins.canary.prometheus).
"""

from __future__ import annotations

import re

# vLLM's /metrics (V1 engine, docs/design/metrics.md and docs/usage/metrics.md of vllm-project/vllm).
VLLM_COUNTERS = (
    "vllm:request_success_total",  # label finished_reason: stop, length, abort
    "vllm:prompt_tokens_total",
    "vllm:generation_tokens_total",
    "vllm:num_preemptions_total",
    "vllm:prefix_cache_queries_total",
    "vllm:prefix_cache_hits_total",
)
VLLM_GAUGES = (
    "vllm:num_requests_running",
    "vllm:num_requests_waiting",
    "vllm:kv_cache_usage_perc",
    "vllm:gpu_cache_usage_perc",
    "vllm:cache_config_info",
    "vllm:lora_requests_info",
)
VLLM_HISTOGRAMS = (
    "vllm:e2e_request_latency_seconds",
    "vllm:time_to_first_token_seconds",
    "vllm:inter_token_latency_seconds",
    "vllm:time_per_output_token_seconds",
    "vllm:request_queue_time_seconds",
    "vllm:request_inference_time_seconds",
    "vllm:request_prefill_time_seconds",
    "vllm:request_decode_time_seconds",
    "vllm:request_prompt_tokens",
    "vllm:request_generation_tokens",
    "vllm:request_params_n",
    "vllm:request_params_max_tokens",
    "vllm:request_max_num_generation_tokens",
    "vllm:iteration_tokens_total",
)
VLLM_METRICS = frozenset(
    VLLM_COUNTERS
    + VLLM_GAUGES
    + tuple(f"{h}{suffix}" for h in VLLM_HISTOGRAMS for suffix in ("_bucket", "_sum", "_count"))
)
# Requests the track finished in the window: what `min_requests` is compared with.
REQUESTS = "sum(increase(vllm:e2e_request_latency_seconds_count{$selector}[$window]))"

SELECTOR, WINDOW = "$selector", "$window"
_NAME = re.compile(r"vllm:[A-Za-z0-9_:]*")
_PAIRS = {")": "(", "]": "[", "}": "{"}


def vllm_names(query: str) -> list[str]:
    """The `vllm:` metric names the query reads (outside quoted strings)."""
    return _NAME.findall(_unquoted(query))


def unknown_metrics(query: str) -> list[str]:
    return sorted({n for n in vllm_names(query) if n not in VLLM_METRICS})


def _unquoted(query: str) -> str:
    return re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`', '""', query)


def structure_problem(query: str) -> str | None:
    """What is wrong with the query's shape, or None; no server needed."""
    if SELECTOR not in query:
        return "the query has no '$selector' (where modelpins puts each track's labels)"
    text = _unquoted(query)
    if text.count('"') % 2 or re.search(r"""(?<!\\)['`]""", text):
        return "a quoted string is not closed"
    stack: list[str] = []
    for i, ch in enumerate(text):
        if ch in "([{":
            stack.append(ch)
        elif ch in _PAIRS and (not stack or stack.pop() != _PAIRS[ch]):
            return f"'{ch}' at character {i + 1} closes nothing"
    if stack:
        return f"'{stack[-1]}' is not closed"
    bare = text.replace(SELECTOR, "").replace(WINDOW, "")
    if "$" in bare:
        return "only '$selector' and '$window' may be written with '$'"
    return None


def fill(query: str, selector: str, window: str) -> str:
    """The query for one track: its labels in `$selector`, the window (e.g. '5m') in `$window`."""
    return query.replace(SELECTOR, selector).replace(WINDOW, window)
