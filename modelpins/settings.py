"""The global options every command receives (click's context object), and the registry adapter they name."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from modelpins.errors import InvalidInput

if TYPE_CHECKING:
    from modelpins.registry import MlflowRegistry


@dataclass
class Settings:
    pins: Path
    tracking_uri: str | None
    traceback: bool

    def registry(self) -> MlflowRegistry:
        """The MLflow adapter for --tracking-uri; an InvalidInput when none is configured."""
        if not self.tracking_uri:
            raise InvalidInput(
                "no MLflow tracking server given: pass --tracking-uri http://HOST:PORT or set MLFLOW_TRACKING_URI"
            )
        from modelpins.registry import MlflowRegistry

        return MlflowRegistry(self.tracking_uri)

    @property
    def shown_uri(self) -> str:
        """The tracking URI as messages and links show it: without user-info."""
        from modelpins.redact import public_url

        return public_url(self.tracking_uri or "")
