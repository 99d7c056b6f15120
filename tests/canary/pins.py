"""The pins file of the canary tests: one model, champion stable, challenger the canary, three steps."""

from __future__ import annotations

from tests.canary.conftest import NAMESPACE, WINDOW

QUERIES = """\
          error-ratio:
            query: >-
              sum(rate(vllm:request_success_total{$selector,finished_reason="abort"}[$window]))
              / sum(rate(vllm:request_success_total{$selector}[$window]))
            threshold: 0.05
            direction: below
          e2e-p95:
            query: >-
              histogram_quantile(0.95, sum by (le) (rate(vllm:e2e_request_latency_seconds_bucket{$selector}[$window])))
            threshold: 30
            direction: below
            tolerance: 0.5
          tokens-per-second:
            query: sum(rate(vllm:generation_tokens_total{$selector}[$window]))
            threshold: 10
            direction: above
"""


def pins_text(model: str, deployment: str, min_time: str = "0s", queries: str = QUERIES) -> str:
    return f"""version: 1
models:
  {model}:
    aliases:
      champion: 1
      challenger: 2
environments:
  production:
    namespace: {NAMESPACE}
    gateway: gateways/ml-gateway
    tracking_uri: https://mlflow.acme.example
deployments:
  {deployment}:
    environment: production
    serve: [{model}@champion]
    strategy:
      type: canary
      candidate: [{model}@challenger]
      steps:
        - {{weight: 10, min_time: {min_time}}}
        - {{weight: 50, min_time: {min_time}}}
        - 100
      weight: 10
      analysis:
        window: {WINDOW}s
        min_requests: 20
        queries:
{queries}"""
