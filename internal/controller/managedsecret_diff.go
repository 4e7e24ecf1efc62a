package controller

import (
	"slices"
	"sort"
	"strconv"
	"strings"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/csms-operator/csms-operator/api/v1alpha1"
	"github.com/csms-operator/csms-operator/internal/csms"
)

// This file holds the pure comparisons of a ManagedSecret's spec with what CSMS reports.
// They make no calls, so table tests cover every branch.

// createInput is the CreateSecret body for ms, without the value.
func createInput(ms *v1alpha1.ManagedSecret) csms.CreateSecretInput {
	in := csms.CreateSecretInput{
		Name:                ms.CSMSName(),
		KmsKeyID:            ms.Spec.KMSKeyID,
		Description:         ms.Spec.Description,
		SecretType:          string(ms.SecretTypeOrDefault()),
		EnterpriseProjectID: ms.Spec.EnterpriseProjectID,
	}
	if len(ms.Spec.EventSubscriptions) > 0 {
		in.EventSubscriptions = slices.Clone(ms.Spec.EventSubscriptions)
	}
	if rot := ms.Spec.Rotation; rot != nil {
		in.AutoRotation = rot.Enabled
		in.RotationPeriod = rot.Period
		in.RotationFuncURN = rot.FunctionURN
		if rot.Config != nil {
			in.RotationConfig = rot.Config.CSMSString()
		}
	}
	return in
}

// diffSecret returns the UpdateSecret body that brings sec in line with ms, and the names
// of the fields it changes (for events and logs; never values). ok is false when nothing
// differs, so steady state makes no write.
//
// What is not compared, and why:
//   - an empty spec.kmsKeyID means csms/default, whose ID the cloud reports but the spec
//     does not know, so it is left as it is;
//   - rotation period and function are compared only while rotation is enabled, because
//     CSMS keeps them (harmlessly) after rotation is turned off;
//   - secretType, name, rotation config and enterprise project cannot be changed by
//     UpdateSecret (the first two are immutable in the schema).
func diffSecret(ms *v1alpha1.ManagedSecret, sec *csms.Secret) (in csms.UpdateSecretInput, fields []string, ok bool) {
	if ms.Spec.Description != sec.Description {
		d := ms.Spec.Description
		in.Description = &d
		fields = append(fields, "description")
	}
	if ms.Spec.KMSKeyID != "" && ms.Spec.KMSKeyID != sec.KmsKeyID {
		k := ms.Spec.KMSKeyID
		in.KmsKeyID = &k
		fields = append(fields, "kmsKeyID")
	}
	rot := ms.Spec.Rotation
	enabled := rot != nil && rot.Enabled
	if enabled != sec.AutoRotation {
		in.AutoRotation = &enabled
		fields = append(fields, "rotation.enabled")
	}
	if enabled {
		if !samePeriod(rot.Period, sec.RotationPeriod) {
			p := rot.Period
			in.RotationPeriod = &p
			fields = append(fields, "rotation.period")
		}
		if rot.FunctionURN != sec.RotationFuncURN {
			u := rot.FunctionURN
			in.RotationFuncURN = &u
			fields = append(fields, "rotation.functionURN")
		}
	}
	if !sameSet(ms.Spec.EventSubscriptions, sec.EventSubscriptions) {
		ev := slices.Clone(ms.Spec.EventSubscriptions)
		if ev == nil {
			ev = []string{} // an empty list clears the subscription
		}
		in.EventSubscriptions = &ev
		fields = append(fields, "eventSubscriptions")
	}
	return in, fields, len(fields) > 0
}

// samePeriod compares two rotation periods by length, so that "30d" and "720h" are equal
// and a service that normalises the unit does not make the operator update forever.
func samePeriod(a, b string) bool {
	if a == b {
		return true
	}
	sa, okA := periodSeconds(a)
	sb, okB := periodSeconds(b)
	return okA && okB && sa == sb
}

// periodSeconds parses Integer[d|h|m|s].
func periodSeconds(p string) (int64, bool) {
	if len(p) < 2 {
		return 0, false
	}
	n, err := strconv.ParseInt(p[:len(p)-1], 10, 64)
	if err != nil || n < 0 {
		return 0, false
	}
	unit := map[byte]int64{'d': 86400, 'h': 3600, 'm': 60, 's': 1}[p[len(p)-1]]
	if unit == 0 {
		return 0, false
	}
	return n * unit, true
}

// sameSet compares two string lists ignoring order and duplicates; nil equals empty.
func sameSet(a, b []string) bool {
	as, bs := slices.Clone(a), slices.Clone(b)
	sort.Strings(as)
	sort.Strings(bs)
	return slices.Equal(slices.Compact(as), slices.Compact(bs))
}

