#!/usr/bin/env bash
# Publish what `modelpins build` and `modelpins render` produced (manifests/ and
# deploy/images.lock.json) as one commit on the deploy branch that Argo CD and Flux track
# (MODELPINS_DEPLOY_BRANCH, default `deploy`; see deploy/README.md). Protected `main` is never
# pushed to. The deploy branch holds those paths only; each commit is a fast-forward of the
# branch and names the main commit it was rendered from. Nothing is pushed when they are
# unchanged. The token is passed to git as a header for the fetch and the push, never written
# to the repository's config or printed.
set -euo pipefail
branch=${MODELPINS_DEPLOY_BRANCH:-deploy}
source_sha=${GITHUB_SHA:?GITHUB_SHA is not set}
if [ "$branch" = "${DEFAULT_BRANCH:-main}" ] || ! git check-ref-format --branch "$branch" >/dev/null 2>&1; then
  echo "::error::publish_manifests.sh: MODELPINS_DEPLOY_BRANCH must be a branch other than ${DEFAULT_BRANCH:-main}, not '$branch'"
  exit 2
fi
auth=$(printf 'x-access-token:%s' "${GITHUB_TOKEN:?GITHUB_TOKEN is not set}" | base64 -w0)
echo "::add-mask::${auth}"
remote_git() { git -c http.extraheader="AUTHORIZATION: basic ${auth}" "$@"; }

paths=()
for p in manifests deploy/images.lock.json; do
  [ -e "$p" ] && paths+=("$p")
done
if [ ! -d manifests ]; then
  echo "::error::publish_manifests.sh: no manifests/ to publish; run 'modelpins render --out manifests/' first"
  exit 2
fi

# The branch tip, if the branch exists (ls-remote exits 2 when it does not; anything else is an error).
parent=""
if remote_git ls-remote --exit-code -q origin "refs/heads/${branch}" >/dev/null; then
  remote_git fetch -q --no-tags --depth=1 origin "refs/heads/${branch}"
  parent=$(git rev-parse FETCH_HEAD)
else
  status=$?
  [ "$status" -eq 2 ] || exit "$status"
fi

# The new tree: the branch's tree with the published paths replaced, built in a scratch
# index so the checkout (and its index) stay as they are.
GIT_INDEX_FILE=$(mktemp)
export GIT_INDEX_FILE
trap 'rm -f "$GIT_INDEX_FILE"' EXIT
if [ -n "$parent" ]; then git read-tree "$parent"; else git read-tree --empty; fi
git rm -r -q -f --cached --ignore-unmatch -- manifests deploy/images.lock.json
git add -f -- "${paths[@]}"
tree=$(git write-tree)
if [ -n "$parent" ] && [ "$tree" = "$(git rev-parse "${parent}^{tree}")" ]; then
  echo "${branch} already has these manifests/ and image lock: nothing to publish"
  exit 0
fi

export GIT_AUTHOR_NAME="modelpins[bot]" GIT_AUTHOR_EMAIL="modelpins-bot@users.noreply.github.com"
export GIT_COMMITTER_NAME="$GIT_AUTHOR_NAME" GIT_COMMITTER_EMAIL="$GIT_AUTHOR_EMAIL"
commit=$(printf 'Render manifests for %s\n\nSource-Commit: %s\n' "${source_sha:0:12}" "$source_sha" |
  git commit-tree "$tree" ${parent:+-p "$parent"})
if [ -n "$parent" ]; then git --no-pager diff --stat "$parent" "$commit"; else git --no-pager show --stat --format= "$commit"; fi
# A plain push: the branch only moves forward; a concurrent publish makes this one fail.
remote_git push -q origin "${commit}:refs/heads/${branch}"
echo "published $(git rev-parse --short "$commit") to ${branch} (rendered from ${source_sha:0:12})"
