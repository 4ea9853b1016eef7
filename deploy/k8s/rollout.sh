#!/usr/bin/env bash
# Roll out one environment: deploy/k8s/rollout.sh <staging|production>
#
# 1. the namespace, ConfigMap and Secret; 2. the migrations Job (the previous one deleted: a Job's pod
# template cannot change), waited for; 3. everything else, then wait for the Deployments. The API and
# workers refuse to start on an outdated schema, so migrations must finish first. The old pods keep
# serving while the Job runs: write migrations the old code survives (add first, drop a release later).
set -euo pipefail
env="${1:?usage: rollout.sh <staging|production>}"
dir="$(cd "$(dirname "$0")" && pwd)/overlays/$env"
[ -f "$dir/secrets.env" ] || { echo "missing $dir/secrets.env (copy secrets.env.example and fill it in)" >&2; exit 1; }
ns="$(kubectl kustomize "$dir" | sed -n 's/^  namespace: //p' | head -n 1)"

rendered="$(mktemp)"
trap 'rm -f "$rendered"' EXIT
kubectl kustomize "$dir" > "$rendered"

echo "--- namespace, config and secrets ($ns)"
kubectl apply -f "$dir/namespace.yaml"
kubectl apply -f "$rendered" --selector app.kubernetes.io/component=config

echo "--- migrations"
kubectl -n "$ns" delete job agape-migrate --ignore-not-found --wait=true
kubectl apply -f "$rendered" --selector app.kubernetes.io/component=migrate
if ! kubectl -n "$ns" wait --for=condition=complete job/agape-migrate --timeout=900s; then
  kubectl -n "$ns" logs job/agape-migrate --tail=100 || true
  echo "migrations failed: nothing else was changed" >&2
  exit 1
fi

echo "--- api and workers"
kubectl apply -f "$rendered"
for d in agape-api agape-worker-mail agape-worker-invoices agape-worker-payments agape-worker-scheduled; do
  kubectl -n "$ns" rollout status "deployment/$d" --timeout=600s
done
echo "rolled out $env"
