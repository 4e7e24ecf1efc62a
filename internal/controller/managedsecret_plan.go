package controller

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/csms-operator/csms-operator/api/v1alpha1"
	"github.com/csms-operator/csms-operator/internal/csms"
	"github.com/csms-operator/csms-operator/internal/provider"
)

// changeKind is what one planned change does: one CSMS call or one Kubernetes write.
type changeKind int

const (
	// markCreatePending writes status.createPending, the create intent, before anything
	// exists in the cloud (right after the finalizer).
	markCreatePending changeKind = iota
	// addFinalizer puts back a finalizer removed by hand from a resource that created
	// (or adopted) its secret.
	addFinalizer
	createSecret
	restoreSecret
	updateTags
	updateSecret
	createReplica
	putValue
	// writeTarget creates or updates the target Secret (Kubernetes).
	writeTarget
	// restartWorkload sets the restarted-for annotation of a workload's pod template.
	restartWorkload
)

// change is one step of a plan. Its String names the call and the fields it touches,
// never a value: it is what status.plannedChanges shows.
type change struct {
	kind changeKind
	// fields changed by updateSecret.
	fields []string
	update csms.UpdateSecretInput
	// tags set and removed by updateTags; adopt when they take over a secret.
	set    map[string]string
	remove []string
	adopt  bool
	// replica created by createReplica.
	replica v1alpha1.ReplicaSpec
	// what: the value source, for createSecret and putValue.
	what string
	// workload restarted by restartWorkload.
	workload v1alpha1.WorkloadReference
}

func (c change) String() string {
	switch c.kind {
	case markCreatePending:
		return "Patch ManagedSecret status: createPending"
	case addFinalizer:
		return "Patch ManagedSecret: metadata.finalizers"
	case createSecret:
		return "CreateSecret: name, secretType, kmsKeyID, description, rotation, eventSubscriptions, enterpriseProjectID, the value of " + c.what
	case restoreSecret:
		return "RestoreSecret: cancel the scheduled deletion"
	case updateTags:
		s := "UpdateTags: "
		if c.adopt {
			s += "take ownership; "
		}
		return s + "set " + keyList(slices.Collect(maps.Keys(c.set))) + "; remove " + keyList(c.remove)
	case updateSecret:
		return "UpdateSecret: " + strings.Join(c.fields, ", ")
	case createReplica:
		return "CreateReplica: region " + c.replica.Region
	case putValue:
		return "CreateSecretVersion: " + c.what + " changed"
	case writeTarget:
		return "Write Secret: spec.target (the current version)"
	case restartWorkload:
		return fmt.Sprintf("Patch %s %s: spec.template.metadata.annotations[%s]", c.workload.Kind, c.workload.Name, v1alpha1.AnnotationRestartedFor)
	}
	return fmt.Sprintf("change %d", c.kind)
}

// writesCloudSecret reports whether the change writes to a secret that exists.
func (c change) writesCloudSecret() bool {
	switch c.kind {
	case markCreatePending, addFinalizer, createSecret, writeTarget, restartWorkload:
		return false
	}
	return true
}

// has reports whether the plan holds a change of that kind.
func (p plan) has(kind changeKind) bool {
	return slices.ContainsFunc(p.changes, func(c change) bool { return c.kind == kind })
}

// plan is the ordered list of changes one pass makes, or the refusal that stops it.
type plan struct {
	changes []change
	// refusal: the resource may not act on the secret (it is not its own, or a policy
	// forbids it). With Observe, a refusal of what Manage would do is in manageRefusal.
	refusal       *conditionError
	manageRefusal *conditionError
	// targetRefusal: the target Secret may not be written (conflict, template error,
	// targets disabled); the cloud secret is not affected.
	targetRefusal *conditionError
	// shown, with Observe, is the plan Manage would carry out (status.plannedChanges);
	// changes are then only the target's, which Observe does make (Kubernetes writes).
	shown []change
}

// manageChanges are the changes an Observe pass shows: what Manage would do to the cloud
// secret and the resource.
func (p plan) manageChanges() []change {
	var out []change
	for _, c := range p.shown {
		if c.kind != writeTarget && c.kind != restartWorkload {
			out = append(out, c)
		}
	}
	return out
}

// observed is the plan an Observe pass carries out: only the target's changes; the rest
// is shown.
func (p plan) observed() plan {
	out := p
	out.shown, out.changes = p.changes, nil
	for _, c := range p.changes {
		if c.kind == writeTarget || c.kind == restartWorkload {
			out.changes = append(out.changes, c)
		}
	}
	return out
}

// writesCloudSecret reports whether the plan writes to an existing cloud secret.
func (p plan) writesCloudSecret() bool {
	return slices.ContainsFunc(p.changes, change.writesCloudSecret)
}

// policyOf is what the provider config a client came from allows its ManagedSecrets; an
// unknown config allows nothing.
func policyOf(t *provider.Target) v1alpha1.ProviderPolicy {
	if t == nil {
		return v1alpha1.ProviderPolicy{}
	}
	return t.Policy
}

// planChanges decides, from the spec and what the pass observed only, what Manage does
// next. It is the same with Observe, which shows it instead of carrying it out.
func planChanges(ms *v1alpha1.ManagedSecret, obs *observation) plan {
	p := planCloud(ms, obs)
	planTarget(ms, obs, &p)
	return p
}

