package controller

import (
	"context"
	"errors"

	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/csms-operator/csms-operator/api/v1alpha1"
	"github.com/csms-operator/csms-operator/internal/csms"
	"github.com/csms-operator/csms-operator/internal/provider"
	"github.com/csms-operator/csms-operator/internal/source"
)

// observation is everything one pass read, and all that plan and status decide on.
// Observing changes nothing in Kubernetes or in CSMS.
type observation struct {
	client csms.Client
	target *provider.Target

	// err stopped the observation (the provider config, or reading the cloud secret):
	// nothing after it was read, so the cloud's state is unknown.
	err error

	// secret is the cloud secret; nil when it does not exist or was assumed absent.
	secret *csms.Secret
	// assumedAbsent: a resource that never created anything is created without a read
	// first. CreateSecret refuses a taken name, and the pass then observes again.
	assumedAbsent bool
	// tags of the secret; nil when they were not read.
	tags map[string]string
	own  ownership
	// otherOwnerLive: the owner tag names another ManagedSecret that exists on the API
	// server. Checked only when the answer decides something (adoption).
	otherOwnerLive bool
	// versionID is the SYSCURRENT version read in this pass ("" when not read).
	versionID string

	source sourceObservation
	out    targetObservation
}

// sourceObservation is what a pass knows of spec.value.
type sourceObservation struct {
	// set: spec.value references a Secret (not generate, not absent).
	set      bool
	ref      source.Ref
	identity string
	// version is the Secret's resourceVersion.
	version string
	// changed: the Secret (or the reference) moved since the last push.
	changed bool
	// value is the source's value, read only when it changed or the secret is created.
	value csms.Value
	// compared: the cloud's current value was read and compared with value; differs
	// says whether they differ and cloudVersionID is the version read.
	compared       bool
	differs        bool
	cloudVersionID string
	// err: reading the source (or the cloud value to compare it with) failed. Everything
	// else in the observation still holds.
	err error
}

// valuePending reports whether the source changed and the pass has not yet settled
// whether the cloud holds its value.
func (s *sourceObservation) valuePending() bool {
	return s.changed && (!s.compared || s.differs)
}

// observe reads what this pass needs, in this order: the provider config's client, the
// cloud secret (one ShowSecret), and only when needed its tags, its SYSCURRENT stage and
// the value source. reobserve is true when the pass observes again after a create that
// found the name taken, so nothing is assumed.
func (r *ManagedSecretReconciler) observe(ctx context.Context, ms *v1alpha1.ManagedSecret, reobserve bool) *observation {
	obs := &observation{}
	cli, target, err := r.Providers.ClientFor(ctx, ms.Namespace, ms.ProviderConfigKey())
	if err != nil {
		if provider.IsConfigError(err) {
			obs.err = err
		} else {
			obs.err = step(err, "resolving the provider config")
		}
		return obs
	}
	obs.client, obs.target = cli, target
	name := ms.CSMSName()

	if !reobserve && mayAssumeAbsent(ms) {
		obs.assumedAbsent = true
	} else {
		sec, err := cli.GetSecret(ctx, name)
		switch {
		case errors.Is(err, csms.ErrNotFound):
		case err != nil:
			obs.err = step(err, "reading CSMS secret %q", name)
			return obs
		default:
			obs.secret = sec
		}
	}
	if obs.secret != nil {
		if err := r.observeOwnership(ctx, ms, obs); err != nil {
			obs.err = err
			return obs
		}
	}
	r.observeSource(ctx, ms, obs)
	if obs.secret != nil && !obs.source.compared {
		// Comparing the source read the current version already.
		if err := observeVersion(ctx, ms, obs, r.EnableTargets && ms.Spec.Target != nil); err != nil {
			obs.err = err
			return obs
		}
	}
	if err := r.observeTarget(ctx, ms, obs); err != nil {
		obs.err = err
	}
	return obs
}

// mayAssumeAbsent: a resource that never created (or tried to create) anything, that
// manages its secret and does not expect to adopt one, is created straight away. A
// first creation then costs CreateSecret + one tag call, the least CSMS allows. Once a
// create was refused because the name is taken, the resource observes first.
func mayAssumeAbsent(ms *v1alpha1.ManagedSecret) bool {
	if !neverCreated(ms) || ms.Observing() || ms.Spec.AdoptionPolicy == v1alpha1.AdoptionPolicyAdopt {
		return false
	}
	c := ms.GetCondition(v1alpha1.ConditionTypeReady)
	return c == nil || !foundTaken(c.Reason)
}

// foundTaken: reasons that say the name is taken in CSMS.
func foundTaken(reason string) bool {
	switch reason {
	case v1alpha1.ReasonAlreadyExists, v1alpha1.ReasonOwnedByAnotherResource, v1alpha1.ReasonPolicyDenied:
		return true
	}
	return false
}

