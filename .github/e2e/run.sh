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
# The Gateway controller: NGINX Gateway Fabric 2.4.0 (Gateway API v1.4.1), its manifests taken from one commit of
# its repository, fetched by that commit's id: git checks every object it receives against its hash, so the id
# pins the CRDs and the controller's manifests byte for byte (as the workflows pin actions by commit).
NGF_VERSION=2.4.0
NGF_COMMIT=006fcdce8fc2bae6adac37d0b44149a3522e0885
GATEWAY_API_VERSION=v1.4.1
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

controller() {  # the Gateway API standard CRDs and NGINX Gateway Fabric, from the pinned commit
  local src="$WORK/nginx-gateway-fabric" summary=${GITHUB_STEP_SUMMARY:-/dev/null}
  rm -rf "$src" && mkdir -p "$src"
  git -C "$src" init -q
  git -C "$src" fetch -q --depth 1 https://github.com/nginx/nginx-gateway-fabric "$NGF_COMMIT"
  git -C "$src" checkout -q FETCH_HEAD
  test "$(git -C "$src" rev-parse HEAD)" = "$NGF_COMMIT"
  grep -q "image: ghcr.io/nginx/nginx-gateway-fabric:$NGF_VERSION\$" "$src/deploy/nodeport/deploy.yaml"
  # Gateway API's standard channel, at the version this NGINX Gateway Fabric commit names
  kubectl kustomize "$src/config/crd/gateway-api/standard" >"$WORK/gateway-api-standard.yaml"
  grep -q "gateway.networking.k8s.io/bundle-version: $GATEWAY_API_VERSION\$" "$WORK/gateway-api-standard.yaml"
  grep -q "gateway.networking.k8s.io/channel: standard\$" "$WORK/gateway-api-standard.yaml"
  { echo "### Gateway controller: NGINX Gateway Fabric $NGF_VERSION at $NGF_COMMIT, Gateway API $GATEWAY_API_VERSION"
    echo '```'
    (cd "$WORK" && sha256sum gateway-api-standard.yaml)
    (cd "$src" && sha256sum deploy/crds.yaml deploy/nodeport/deploy.yaml)
    echo '```'; } | tee -a "$summary"
  kubectl apply --server-side -f "$WORK/gateway-api-standard.yaml"
  kubectl apply --server-side -f "$src/deploy/crds.yaml"
  kubectl wait --for=condition=Established --timeout=60s crd --all
  # NodePort: kind has no load balancer for the NGINX Service each Gateway gets (the run port-forwards to it)
  kubectl apply --server-side -f "$src/deploy/nodeport/deploy.yaml"
  kubectl -n nginx-gateway rollout status deploy/nginx-gateway --timeout=300s
  kubectl wait --for=condition=Accepted --timeout=120s gatewayclass/nginx
}

