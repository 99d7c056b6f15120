"""Click parameter types shared by the commands: a number option is finite and within its range."""

from __future__ import annotations

import math
from typing import Any

import click


class FiniteFloat(click.FloatRange):
    """A float in [min, max] that is a real number: `nan`, `inf` and `-inf` are refused (exit 2)."""

    name = "float"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        number: float = click.FLOAT.convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number; give seconds as a plain number, e.g. 30", param, ctx)
        converted: float = super().convert(number, param, ctx)
        return converted