// observeOwnership decides who the secret belongs to. The secret ID recorded in status
// proves it without a call; tags are read when that proof is missing, when the spec or
// the cloud changed since the last pass (the tags may be due an update, or someone may
// have retagged the secret), and while the create-pending mark is on.
func (r *ManagedSecretReconciler) observeOwnership(ctx context.Context, ms *v1alpha1.ManagedSecret, obs *observation) error {
	sec := obs.secret
	obs.own = ownershipOf(ms, sec, nil)
	if obs.own != ownedByID || hasPendingMark(ms) || ms.Generation != ms.Status.ObservedGeneration || cloudMoved(&ms.Status, sec) {
		if err := r.readTags(ctx, obs); err != nil {
			return err
		}
		obs.own = ownershipOf(ms, sec, obs.tags)
	}
	if obs.own == notOwned || obs.own == ownedByOther {
		// The cached resource may lag behind this reconciler's own writes (status.secretID,
		// the create-pending mark): look again at the resource as the API server has it
		// before calling the secret foreign.
		fresh, err := r.freshOwnership(ctx, ms, sec, obs.tags)
		if err != nil {
			return err
		}
		obs.own = fresh
	}
	if obs.own == ownedByOther && ms.Spec.AdoptionPolicy == v1alpha1.AdoptionPolicyAdopt {
		live, err := r.ownerExists(ctx, obs.tags[v1alpha1.TagKeyOwner])
		if err != nil {
			return err
		}
		obs.otherOwnerLive = live
	}
	return nil
}

// readTags reads the secret's tags into the observation.
func (r *ManagedSecretReconciler) readTags(ctx context.Context, obs *observation) error {
	tags, err := obs.client.ListTags(ctx, obs.secret.ID)
	if err != nil {
		return step(err, "reading tags of CSMS secret %q", obs.secret.Name)
	}
	obs.tags = tags
	return nil
}

// proveOwnership reads the tags before a pass writes to an existing secret, if the pass
// has not read them yet: a secret tagged as another resource's since the last read must
// not be written to. It costs one call per writing pass and nothing at steady state.
func (r *ManagedSecretReconciler) proveOwnership(ctx context.Context, ms *v1alpha1.ManagedSecret, obs *observation) error {
	if obs.tags != nil || obs.secret == nil {
		return nil
	}
	if err := r.readTags(ctx, obs); err != nil {
		return err
	}
	obs.own = ownershipOf(ms, obs.secret, obs.tags)
	return nil
}

// freshOwnership re-decides ownership against the resource as the API server has it. On
// success it also brings ms's metadata and secret ID up to date with what it read.
func (r *ManagedSecretReconciler) freshOwnership(ctx context.Context, ms *v1alpha1.ManagedSecret, sec *csms.Secret, tags map[string]string) (ownership, error) {
	own := ownershipOf(ms, sec, tags)
	if r.APIReader == nil {
		return own, nil
	}
	fresh := &v1alpha1.ManagedSecret{}
	if err := r.APIReader.Get(ctx, client.ObjectKeyFromObject(ms), fresh); err != nil {
		return own, step(err, "re-reading the ManagedSecret")
	}
	if fresh.UID != ms.UID {
		return own, nil
	}
	if o := ownershipOf(fresh, sec, tags); o.owned() {
		ms.Annotations = fresh.Annotations
		ms.ResourceVersion = fresh.ResourceVersion
		if ms.Status.SecretID == "" {
			ms.Status.SecretID = fresh.Status.SecretID
		}
		ms.Status.CreatePending = ms.Status.CreatePending || fresh.Status.CreatePending
		return o, nil
	}
	return own, nil
}

// ownerExists reports whether the ManagedSecret an owner tag names exists, asking the API
// server rather than the cache (a cache that has not seen it yet must not make its secret
// adoptable). A tag that cannot be parsed, e.g. one cut short at CSMS's 255 characters,
// counts as naming a live owner: when in doubt, take nothing.
func (r *ManagedSecretReconciler) ownerExists(ctx context.Context, tag string) (bool, error) {
	key, ok := ownerKeyFromTag(tag)
	if !ok || r.APIReader == nil {
		return true, nil
	}
	err := r.APIReader.Get(ctx, key, &v1alpha1.ManagedSecret{})
	switch {
	case err == nil:
		return true, nil
	case client.IgnoreNotFound(err) == nil:
		return false, nil
	default:
		return true, step(err, "checking whether the ManagedSecret %s named by the owner tag exists", key)
	}
}

// observeVersion re-reads the SYSCURRENT version when the cloud moved since the last
// pass (update_time or the rotation times changed), or when status does not know it yet
// for a secret this resource owns, so status never shows a version that is no longer
// current. A secret pending deletion has no readable stage.
func observeVersion(ctx context.Context, ms *v1alpha1.ManagedSecret, obs *observation, keepsTarget bool) error {
	sec := obs.secret
	if sec.State == csms.StatePendingDelete || !readable(ms, obs) {
		return nil
	}
	// A kept target follows SYSCURRENT, so its stage is read on every pass (two reads per
	// resync instead of one); otherwise only when the cloud moved.
	if !keepsTarget && !cloudMoved(&ms.Status, sec) && ms.Status.CurrentVersionID != "" {
		return nil
	}
	vid, err := obs.client.CurrentVersionID(ctx, sec.Name)
	if err != nil {
		return step(err, "reading the current version of CSMS secret %q", sec.Name)
	}
	obs.versionID = vid
	return nil
}

