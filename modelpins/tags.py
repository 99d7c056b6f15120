"""Every tag and label name modelpins writes: a stored contract that other tools and later versions read.

Change a name or a value's format only with a new format version, and keep reading the old one.

MLflow Model Registry, version tags (on the version an alias moves to, or from for a delete):

- `modelpins.audit.<alias>.<UTC time>-<random>` (format 2): one record per alias move, written by
  `apply` after the alias moved (a move that did not take effect has no record); compact JSON
  {"action", "alias", "from", "to", "actor", "at", "commit", "pr", "run_url", ...; "gates": "passed" |
  "waived" | "skipped", "waiver", "reason"; "allow_older", "last_applied" when an older commit was applied
  on purpose; "rollback": true for a move a `Modelpins-Rollback:` commit trailer asked for
  (modelpins.audit.rollbacks)}. The key is never reused (the time is `%Y%m%dT%H%M%S` + milliseconds + `Z`,
  the random part 6 hex digits), so keys sort by time and no record overwrites another.
  `modelpins.audit.<alias>` (format 1, read only): the same record, one per version and alias,
  overwritten by each move.
- `modelpins.gates.<alias>` (format 1): the gate evidence of the candidate for that alias, compact
  JSON {"passed", "version", "digest", "baselines", "commit", "at", "results", ["truncated"]}
  (modelpins.gates.evidence), at most 4,900 characters.
- `modelpins.card` (format 1): the URI of the version's model card, `runs:/<run>/model_card/<file>`.
- `modelpins.signature` (format 1): the version's signature, JSON {"bundle", "digest", "method", "signer",
  "at"} (modelpins.integrity.signing).
- `modelpins.copy.source` (format 1): on a version copied across environments, JSON {"registry", "model",
  "version"} of its source (found again by it). Tags under `modelpins.` are modelpins' own records and are
  never copied with a version.

MLflow Model Registry, registered models (the apply lock, modelpins.registry_mutex):

- `modelpins.lock`: the registry mutex itself; whoever created it holds it. Tags `modelpins.lock.`
  + `token`, `actor`, `host`, `pid`, `acquired`, `expires` (seconds since the epoch, whole).
- `modelpins.lock.break.<token>`: the guard of a compare-and-delete of the lock held by `token`,
  with the same tags. Alias reads skip `modelpins.lock` and every name under it.
- `modelpins.applied` (format 1): what each repository's branch last applied (modelpins.audit.head), one tag
  each, `modelpins.applied.<OWNER/NAME or checkout path>/<branch>` (characters other than `A-Za-z0-9_./-`
  written as `_`; past 200 characters `sha256-<32 hex digits>` of it): JSON {"commit", "at", "actor",
  "branch", "repository"}. Written by `apply` under the apply lock once every change of that commit took
  effect, in each registry it writes (the command's and each environment's); alias reads skip it too.

Kubernetes manifests (modelpins.serving): labels `app.kubernetes.io/` + `name` (the deployment),
`instance` (deployment or track), `component` (`model-server`), `part-of` (the deployment),
`managed-by` (`modelpins`: what rollout prunes and served drift compares), `version` (`v<N>`);
`modelpins.io/track` (`stable` | `candidate`), `modelpins.io/color` (blue-green), and
`modelpins.io/environment` on namespaces and ConfigMaps. Pod-template annotations
`modelpins.io/model`, `modelpins.io/version` (what a pod serves), `modelpins.io/serves`
(`model@alias=vN, ...`); Deployment annotation `modelpins.io/image` (how the image was made);
HTTPRoute annotations `modelpins.io/strategy`, `modelpins.io/weight`, `modelpins.io/steps`.

Container images (modelpins.serving.images), labels `io.modelpins.` + `image` (`runtime` or
`<deployment>/<track>`), `commit`, `model`, `version`, `run-id`, and `models`: compact JSON
[{"model", "alias", "version", "run_id", "artifact_digest"}] (the digest of model_pins.lock); `sbom` (the
CycloneDX BOM's path in the image) and `sbom.digest` (modelpins.serving.sbom).
"""

from __future__ import annotations

# registry: version tags
AUDIT_PREFIX = "modelpins.audit."
CANARY_PREFIX = "modelpins.canary."  # + <deployment>.<time>: one canary decision (audit.canary)
GATES_PREFIX = "modelpins.gates."
CARD = "modelpins.card"
SIGNATURE_TAG = "modelpins.signature"
COPY_SOURCE_TAG = "modelpins.copy.source"
OWN_TAG_PREFIX = "modelpins."  # modelpins' own records (audit, gate evidence) stay with a version, never copied

# registry: the apply lock's registered models and their tags
LOCK_MODEL = "modelpins.lock"
LOCK_TAG = "modelpins.lock."
LOCK_GUARD = LOCK_MODEL + ".break."
# registry: what each branch last applied (modelpins.audit.head)
APPLIED_MODEL = "modelpins.applied"
APPLIED_TAG = "modelpins.applied."

# manifests
K8S = "app.kubernetes.io/"
NAME = K8S + "name"
INSTANCE = K8S + "instance"
COMPONENT = K8S + "component"
PART_OF = K8S + "part-of"
MANAGED_BY = K8S + "managed-by"
VERSION = K8S + "version"
MANAGER = "modelpins"  # the value of MANAGED_BY
TRACK = "modelpins.io/track"
COLOR = "modelpins.io/color"
ENVIRONMENT = "modelpins.io/environment"
MODEL = "modelpins.io/model"
SERVED_VERSION = "modelpins.io/version"
SERVES = "modelpins.io/serves"
IMAGE = "modelpins.io/image"
STRATEGY = "modelpins.io/strategy"
WEIGHT = "modelpins.io/weight"
STEPS = "modelpins.io/steps"
ENGINE = "modelpins.io/engine"  # canary: argo-rollouts when the Argo Rollouts controller moves the weight

# image labels
IMAGE_LABEL = "io.modelpins."


def is_lock_model(name: str) -> bool:
    """The apply lock, one of its guards, or the applied-commit record: never a model of the pins file."""
    return name in (LOCK_MODEL, APPLIED_MODEL) or name.startswith(LOCK_MODEL + ".")
