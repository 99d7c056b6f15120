#!/usr/bin/env bash
# Served drift: does what the cluster serves match the pins file? Only reads (get and list).
# The kubeconfig (a read-only one is enough) comes from the environment's secret and lives
# only in the runner's temp dir. The report is appended to the job summary.
set -euo pipefail
export KUBECONFIG="${RUNNER_TEMP:-/tmp}/kubeconfig"
umask 077
printf '%s' "${KUBECONFIG_DATA:?the environment has no KUBECONFIG secret}" > "$KUBECONFIG"
trap 'rm -f "$KUBECONFIG"' EXIT
modelpins drift --cluster --markdown "${GITHUB_STEP_SUMMARY:-/dev/stdout}"