// desiredTags is the full tag set of a secret owned by ms: spec.tags plus the ownership
// tags. spec.tags is authoritative: the schema keeps it clear of the reserved keys.
func desiredTags(ms *v1alpha1.ManagedSecret) map[string]string {
	t := make(map[string]string, len(ms.Spec.Tags)+2)
	for k, v := range ms.Spec.Tags {
		t[k] = v
	}
	t[v1alpha1.TagKeyManagedBy] = v1alpha1.TagValueManagedBy
	t[v1alpha1.TagKeyOwner] = ms.OwnerTagValue()
	return t
}

// diffTags returns the tags to set (new or changed values) and the keys to remove so
// that the cloud holds exactly desired. Both are sorted/deterministic; ok is false when
// the tags already match.
func diffTags(desired, observed map[string]string) (set map[string]string, remove []string, ok bool) {
	set = map[string]string{}
	for k, v := range desired {
		if cur, found := observed[k]; !found || cur != v {
			set[k] = v
		}
	}
	for k := range observed {
		if _, keep := desired[k]; !keep {
			remove = append(remove, k)
		}
	}
	sort.Strings(remove)
	return set, remove, len(set) > 0 || len(remove) > 0
}

// ownership says how a cloud secret relates to a ManagedSecret.
type ownership int

const (
	// notOwned: not proven to be this resource's, and no owner tag names another resource
	// (an untagged secret, or tags not read). Never written to unless adopted.
	notOwned ownership = iota
	// ownedByID: its ID is status.secretID (and the owner tag, if read, agrees).
	ownedByID
	// ownedByTags: its ownership tags name this resource's namespace and name (the UID may
	// differ when the resource was deleted and re-created).
	ownedByTags
	// ownedByPendingMark: it carries no ownership tag and the resource carries the
	// create-pending mark: the operator crashed between CreateSecret and tagging.
	ownedByPendingMark
	// ownedByOther: its owner tag names another ManagedSecret.
	ownedByOther
	// ownershipLost: status.secretID says it is this resource's, but its owner tag now
	// names another resource. Nothing is written to it and it is never retagged.
	ownershipLost
)

func (o ownership) owned() bool {
	return o == ownedByID || o == ownedByTags || o == ownedByPendingMark
}

// ownershipOf decides whether sec belongs to ms. tags may be nil when they were not read;
// then only the ID can prove ownership. An owner tag naming another resource outweighs
// the ID: someone retagged the secret, and a write would take it back from them.
func ownershipOf(ms *v1alpha1.ManagedSecret, sec *csms.Secret, tags map[string]string) ownership {
	byID := ms.Status.SecretID != "" && ms.Status.SecretID == sec.ID
	owner, hasOwner := tags[v1alpha1.TagKeyOwner]
	if hasOwner && ownerPrefix(owner) != ownerPrefix(ms.OwnerTagValue()) {
		if byID {
			return ownershipLost
		}
		return ownedByOther
	}
	switch {
	case byID:
		return ownedByID
	case tags == nil:
		return notOwned
	case tags[v1alpha1.TagKeyManagedBy] == v1alpha1.TagValueManagedBy && hasOwner:
		return ownedByTags
	case !hasOwner && tags[v1alpha1.TagKeyManagedBy] == "" && hasPendingMark(ms):
		return ownedByPendingMark
	}
	return notOwned
}

// ownerPrefix is the "<namespace>/<name>/" part of an owner tag value (the UID cut off).
func ownerPrefix(v string) string {
	uid := v1alpha1.OwnerUIDFromTag(v)
	return v[:len(v)-len(uid)]
}

// ownerKeyFromTag returns the namespace and name an owner tag names. ok is false when the
// tag is not of the form OwnerTagValue writes, or when its prefix may have been cut at
// CSMS's tag length limit (the name in it could then be another resource's).
func ownerKeyFromTag(v string) (client.ObjectKey, bool) {
	prefix := strings.TrimSuffix(ownerPrefix(v), "/")
	uid := v1alpha1.OwnerUIDFromTag(v)
	if uid == "" || len(prefix) >= v1alpha1.MaxTagValueLength-len(uid)-1 {
		return client.ObjectKey{}, false
	}
	ns, name, ok := strings.Cut(prefix, "/")
	if !ok || ns == "" || name == "" || strings.Contains(name, "/") {
		return client.ObjectKey{}, false
	}
	return client.ObjectKey{Namespace: ns, Name: name}, true
}

// missingReplicas returns the spec replicas that the cloud does not list, in spec order.
func missingReplicas(ms *v1alpha1.ManagedSecret, sec *csms.Secret) []v1alpha1.ReplicaSpec {
	have := map[string]bool{}
	for _, r := range sec.Replicas {
		have[r.Region] = true
	}
	var out []v1alpha1.ReplicaSpec
	for _, r := range ms.Spec.Replicas {
		if !have[r.Region] {
			out = append(out, r)
		}
	}
	return out
}

// rotated reports whether CSMS rotated the value since the status was written: the
// rotation times moved. Only then is the current version re-read.
func rotated(st *v1alpha1.ManagedSecretStatus, sec *csms.Secret) bool {
	return !sameTime(st.RotationTime, sec.RotationTime) || !sameTime(st.NextRotationTime, sec.NextRotationTime)
}
