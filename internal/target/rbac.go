package target

// The permissions spec.target needs, beyond the manager's own role: writing the target
// Secrets and patching the pod templates of the workloads it restarts. `make manifests`
// turns these markers into config/rbac/targets/role.yaml (the ClusterRole
// manager-targets-role), bound only when targets are enabled, so a cluster that only
// pushes values to CSMS can keep the manager read-only on Secrets
// (--enable-targets=false, Helm value targets.enabled=false, kustomize component
// config/components/disable-targets).
//
// Reading Secrets (get; list/watch as metadata) is in the manager's own role: the value
// sources need it anyway.

// +kubebuilder:rbac:groups="",resources=secrets,verbs=create;update;patch
// +kubebuilder:rbac:groups=apps,resources=deployments;statefulsets;daemonsets,verbs=patch
