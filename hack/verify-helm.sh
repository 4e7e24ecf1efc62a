#!/usr/bin/env bash
# Renders config/default with kustomize and the chart with `helm template`, and checks
# that they install the same CRDs, RBAC and manager Deployment (see hack/verify-helm).
# Run by `make helm-lint`, which builds the pinned kustomize and helm into bin/.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${ROOT}"
HELM="${HELM:?set HELM to the helm binary (make helm-lint does)}"
KUSTOMIZE="${KUSTOMIZE:?set KUSTOMIZE to the kustomize binary (make helm-lint does)}"
CHART="${CHART:-charts/csms-operator}"

work="$(mktemp -d)"
trap 'rm -rf "${work}"' EXIT

"${KUSTOMIZE}" build config/default > "${work}/kustomize.yaml"
"${HELM}" template csms-operator "${CHART}" --namespace csms-system --include-crds > "${work}/helm.yaml"
# The optional parts must render too.
"${HELM}" template csms-operator "${CHART}" --namespace csms-system \
  --set metrics.serviceMonitor.enabled=true --set 'manager.extraArgs={--zap-log-level=debug}' \
  --set metrics.enabled=false --set userRoles.enabled=false > /dev/null
# Targets off: no role to write Secrets, and the manager is told so.
"${HELM}" template csms-operator "${CHART}" --namespace csms-system --set targets.enabled=false > "${work}/no-targets.yaml"
if grep -q 'manager-targets-role' "${work}/no-targets.yaml" || ! grep -q -- '--enable-targets=false' "${work}/no-targets.yaml"; then
  echo "targets.enabled=false must drop the targets role and pass --enable-targets=false" >&2
  exit 1
fi
# The optional dashboard ConfigMap, checked against config/grafana below.
"${HELM}" template csms-operator "${CHART}" --namespace csms-system --show-only templates/grafana-dashboard.yaml \
  --set grafanaDashboard.enabled=true > "${work}/dashboard.yaml"

go run ./hack/verify-helm -chart "${CHART}" -kustomize "${work}/kustomize.yaml" -helm "${work}/helm.yaml" \
  -dashboard-configmap "${work}/dashboard.yaml"
