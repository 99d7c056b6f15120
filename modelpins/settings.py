"""The global options every command receives (click's context object), and the registry adapter they name."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from modelpins import envvars
from modelpins.errors import InvalidInput

if TYPE_CHECKING:
    from modelpins.registry import MlflowRegistry


@dataclass
class Settings:
    pins: Path
    given_uri: str | None  # --tracking-uri or $MLFLOW_TRACKING_URI as given, checked when a command uses it
    traceback: bool
    uri_source: str = "--tracking-uri"  # where given_uri came from, for messages: the option or the variable

    @property
    def tracking_uri(self) -> str | None:
        """The tracking server's URL, checked (an InvalidInput naming the option or variable); None when not given."""
        return envvars.tracking_uri(self.given_uri, self.uri_source) if self.given_uri else None

    def registry(self) -> MlflowRegistry:
        """The MLflow adapter for --tracking-uri; an InvalidInput when none is configured."""
        uri = self.tracking_uri
        if not uri:
            raise InvalidInput(
                "no MLflow tracking server given: pass --tracking-uri http://HOST:PORT or set MLFLOW_TRACKING_URI"
            )
        from modelpins.registry import MlflowRegistry

        return MlflowRegistry(uri)

    @property
    def shown_uri(self) -> str:
        """The tracking URI as messages and links show it: without user-info."""
        from modelpins.redact import public_url

        return public_url(self.tracking_uri or "")
