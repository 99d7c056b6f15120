#!/usr/bin/env bash
# Push-mode rollout: server-side apply of manifests/, wait, roll back on failure or timeout.
# The kubeconfig comes from the environment's secret and lives only in the runner's temp dir.
set -euo pipefail
export KUBECONFIG="${RUNNER_TEMP:-/tmp}/kubeconfig"
umask 077
printf '%s' "${KUBECONFIG_DATA:?the environment has no KUBECONFIG secret}" > "$KUBECONFIG"
trap 'rm -f "$KUBECONFIG"' EXIT
# MODELPINS_ROLLOUT_ENV: one environment only (pins-apply rolls out each from its own job).
modelpins rollout --wait --timeout 900 ${MODELPINS_ROLLOUT_ENV:+--environment "$MODELPINS_ROLLOUT_ENV"}
