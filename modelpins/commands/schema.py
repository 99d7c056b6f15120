"""schema: the JSON Schema of model_pins.yaml, generated from the typed models."""

from __future__ import annotations

import difflib
from pathlib import Path

import click

from modelpins import safe_write
from modelpins.errors import InvalidInput, OperationFailed


@click.command()
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Write it to FILE instead of printing it.")
@click.option(
    "--check",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="FILE",
    help="Fail (exit 1) unless FILE holds exactly the generated schema; write nothing.",
)
@click.option("--markdown", is_flag=True, help="Print the documentation's tables of sections and gate kinds instead.")
def schema(out: Path | None, check: Path | None, markdown: bool) -> None:
    """Print the JSON Schema of model_pins.yaml (editors, check-jsonschema); --check a committed copy."""
    from modelpins.pins import docs, document

    text = docs.markdown() if markdown else document.json_schema_text()
    if check is not None:
        try:
            current = check.read_text(encoding="utf-8")
        except OSError as exc:
            raise InvalidInput(
                f"{check}: cannot read: {exc.strerror} (write it with `modelpins schema --out`)"
            ) from None
        if current != text:
            diff = difflib.unified_diff(current.splitlines(), text.splitlines(), str(check), "generated", lineterm="")
            click.echo("\n".join(diff))
            raise OperationFailed(f"{check} is out of date with the schema: run `modelpins schema --out {check}`")
        click.echo(f"{check}: up to date")
    elif out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        safe_write.write_file(out, text, "--out")
        click.echo(f"{out}: written")
    else:
        click.echo(text, nl=False)