gateway() {  # the Gateway the rendered routes attach to: its <namespace>/<name> and the namespaces whose
  # routes it must admit come from the pins file (environments.<env>.gateway), its listener's allowedRoutes
  # are the ones docs/reference/serving-rules.md (Prerequisites) gives. Its NGINX runs in the Gateway's
  # namespace, the one the rendered NetworkPolicy admits.
  python - "$PINS" <<'PY' | kubectl apply --server-side -f -
import sys
from pathlib import Path

import yaml

from modelpins import pins

p = pins.load(Path(sys.argv[1]))
gateways: dict[str, list[str]] = {}
for env in p.environments.values():
    if env.gateway:
        gateways.setdefault(env.gateway, []).append(env.namespace)
docs = []
for ref, namespaces in sorted(gateways.items()):
    namespace, name = ref.split("/", 1)
    allowed = {"namespaces": {"from": "Selector", "selector": {"matchExpressions": [
        {"key": "kubernetes.io/metadata.name", "operator": "In", "values": sorted(namespaces)}]}}}
    docs.append({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
    docs.append({
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "Gateway",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "gatewayClassName": "nginx",
            "listeners": [{"name": "http", "protocol": "HTTP", "port": 80, "allowedRoutes": allowed}],
        },
    })
print(yaml.safe_dump_all(docs, sort_keys=False), end="")
PY
  kubectl -n gateways wait --for=condition=Accepted --timeout=120s gateway/e2e
  kubectl -n gateways get gateway e2e -o yaml
}

cluster() {  # the namespace, GPUs for the vLLM stand-in's pods, and the Service `mlflow` (the pins'
  # tracking_uri; modelpins renders the ConfigMap that names it) pointing at the host's MLflow
  local host node
  # Each LLM pod requests nvidia.com/gpu: 1 (the stand-in needs none). kind has no GPU and no device plugin, so
  # each node advertises the extended resource by hand (Kubernetes' "advertise extended resources" recipe).
  for node in $(kubectl get nodes -o name); do
    kubectl patch "$node" --subresource=status --type=json \
      -p '[{"op": "add", "path": "/status/capacity/nvidia.com~1gpu", "value": "8"}]'
  done
  for _ in $(seq 30); do
    [ -n "$(kubectl get nodes -o jsonpath='{.items[0].status.allocatable.nvidia\.com/gpu}')" ] && break
    sleep 1
  done
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

route() {  # a request through the Gateway reaches the pods: the route is attached and its backends resolve,
  # and requests sent to the Gateway's NGINX come back from both tracks of the canary split
  local cond svc pid out stable=0 candidate=0 n=60
  for cond in Accepted ResolvedRefs; do
    wait_for "HTTPRoute scorer $cond" \
      "kubectl -n ml-e2e get httproute scorer -o jsonpath='{.status.parents[0].conditions[?(@.type==\"$cond\")].status}' | grep -qx True"
  done
  kubectl -n ml-e2e get httproute scorer -o jsonpath='{.status.parents}{"\n"}'
  wait_for "the Gateway's NGINX Service" \
    "kubectl -n gateways get svc -l gateway.networking.k8s.io/gateway-name=e2e -o name | grep -q ."
  svc=$(kubectl -n gateways get svc -l gateway.networking.k8s.io/gateway-name=e2e -o name | head -n1)
  kubectl -n gateways wait --for=condition=Available --timeout=180s deploy -l gateway.networking.k8s.io/gateway-name=e2e
  kubectl -n gateways port-forward "$svc" 8080:80 >"$WORK/port-forward.log" 2>&1 &
  pid=$!
  wait_for "a /health answer through the Gateway" "curl -fsS http://127.0.0.1:8080/scorer/health"
  for _ in $(seq "$n"); do
    out=$(curl -fsS http://127.0.0.1:8080/scorer/v1/models) || { kill "$pid"; echo "::error::no answer through the Gateway"; exit 1; }
    case "$out" in  # `root` is the model directory the init container filled in the answering pod
      *'"id": "e2e-scorer"'*'"root": "/models/e2e-scorer/1/model"'*) stable=$((stable + 1)) ;;
      *'"id": "e2e-scorer"'*'"root": "/models/e2e-scorer/2/model"'*) candidate=$((candidate + 1)) ;;
      *) echo "::error::an answer through the Gateway that no track gives: $out"; kill "$pid"; exit 1 ;;
    esac
  done
  kill "$pid"
  echo "through the Gateway: $stable answers from stable (v1), $candidate from the candidate (v2), of $n (split 80/20)"
  if [ "$stable" -eq 0 ] || [ "$candidate" -eq 0 ]; then
    echo "::error::the canary split did not reach both tracks through the Gateway"
    exit 1
  fi
}

wait_for() {  # wait_for WHAT COMMAND: run COMMAND every 2 s until it succeeds, for up to 3 minutes
  local _
  for _ in $(seq 90); do
    if bash -c "$2" >/dev/null 2>&1; then return 0; fi
    sleep 2
  done
  echo "::error::timed out waiting for $1"
  exit 1
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
  kubectl get gatewayclass,gateway,httproute -A -o yaml || true
  kubectl -n nginx-gateway logs deploy/nginx-gateway --tail=100 || true
  kubectl -n gateways logs --all-containers --prefix -l gateway.networking.k8s.io/gateway-name=e2e --tail=100 || true
  tail -n 50 "$WORK/port-forward.log" || true
  tail -n 100 "$WORK/mlflow.log" || true
  tail -n 50 "$WORK/registry.log" || true
}

"$@"
