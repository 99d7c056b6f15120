#!/usr/bin/env bash
# Publish what `modelpins build` and `modelpins render` produced (manifests/ and
# deploy/images.lock.json) as one commit on the deploy branch that Argo CD and Flux track
# (MODELPINS_DEPLOY_BRANCH, default `deploy`; see deploy/README.md). Protected `main` is never
# pushed to. The deploy branch holds those paths only; each commit is a fast-forward of the
# branch and names the main commit it was rendered from. Nothing is pushed when they are
# unchanged. The token is passed to git as a header for the fetch and the push, never written
# to the repository's config or printed.
#
# MODELPINS_PUBLISH_ENV=<env> publishes one environment only: manifests/<env>, the manifests/base/
# directories its kustomization names, and the image lock; the other environments' files on the
# branch stay as they are (pins-apply publishes staging and production from jobs of their own).
# MODELPINS_SOURCE_COMMIT names the commit that was rendered (default GITHUB_SHA): the workflow
# renders the branch head, which is not the triggering commit when a run is re-run.
set -euo pipefail
branch=${MODELPINS_DEPLOY_BRANCH:-deploy}
source_sha=${MODELPINS_SOURCE_COMMIT:-${GITHUB_SHA:?GITHUB_SHA is not set}}
env_name=${MODELPINS_PUBLISH_ENV:-}
if [ -n "$env_name" ] && { [[ ! "$env_name" =~ ^[a-z0-9][a-z0-9-]*$ ]] || [ ! -f "manifests/${env_name}/kustomization.yaml" ]; }; then
  echo "::error::publish_manifests.sh: MODELPINS_PUBLISH_ENV names no rendered environment: no manifests/${env_name}/kustomization.yaml; run 'modelpins render --out manifests/' first"
  exit 2
fi
if [ "$branch" = "${DEFAULT_BRANCH:-main}" ] || ! git check-ref-format --branch "$branch" >/dev/null 2>&1; then
  echo "::error::publish_manifests.sh: MODELPINS_DEPLOY_BRANCH must be a branch other than ${DEFAULT_BRANCH:-main}, not '$branch'"
  exit 2
fi
auth=$(printf 'x-access-token:%s' "${GITHUB_TOKEN:?GITHUB_TOKEN is not set}" | base64 -w0)
echo "::add-mask::${auth}"
remote_git() { git -c http.extraheader="AUTHORIZATION: basic ${auth}" "$@"; }

# The base directories an environment's kustomization names (`- ../base/<deployment>`), read from
# stdin: each deployment belongs to one environment.
bases() { sed -n 's|^- \.\./base/\([A-Za-z0-9._-]*\)[[:space:]]*$|manifests/base/\1|p'; }

if [ -n "$env_name" ]; then
  mapfile -t published < <(printf 'manifests/%s\n' "$env_name"; bases < "manifests/${env_name}/kustomization.yaml")
else
  published=(manifests)
fi
paths=()
for p in "${published[@]}" deploy/images.lock.json; do
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
if [ -n "$env_name" ]; then
  # What this environment had on the branch goes (a deployment removed from it is removed there too).
  removed=("manifests/${env_name}")
  if [ -n "$parent" ] && git cat-file -e "${parent}:manifests/${env_name}/kustomization.yaml" 2>/dev/null; then
    mapfile -t -O 1 removed < <(git show "${parent}:manifests/${env_name}/kustomization.yaml" | bases)
  fi
  git rm -r -q -f --cached --ignore-unmatch -- "${removed[@]}" deploy/images.lock.json
else
  git rm -r -q -f --cached --ignore-unmatch -- manifests deploy/images.lock.json
fi
git add -f -- "${paths[@]}"
tree=$(git write-tree)
if [ -n "$parent" ] && [ "$tree" = "$(git rev-parse "${parent}^{tree}")" ]; then
  echo "${branch} already has these ${env_name:+$env_name }manifests and image lock: nothing to publish"
  exit 0
fi

export GIT_AUTHOR_NAME="modelpins[bot]" GIT_AUTHOR_EMAIL="modelpins-bot@users.noreply.github.com"
export GIT_COMMITTER_NAME="$GIT_AUTHOR_NAME" GIT_COMMITTER_EMAIL="$GIT_AUTHOR_EMAIL"
commit=$(printf 'Render %smanifests for %s\n\nSource-Commit: %s\n' "${env_name:+$env_name }" "${source_sha:0:12}" "$source_sha" |
  git commit-tree "$tree" ${parent:+-p "$parent"})
if [ -n "$parent" ]; then git --no-pager diff --stat "$parent" "$commit"; else git --no-pager show --stat --format= "$commit"; fi
# A plain push: the branch only moves forward; a concurrent publish makes this one fail.
remote_git push -q origin "${commit}:refs/heads/${branch}"
echo "published $(git rev-parse --short "$commit") to ${branch} (rendered from ${source_sha:0:12})"
