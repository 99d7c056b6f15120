"""Shell completion of MODEL@ALIAS arguments from the pins file (click's completion does the rest).

Completion must never fail loudly: a missing or broken file completes nothing.
"""

from __future__ import annotations

from pathlib import Path

import click
from click.shell_completion import BashComplete, CompletionItem


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


# bash splits the word under the cursor at COMP_WORDBREAKS ('@' and ':' among them) before it calls the function,
# so click's own script would pass `credit-scorer@cham` on as three words and complete nothing. This one reads
# the line itself (COMP_LINE up to COMP_POINT, split at blanks), and gives bash each completion without the part
# before the last break character, which bash keeps on the line (as bash-completion's __ltrim_colon_completions);
# '@' itself is part of what readline replaces (a special prefix), so it stays in the completion.
BASH_SOURCE = r"""
%(complete_func)s() {
    local IFS=$' \t\n' words line="${COMP_LINE:0:COMP_POINT}"
    read -r -a words <<< "$line"
    [[ -z "$line" || "$line" == *[[:blank:]] ]] && words+=("")
    local cur="${words[${#words[@]}-1]}" keep="" i
    for ((i = ${#cur} - 1; i >= 0; i--)); do
        if [[ "$COMP_WORDBREAKS" == *"${cur:i:1}"* ]]; then
            # '@' and '$' break words but stay in the word readline replaces (its special prefixes)
            if [[ "${cur:i:1}" == [@\$] ]]; then keep="${cur:0:i}"; else keep="${cur:0:i+1}"; fi
            break
        fi
    done
    local response completion type value
    IFS=$'\n'
    response=$(env COMP_WORDS="${words[*]}" COMP_CWORD=$((${#words[@]} - 1)) %(complete_var)s=bash_complete $1)
    for completion in $response; do
        IFS=',' read -r type value <<< "$completion"
        if [[ $type == 'dir' ]]; then
            COMPREPLY=()
            compopt -o dirnames
        elif [[ $type == 'file' ]]; then
            COMPREPLY=()
            compopt -o default
        elif [[ $type == 'plain' ]]; then
            COMPREPLY+=("${value#"$keep"}")
        fi
    done
    return 0
}

%(complete_func)s_setup() {
    complete -o nosort -F %(complete_func)s %(prog_name)s
}

%(complete_func)s_setup;
"""


class Bash(BashComplete):
    """click's bash completion, with the word under the cursor whole (see BASH_SOURCE)."""

    source_template = BASH_SOURCE
