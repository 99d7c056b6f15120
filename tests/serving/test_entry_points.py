"""deploy/ entry points match the environments, and light commands stay light."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

from modelpins import pins

REPO = Path(__file__).resolve().parents[2]


def test_every_environment_has_an_argocd_application_and_a_flux_kustomization_on_its_overlay() -> None:
    envs = set(pins.load(REPO / "model_pins.yaml").environments)
    argocd = {p.stem: yaml.safe_load(p.read_text()) for p in (REPO / "deploy" / "argocd").glob("*.yaml")}
    flux = {
        p.stem: yaml.safe_load(p.read_text()) for p in (REPO / "deploy" / "flux").glob("*.yaml") if p.stem != "source"
    }

    assert set(argocd) == set(flux) == envs
    for env in envs:
        assert argocd[env]["spec"]["source"]["path"] == f"manifests/{env}"
        assert argocd[env]["spec"]["syncPolicy"]["automated"]["prune"] is True
        assert flux[env]["spec"]["path"] == f"./manifests/{env}"
        assert (REPO / "manifests" / env / "kustomization.yaml").exists()


def test_help_render_and_validate_never_import_docker_kubernetes_or_mlflow(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from modelpins.cli import main\n"
        f"main(['--help']); main(['--pins', {str(REPO / 'model_pins.yaml')!r}, 'validate', '--offline'])\n"
        f"main(['--pins', {str(REPO / 'model_pins.yaml')!r}, 'render', '--out', {str(tmp_path / 'm')!r}])\n"
        "heavy = sorted(m for m in ('docker', 'kubernetes', 'mlflow') if m in sys.modules)\n"
        "print('heavy:', heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={"PATH": "/usr/bin:/bin"})

    assert "heavy: []" in out.stdout, out.stdout + out.stderr
    assert (tmp_path / "m" / "production" / "kustomization.yaml").exists()
