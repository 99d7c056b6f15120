#!/usr/bin/env bash
# Commit what `modelpins build` and `modelpins render` changed (manifests/ and
# deploy/images.lock.json) to the branch this workflow runs on, so Argo CD / Flux
# reconcile it. Does nothing when both are already current. The token is passed to git
# as a header for this one push, never written to the repository's config or printed.
set -euo pipefail
paths=(manifests deploy/images.lock.json)
git add -A -- "${paths[@]}"
if git diff --cached --quiet -- "${paths[@]}"; then
  echo "manifests/ and the image lock are current: nothing to commit"
  exit 0
fi
git -c user.name="modelpins[bot]" -c user.email="modelpins-bot@users.noreply.github.com" \
  commit -q -m "Render manifests for ${GITHUB_SHA:0:12}" -- "${paths[@]}"
git diff --stat HEAD~1 HEAD
auth=$(printf 'x-access-token:%s' "${GITHUB_TOKEN:?GITHUB_TOKEN is not set}" | base64 -w0)
echo "::add-mask::${auth}"
git -c http.extraheader="AUTHORIZATION: basic ${auth}" push -q origin "HEAD:${GITHUB_REF_NAME:?}"
echo "pushed $(git rev-parse --short HEAD) to ${GITHUB_REF_NAME}"