// readable reports whether this pass may read more of the secret than its metadata: its
// stage and value. Only a secret the resource owns, observes with the provider's
// permission, or is about to adopt; a secret it must leave alone is not read further.
func readable(ms *v1alpha1.ManagedSecret, obs *observation) bool {
	pol := policyOf(obs.target)
	switch {
	case obs.own.owned():
		return true
	case ms.Observing():
		return pol.AllowObserve
	case ms.Spec.AdoptionPolicy == v1alpha1.AdoptionPolicyAdopt:
		return pol.AllowAdoption && (obs.own == notOwned || obs.own == ownedByOther && !obs.otherOwnerLive)
	}
	return false
}

// cloudMoved reports whether CSMS changed the secret since status was written: its
// update time or rotation times moved.
func cloudMoved(st *v1alpha1.ManagedSecretStatus, sec *csms.Secret) bool {
	return !sameTime(st.UpdateTime, sec.UpdateTime) || rotated(st, sec)
}

// observeSource finds out whether the value source changed since the last push and, only
// then (or when the secret is to be created), reads its value and the cloud's current
// value to compare. The source's resourceVersion comes from the metadata cache, so an
// unchanged source costs no call.
func (r *ManagedSecretReconciler) observeSource(ctx context.Context, ms *v1alpha1.ManagedSecret, obs *observation) {
	src := &obs.source
	ref, ok := sourceRef(ms.Spec.Value)
	if !ok {
		return
	}
	src.set, src.ref, src.identity = true, ref, sourceIdentity(ref)
	creating := obs.secret == nil
	rv, err := r.Sources.Version(ctx, ms.Namespace, ref.Name)
	if err != nil {
		src.err = step(err, "reading the value source")
		return
	}
	src.version = rv
	st := &ms.Status
	src.changed = rv != st.ObservedSourceVersion || (st.ObservedSource != "" && st.ObservedSource != src.identity)
	if !src.changed && !creating || !creating && obs.secret.State == csms.StatePendingDelete {
		// Unchanged; or pending deletion, when the value cannot be read: the secret is
		// restored first and the next pass compares.
		return
	}
	if src.changed {
		logf.FromContext(ctx).V(1).Info("Source changed since the last push; comparing values",
			"sourceVersion", rv, "observedSourceVersion", st.ObservedSourceVersion,
			"source", src.identity, "observedSource", st.ObservedSource)
	}
	res, err := r.Sources.Read(ctx, ms.Namespace, ref)
	if err != nil {
		src.err = step(err, "reading the value source")
		return
	}
	src.value, src.version = res.Value, res.ResourceVersion
	if creating || !readable(ms, obs) {
		return
	}
	cur, vid, err := obs.client.GetCurrentValue(ctx, obs.secret.Name)
	if err != nil {
		src.err = step(err, "reading the current value of CSMS secret %q", obs.secret.Name)
		return
	}
	src.compared, src.differs, src.cloudVersionID = true, !cur.Equal(src.value), vid
}

// sourceIdentity names a value source for status.observedSource: its kind, Secret and key.
func sourceIdentity(ref source.Ref) string {
	switch ref.Kind {
	case source.KindSecret:
		return "secretRef:" + ref.Name
	case source.KindBinaryKey:
		return "binarySecretKeyRef:" + ref.Name + "/" + ref.Key
	default:
		return "secretKeyRef:" + ref.Name + "/" + ref.Key
	}
}

// sourceRef translates spec.value into a source reference; ok is false for generate and
// for no value at all.
func sourceRef(v *v1alpha1.SecretValueSource) (source.Ref, bool) {
	switch {
	case v == nil:
	case v.SecretKeyRef != nil:
		return source.Ref{Kind: source.KindSecretKey, Name: v.SecretKeyRef.Name, Key: v.SecretKeyRef.Key}, true
	case v.SecretRef != nil:
		return source.Ref{Kind: source.KindSecret, Name: v.SecretRef.Name}, true
	case v.BinarySecretKeyRef != nil:
		return source.Ref{Kind: source.KindBinaryKey, Name: v.BinarySecretKeyRef.Name, Key: v.BinarySecretKeyRef.Key}, true
	}
	return source.Ref{}, false
}

// neverCreated reports whether this resource has never created (or tried to create) a
// cloud secret: no secret ID in status and no create-pending mark (status.createPending).
// A crash after CreateSecret leaves the mark, so such a resource is observed first.
func neverCreated(ms *v1alpha1.ManagedSecret) bool {
	return ms.Status.SecretID == "" && !hasPendingMark(ms)
}

// hasPendingMark reports whether the resource carries the create-pending mark. It lives in
// status, which only the operator may write.
func hasPendingMark(ms *v1alpha1.ManagedSecret) bool {
	return ms.Status.CreatePending
}
