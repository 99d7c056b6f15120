#!/usr/bin/env bash
# The kind end-to-end run, one step per call: bash .github/e2e/run.sh STEP
# Needs: docker, kind (cluster "modelpins-e2e" made with .github/e2e/kind.yaml), kubectl, docker-registry
# (Debian's), and `pip install -e '.[serving]' mlflow` done.
set -euo pipefail
cd "$(dirname "$0")/../.."
PINS=.github/e2e/model_pins.yaml
CLUSTER=modelpins-e2e
WORK=${RUNNER_TEMP:-/tmp}/modelpins-e2e
REGISTRY=localhost:5001  # the host's registry: pushed to from the host, pulled through by the kind nodes
mp() { python -m modelpins --pins "$PINS" "$@"; }

mlflow_up() {  # MLflow on the host, reachable from the kind nodes; artefacts served through it
  mkdir -p "$WORK"
  MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false nohup mlflow server --host 0.0.0.0 --port 5000 --workers 1 \
    --backend-store-uri "sqlite:///$WORK/mlflow.db" --artifacts-destination "$WORK/artifacts" \
    --default-artifact-root mlflow-artifacts:/ >"$WORK/mlflow.log" 2>&1 &
  for _ in $(seq 60); do curl -fsS http://127.0.0.1:5000/health >/dev/null 2>&1 && break; sleep 2; done
  # Each version in MLflow's transformers layout (what render gives vLLM without a lock): MLmodel,
  # model/ and components/tokenizer/; the stand-in server checks that --model and --tokenizer exist.
  python - <<'PY'
from devkit.devserver import seed_model
files = {
    "MLmodel": "flavors:\n  transformers: {}\n",
    "model/config.json": "{}",
    "model/model.safetensors": "stand-in weights",
    "components/tokenizer/tokenizer.json": "{}",
}
seed_model("http://127.0.0.1:5000", "e2e-scorer", 2, files=files)
PY
  mp --tracking-uri http://127.0.0.1:5000 apply --yes
}

kind_host() {  # the host as the kind nodes reach it: the kind network's IPv4 gateway
  docker network inspect kind --format '{{range .IPAM.Config}}{{.Gateway}} {{end}}' | tr ' ' '\n' | grep -m1 '\.'
}

registry() {  # a registry on the host; each node's containerd pulls localhost:5001/... from it
  # The pods pull with imagePullPolicy: Always (images by digest), so `kind load` would not do: the
  # kubelet asks the registry on every start.
  mkdir -p "$WORK/registry"
  printf 'version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: 0.0.0.0:5001\n' \
    "$WORK/registry" >"$WORK/registry.yml"
  nohup docker-registry serve "$WORK/registry.yml" >"$WORK/registry.log" 2>&1 &
  for _ in $(seq 30); do curl -fsS "http://$REGISTRY/v2/" >/dev/null 2>&1 && break; sleep 1; done
  local host node
  host=$(kind_host)
  for node in $(kind get nodes --name "$CLUSTER"); do
    docker exec "$node" mkdir -p "/etc/containerd/certs.d/$REGISTRY"
    printf '[host."http://%s:5001"]\n  capabilities = ["pull", "resolve"]\n' "$host" |
      docker exec -i "$node" cp /dev/stdin "/etc/containerd/certs.d/$REGISTRY/hosts.toml"
  done
}

