"""The YAML reader's own limits hold whichever PyYAML is installed and whichever of its loaders runs.

PyYAML 6.0.4's C scanner stops deep flow nesting itself ("exceeded maximum nesting depth"), reading
a run of brackets ahead of the events; 6.0.3 has no such limit. Either way the user sees modelpins'
message, at the line where the 33rd level opens, with the fix.
"""

from __future__ import annotations

import pytest
import yaml

from modelpins import yamlsrc
from modelpins.errors import InvalidPins

LOADERS = [yaml.SafeLoader] + ([yaml.CSafeLoader] if getattr(yaml, "CSafeLoader", None) else [])


def problem_of(text: str, loader: type) -> tuple[int, str, str]:
    with pytest.raises(InvalidPins) as info:
        yamlsrc._check_events(text, "pins.yaml", loader)
    (problem,) = info.value.problems
    return problem.line, problem.message, problem.fix


@pytest.mark.parametrize("loader", LOADERS, ids=lambda c: c.__name__)
def test_deep_flow_on_one_line_is_our_error(loader: type) -> None:
    text = "version: 1\ndescription: " + "[" * 5000 + "]" * 5000 + "\n"
    line, message, fix = problem_of(text, loader)
    assert (line, message) == (2, "nesting deeper than 32 levels")
    assert "flatten" in fix


@pytest.mark.parametrize("loader", LOADERS, ids=lambda c: c.__name__)
def test_deep_flow_over_many_lines_names_the_33rd_level(loader: type) -> None:
    # The top mapping is level 1; one bracket a line from line 2, so level 33 opens on line 33,
    # long before any parser's own limit.
    text = "a:\n" + " [\n" * 2000 + " ]\n" * 2000
    line, message, _ = problem_of(text, loader)
    assert (line, message) == (33, "nesting deeper than 32 levels")


def test_nesting_within_the_limit_still_reads() -> None:
    text = "a: " + "[" * 31 + "1" + "]" * 31 + "\n"
    node = yamlsrc.parse(text, "pins.yaml")
    assert node is not None
