"""Shell completion of MODEL@ALIAS arguments from the pins file (click's completion does the rest).

Completion must never fail loudly: a missing or broken file completes nothing.
"""

from __future__ import annotations

from pathlib import Path

import click
from click.shell_completion import CompletionItem


def targets(path: Path) -> list[str]:
    """Every `model@alias` the file pins, in file order; [] when it cannot be read."""
    import yaml

    try:
        data = yaml.safe_load(path.read_bytes())
    except (OSError, yaml.YAMLError, ValueError):
        return []
    models = data.get("models") if isinstance(data, dict) else None
    out = []
    for model, body in (models or {}).items() if isinstance(models, dict) else ():
        aliases = body.get("aliases") if isinstance(body, dict) else None
        out += [f"{model}@{alias}" for alias in (aliases or {})] if isinstance(aliases, dict) else []
    return out


def complete_target(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    path = ctx.find_root().params.get("pins") or Path("model_pins.yaml")
    return [CompletionItem(t) for t in targets(Path(path)) if t.startswith(incomplete)]