images() {  # modelpins builds the runtime image from deploy/Dockerfile; the vLLM stand-in goes on top,
  # is pushed to the registry, and its digest is recorded in the image lock render and rollout read
  local out ref tag pushed digest
  out=$(mp build --dockerfile deploy/Dockerfile)
  echo "$out"
  ref=$(echo "$out" | awk '$2 == "runtime" {print $3}')
  tag=${ref##*:}
  pushed="$REGISTRY/serving/modelpins-vllm:$tag"
  docker build --build-arg "RUNTIME=$ref" -t "$pushed" -f .github/e2e/Dockerfile.stand-in .github/e2e
  docker push "$pushed"
  digest=$(docker inspect --format '{{index .RepoDigests 0}}' "$pushed")
  IMAGE="$pushed@${digest#*@}" TAG="$tag" python - <<'PY'
import os
from pathlib import Path
from modelpins.serving.image_lock import ImageLock, LockEntry, save
save(ImageLock(runtime=LockEntry(os.environ["IMAGE"], os.environ["TAG"])), Path(".github/e2e/deploy/images.lock.json"))
PY
}

cluster() {  # Gateway API CRDs (HTTPRoute), the namespace, and the Service `mlflow` (the pins'
  # tracking_uri; modelpins renders the ConfigMap that names it) pointing at the host's MLflow
  kubectl apply --server-side -f https://github.com/kubernetes-sigs/gateway-api/releases/download/v1.2.1/standard-install.yaml
  local host
  host=$(kind_host)
  kubectl create namespace ml-e2e --dry-run=client -o yaml | kubectl apply -f -
  kubectl apply --server-side -f - <<YAML
apiVersion: v1
kind: Service
metadata: {name: mlflow, namespace: ml-e2e}
spec:
  ports: [{name: http, port: 5000, targetPort: 5000}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: mlflow-host
  namespace: ml-e2e
  labels: {kubernetes.io/service-name: mlflow}
addressType: IPv4
ports: [{name: http, port: 5000}]
endpoints: [{addresses: ["$host"]}]
YAML
}

manifests() {  # what Argo CD / Flux apply, accepted by a real API server (schemas, CRDs, admission)
  python -m modelpins render --out manifests/
  git diff --exit-code -- manifests/
  for env in manifests/*/kustomization.yaml; do
    kubectl apply --server-side -f "$(dirname "$env")/namespace.yaml"  # namespaced objects need it to exist
    kubectl apply --server-side --dry-run=server -k "$(dirname "$env")"
  done
}

rollout() {  # push-mode rollout: both tracks become ready, each serves its model
  mp rollout --wait --timeout 300 --dockerfile deploy/Dockerfile
  kubectl -n ml-e2e get deploy,svc,pdb,httproute -o wide
  kubectl -n ml-e2e get deploy scorer-stable -o jsonpath='{.spec.template.spec.containers[0].image}' |
    grep -q "^$REGISTRY/serving/modelpins-vllm:.*@sha256:"  # the pushed image, by digest
  for track in stable candidate; do
    kubectl -n ml-e2e exec "deploy/scorer-$track" -c vllm -- \
      python3 -c 'import urllib.request as u; print(u.urlopen("http://127.0.0.1:8000/v1/models").read().decode())' \
      | grep -q '"e2e-scorer"'
  done
}

served_drift() {  # drift --cluster finds nothing after the rollout, then names a hand-edited image exactly
  local image out
  mp --tracking-uri http://127.0.0.1:5000 drift --cluster --dockerfile deploy/Dockerfile
  image=$(kubectl -n ml-e2e get deploy scorer-stable -o jsonpath='{.spec.template.spec.containers[0].image}')
  kubectl -n ml-e2e set image deploy/scorer-stable vllm=registry.invalid/hotfix:1
  if out=$(mp --tracking-uri http://127.0.0.1:5000 drift --cluster --dockerfile deploy/Dockerfile --json); then
    echo "::error::drift --cluster found nothing after the image was changed by hand"
    exit 1
  fi
  echo "$out"
  echo "$out" | grep -q '"actual": "registry.invalid/hotfix:1"'
  kubectl -n ml-e2e set image deploy/scorer-stable "vllm=$image"
  kubectl -n ml-e2e rollout status deploy/scorer-stable --timeout=120s
}

rollback() {  # a candidate that cannot start (its version is not in MLflow) is rolled back
  sed -i 's/challenger: 2/challenger: 9/' "$PINS"
  if mp rollout --wait --timeout 90 --dockerfile deploy/Dockerfile; then
    echo "::error::rollout of a version that cannot start succeeded"
    exit 1
  fi
  git checkout -- "$PINS"
  test "$(kubectl -n ml-e2e get deploy scorer-candidate -o jsonpath='{.metadata.annotations.modelpins\.io/version}')" = 2
  kubectl -n ml-e2e rollout status deploy/scorer-candidate --timeout=120s
}

diagnose() {  # on failure: what the cluster and MLflow saw
  kubectl get all -A || true
  kubectl -n ml-e2e describe pods || true
  kubectl -n ml-e2e get events --sort-by=.lastTimestamp || true
  kubectl -n ml-e2e logs --all-containers --prefix -l app.kubernetes.io/managed-by=modelpins --tail=100 || true
  tail -n 100 "$WORK/mlflow.log" || true
  tail -n 50 "$WORK/registry.log" || true
}

"$@"