// planCloud plans the changes to the cloud secret.
func planCloud(ms *v1alpha1.ManagedSecret, obs *observation) plan {
	if obs.err != nil {
		return plan{} // the cloud's state is unknown
	}
	sec := obs.secret
	if sec == nil {
		return planCreate(ms, obs)
	}
	name := ms.CSMSName()
	pol := policyOf(obs.target)
	adopt := false
	switch obs.own {
	case ownedByID, ownedByTags, ownedByPendingMark:
	case ownershipLost:
		if ms.Observing() && pol.AllowObserve {
			return plan{manageRefusal: ownershipLostError(name, obs.tags)}
		}
		return plan{refusal: ownershipLostError(name, obs.tags)}
	default:
		if ms.Observing() && !pol.AllowObserve {
			return plan{refusal: &conditionError{reason: v1alpha1.ReasonPolicyDenied, retryAtResync: true, message: fmt.Sprintf(
				"CSMS secret %q was not created by this resource, and observing it needs spec.policy.allowObserve: true on provider config %s, which it does not set; ask its owner to allow it, or reference another provider config",
				name, obs.target)}}
		}
		if refusal := adoptionRefusal(ms, obs, name, pol); refusal != nil {
			if ms.Observing() {
				return plan{manageRefusal: refusal}
			}
			return plan{refusal: refusal}
		}
		adopt = true
	}

	var p plan
	if !controllerutil.ContainsFinalizer(ms, v1alpha1.Finalizer) {
		p.changes = append(p.changes, change{kind: addFinalizer})
	}
	pendingDelete := sec.State == csms.StatePendingDelete
	if pendingDelete {
		p.changes = append(p.changes, change{kind: restoreSecret})
	}
	if obs.tags != nil {
		if set, remove, changed := diffTags(desiredTags(ms), obs.tags); changed {
			p.changes = append(p.changes, change{kind: updateTags, set: set, remove: remove, adopt: adopt})
		}
	}
	if in, fields, changed := diffSecret(ms, sec); changed {
		p.changes = append(p.changes, change{kind: updateSecret, update: in, fields: fields})
	}
	for _, rep := range missingReplicas(ms, sec) {
		p.changes = append(p.changes, change{kind: createReplica, replica: rep})
	}
	if src := obs.source; !pendingDelete && src.err == nil && src.compared && src.differs {
		p.changes = append(p.changes, change{kind: putValue, what: src.identity})
	}
	return p
}

// planCreate is the plan for a secret that does not exist: record the intent, create,
// tag as ours, clear the mark, add the replicas.
func planCreate(ms *v1alpha1.ManagedSecret, obs *observation) plan {
	what := "spec.value.generate"
	switch {
	case obs.source.set && obs.source.err != nil:
		return plan{} // no value to create it with; status reports why
	case obs.source.set:
		what = obs.source.identity
	case ms.Spec.Value == nil || ms.Spec.Value.Generate == nil:
		return plan{} // only Observe may leave spec.value out
	}
	var p plan
	if !controllerutil.ContainsFinalizer(ms, v1alpha1.Finalizer) {
		p.changes = append(p.changes, change{kind: addFinalizer})
	}
	if !hasPendingMark(ms) {
		p.changes = append(p.changes, change{kind: markCreatePending})
	}
	p.changes = append(p.changes,
		change{kind: createSecret, what: what},
		change{kind: updateTags, set: desiredTags(ms)})
	for _, rep := range ms.Spec.Replicas {
		p.changes = append(p.changes, change{kind: createReplica, replica: rep})
	}
	return p
}

// adoptionRefusal says why a secret this resource did not create may not be taken over,
// or nil when it may.
func adoptionRefusal(ms *v1alpha1.ManagedSecret, obs *observation, name string, pol v1alpha1.ProviderPolicy) *conditionError {
	switch {
	case ms.Spec.AdoptionPolicy != v1alpha1.AdoptionPolicyAdopt:
		return &conditionError{reason: v1alpha1.ReasonAlreadyExists, retryAtResync: true, message: fmt.Sprintf(
			"a CSMS secret named %q already exists and was not created by this resource; it is left untouched: set spec.adoptionPolicy: Adopt to take it over (the provider config must allow adoption), or set spec.name to another name",
			name)}
	case !pol.AllowAdoption:
		return &conditionError{reason: v1alpha1.ReasonPolicyDenied, retryAtResync: true, message: fmt.Sprintf(
			"CSMS secret %q exists and adoptionPolicy is Adopt, but provider config %s does not allow adoption (spec.policy.allowAdoption); ask its owner to allow it, or set spec.name to another name",
			name, obs.target)}
	case obs.own == ownedByOther && obs.otherOwnerLive:
		return &conditionError{reason: v1alpha1.ReasonOwnedByAnotherResource, retryAtResync: true, message: fmt.Sprintf(
			"CSMS secret %q belongs to ManagedSecret %s, which still exists; it is never adopted while its owner exists: set spec.name to another name",
			name, ownerName(obs.tags))}
	}
	return nil
}

func ownershipLostError(name string, tags map[string]string) *conditionError {
	return &conditionError{reason: v1alpha1.ReasonOwnershipLost, retryAtResync: true, message: fmt.Sprintf(
		"CSMS secret %q, created or adopted by this resource, is now tagged as owned by %s; nothing is written to it and it is not retagged: find out who changed its %s tag, and restore the tag or delete this resource",
		name, ownerName(tags), v1alpha1.TagKeyOwner)}
}

// ownerName is the namespace/name an owner tag names, for messages.
func ownerName(tags map[string]string) string {
	if key, ok := ownerKeyFromTag(tags[v1alpha1.TagKeyOwner]); ok {
		return key.String()
	}
	return fmt.Sprintf("another resource (tag %s)", v1alpha1.TagKeyOwner)
}

// keyList renders tag keys (never values) for an event or a plan.
func keyList(keys []string) string {
	if len(keys) == 0 {
		return "none"
	}
	keys = slices.Clone(keys)
	slices.Sort(keys)
	return strings.Join(keys, ", ")
}
