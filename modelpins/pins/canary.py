"""A canary strategy's progressive-delivery fields: `steps` with a minimum time, and the `analysis` block.

    steps:
      - {weight: 10, min_time: 10m}
      - {weight: 50, min_time: 30m}
      - 100
    analysis:
      window: 5m
      min_requests: 100
      queries:
        error-ratio:
          query: sum(rate(vllm:request_success_total{$selector,finished_reason="abort"}[$window]))
                 / sum(rate(vllm:request_success_total{$selector}[$window]))
          threshold: 0.02
          direction: below

Prometheus's URL is a setting of the environment (MODELPINS_PROMETHEUS_URL), never in the file.
"""

from typing import Annotated, Literal

from pydantic import Discriminator, Field, Tag
from pydantic_core import InitErrorDetails

from modelpins import promql
from modelpins.pins.data import Analysis, CanaryQuery
from modelpins.pins.fields import NOT_GIVEN, Duration, Says, Spec, problem, seconds
from modelpins.yamlsrc import Loc, Tree

QueryName = Annotated[
    str,
    Field(min_length=1, max_length=63, pattern=r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$"),
    Says("query name '{value}' is not allowed", "use lower-case letters, digits and '-', e.g. 'error-ratio'"),
]


class StepSpec(Spec):
    """A canary step: the candidate's weight and the least time it stays there before it may advance."""

    weight: Annotated[int, Field(ge=1, le=100, description="percent of traffic to the candidate at this step")]
    min_time: Annotated[Duration, Field(description="least time at this step before `canary advance` moves on")] = "0s"


Step = Annotated[
    Annotated[Annotated[int, Field(ge=1, le=100)], Tag("weight")] | Annotated[StepSpec, Tag("mapping")],
    Discriminator(lambda v: "mapping" if isinstance(v, dict) else "weight"),
]


class QuerySpec(Spec):
    """A PromQL query measured on each track (`$selector`) over the analysis window (`$window`)."""

    query: Annotated[str, Field(min_length=1, max_length=4000, description="PromQL with `$selector` and `$window`")]
    threshold: Annotated[float, Field(description="the limit of the candidate's value")]
    direction: Annotated[
        Literal["below", "above"], Field(description="the side of the threshold the candidate must stay on")
    ]
    tolerance: Annotated[
        float,
        Field(ge=0, le=10, description="how much worse than the stable track the candidate may be, as a fraction"),
    ] = NOT_GIVEN

    def rules(self) -> list[InitErrorDetails]:
        bad = promql.structure_problem(self.query)
        if bad:
            return [problem(f"PromQL of '{{name}}': {bad}", "see docs/how-to/canary.md for a query's shape", "query")]
        unknown = promql.unknown_metrics(self.query)
        if unknown:
            return [
                problem(
                    f"PromQL of '{{name}}' reads {', '.join(unknown)}, which vLLM does not export",
                    "use one of vLLM's metric names, e.g. vllm:e2e_request_latency_seconds_bucket",
                    "query",
                )
            ]
        return []


class AnalysisSpec(Spec):
    """What each step of the canary must show before it advances."""

    window: Annotated[Duration, Field(description="the range every query reads (`$window`)")] = "5m"
    min_requests: Annotated[
        int, Field(ge=1, le=10**9, description="requests each track must have finished in the window")
    ] = 100
    queries: Annotated[dict[QueryName, QuerySpec], Field(min_length=1, description="name -> PromQL check")]

    def to_analysis(self, loc: Loc, at: Tree) -> Analysis:
        queries = tuple(
            CanaryQuery(name, q.query, q.threshold, q.direction, q.tolerance, at.key_line((*loc, "queries", name)))
            for name, q in self.queries.items()
        )
        return Analysis(self.window, self.min_requests, queries, at.key_line(loc))


def step_weights(steps: list[int | StepSpec]) -> list[int]:
    return [s if isinstance(s, int) else s.weight for s in steps]


def step_times(steps: list[int | StepSpec]) -> tuple[float, ...]:
    return tuple(0.0 if isinstance(s, int) else seconds(s.min_time) for s in steps)
