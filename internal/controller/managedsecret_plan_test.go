package controller

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/csms-operator/csms-operator/api/v1alpha1"
	"github.com/csms-operator/csms-operator/internal/csms"
	"github.com/csms-operator/csms-operator/internal/provider"
)

// planCase is a spec and an observation; the planner is pure, so no cluster is needed.
func planObs(mut func(*observation)) *observation {
	obs := &observation{secret: cloudSecret(), own: ownedByID, target: &provider.Target{Key: "ClusterProviderConfig/default", Policy: allowAll},
		source: sourceObservation{set: true, identity: "secretKeyRef:src/password", version: "7"}}
	if mut != nil {
		mut(obs)
	}
	return obs
}

func settledSpec(mut func(*v1alpha1.ManagedSecret)) *v1alpha1.ManagedSecret {
	return msWith(func(m *v1alpha1.ManagedSecret) {
		m.Finalizers = []string{v1alpha1.Finalizer}
		m.Status.SecretID = "id-1"
		if mut != nil {
			mut(m)
		}
	})
}

func kinds(p plan) []changeKind {
	var out []changeKind
	for _, c := range p.changes {
		out = append(out, c.kind)
	}
	return out
}

func TestPlanChanges(t *testing.T) {
	withMark := func(m *v1alpha1.ManagedSecret) {
		m.Status.CreatePending = true
	}
	allowNothing := &provider.Target{Key: "ClusterProviderConfig/default"}
	foreignLive := func(o *observation) {
		o.own, o.otherOwnerLive = ownedByOther, true
		o.tags = map[string]string{"managed-by": "csms-operator", "csms-operator-owner": "other/db/uid-9"}
	}
	tests := []struct {
		name        string
		ms          *v1alpha1.ManagedSecret
		obs         *observation
		want        []changeKind
		wantRefusal string
		wantManage  string // refusal Manage would meet, with Observe
	}{
		{name: "steady state plans nothing", ms: settledSpec(nil), obs: planObs(nil)},
		{name: "unknown cloud plans nothing", ms: settledSpec(nil), obs: planObs(func(o *observation) { o.err = errBoom; o.secret = nil })},
		{name: "new secret", ms: msWith(nil), obs: planObs(func(o *observation) { o.secret, o.assumedAbsent, o.own = nil, true, notOwned }),
			want: []changeKind{addFinalizer, markCreatePending, createSecret, updateTags}},
		{name: "new secret with replicas", ms: msWith(func(m *v1alpha1.ManagedSecret) {
			m.Spec.Replicas = []v1alpha1.ReplicaSpec{{Region: "ap-southeast-3"}, {Region: "cn-east-3"}}
		}), obs: planObs(func(o *observation) { o.secret, o.own = nil, notOwned }),
			want: []changeKind{addFinalizer, markCreatePending, createSecret, updateTags, createReplica, createReplica}},
		{name: "marked and finalized already: no second metadata write", ms: msWith(func(m *v1alpha1.ManagedSecret) {
			withMark(m)
			m.Finalizers = []string{v1alpha1.Finalizer}
		}), obs: planObs(func(o *observation) { o.secret, o.own = nil, notOwned }),
			want: []changeKind{createSecret, updateTags}},
		{name: "no value to create with", ms: msWith(nil), obs: planObs(func(o *observation) {
			o.secret, o.own, o.source.err = nil, notOwned, errBoom
		})},
		{name: "generated value", ms: msWith(func(m *v1alpha1.ManagedSecret) {
			m.Spec.Value = &v1alpha1.SecretValueSource{Generate: &v1alpha1.GenerateSpec{}}
		}), obs: planObs(func(o *observation) { o.secret, o.own, o.source = nil, notOwned, sourceObservation{} }),
			want: []changeKind{addFinalizer, markCreatePending, createSecret, updateTags}},
		{name: "finalizer removed by hand", ms: settledSpec(func(m *v1alpha1.ManagedSecret) { m.Finalizers = nil }), obs: planObs(nil),
			want: []changeKind{addFinalizer}},
		{name: "description changed", ms: settledSpec(func(m *v1alpha1.ManagedSecret) { m.Spec.Description = "new" }), obs: planObs(nil),
			want: []changeKind{updateSecret}},
		{name: "tags read and different", ms: settledSpec(func(m *v1alpha1.ManagedSecret) { m.Spec.Tags = map[string]string{"team": "a"} }),
			obs: planObs(func(o *observation) { o.tags = ourTags() }), want: []changeKind{updateTags}},
		{name: "crash before tagging is finished", ms: msWith(withMark),
			obs:  planObs(func(o *observation) { o.own, o.tags = ownedByPendingMark, map[string]string{} }),
			want: []changeKind{addFinalizer, updateTags}},
		{name: "missing replica", ms: settledSpec(func(m *v1alpha1.ManagedSecret) {
			m.Spec.Replicas = []v1alpha1.ReplicaSpec{{Region: "ap-southeast-3"}}
		}), obs: planObs(nil), want: []changeKind{createReplica}},
		{name: "source changed and differs", ms: settledSpec(nil), obs: planObs(func(o *observation) {
			o.source.changed, o.source.compared, o.source.differs = true, true, true
		}), want: []changeKind{putValue}},
		{name: "source changed, same value", ms: settledSpec(nil), obs: planObs(func(o *observation) {
			o.source.changed, o.source.compared = true, true
		})},
		{name: "pending deletion is restored; the value waits", ms: settledSpec(nil), obs: planObs(func(o *observation) {
			o.secret.State = csms.StatePendingDelete
			o.source.changed = true
		}), want: []changeKind{restoreSecret}},
		{name: "not ours", ms: msWith(nil), obs: planObs(func(o *observation) { o.own = notOwned; o.tags = map[string]string{} }),
			wantRefusal: v1alpha1.ReasonAlreadyExists},
		{name: "adopt an untagged secret", ms: msWith(func(m *v1alpha1.ManagedSecret) { m.Spec.AdoptionPolicy = v1alpha1.AdoptionPolicyAdopt }),
			obs:  planObs(func(o *observation) { o.own, o.tags = notOwned, map[string]string{"x": "y"} }),
			want: []changeKind{addFinalizer, updateTags}},
		{name: "adopt without the provider's permission", ms: msWith(func(m *v1alpha1.ManagedSecret) { m.Spec.AdoptionPolicy = v1alpha1.AdoptionPolicyAdopt }),
			obs:         planObs(func(o *observation) { o.own, o.tags, o.target = notOwned, map[string]string{}, allowNothing }),
			wantRefusal: v1alpha1.ReasonPolicyDenied},
		{name: "observe a foreign secret without the provider's permission", ms: msWith(func(m *v1alpha1.ManagedSecret) {
			m.Spec.ManagementPolicy = v1alpha1.ManagementPolicyObserve
		}), obs: planObs(func(o *observation) { o.own, o.tags, o.target = notOwned, map[string]string{}, allowNothing }),
			wantRefusal: v1alpha1.ReasonPolicyDenied},
		{name: "observe one's own secret needs no permission", ms: settledSpec(func(m *v1alpha1.ManagedSecret) {
			m.Spec.ManagementPolicy = v1alpha1.ManagementPolicyObserve
		}), obs: planObs(func(o *observation) { o.target = allowNothing })},
		{name: "adopt the secret of a resource that is gone", ms: msWith(func(m *v1alpha1.ManagedSecret) { m.Spec.AdoptionPolicy = v1alpha1.AdoptionPolicyAdopt }),
			obs: planObs(func(o *observation) {
				foreignLive(o)
				o.otherOwnerLive = false
			}), want: []changeKind{addFinalizer, updateTags}},
		{name: "never adopt a live resource's secret", ms: msWith(func(m *v1alpha1.ManagedSecret) { m.Spec.AdoptionPolicy = v1alpha1.AdoptionPolicyAdopt }),
			obs: planObs(foreignLive), wantRefusal: v1alpha1.ReasonOwnedByAnotherResource},
		{name: "ownership lost", ms: settledSpec(func(m *v1alpha1.ManagedSecret) { m.Spec.Description = "new" }), obs: planObs(func(o *observation) {
			foreignLive(o)
			o.own = ownershipLost
		}), wantRefusal: v1alpha1.ReasonOwnershipLost},
		{name: "observe shows what Manage would do", ms: settledSpec(func(m *v1alpha1.ManagedSecret) {
			m.Spec.ManagementPolicy = v1alpha1.ManagementPolicyObserve
			m.Spec.Description = "new"
		}), obs: planObs(nil), want: []changeKind{updateSecret}},
		{name: "observe a foreign secret Manage would refuse", ms: msWith(func(m *v1alpha1.ManagedSecret) {
			m.Spec.ManagementPolicy = v1alpha1.ManagementPolicyObserve
		}), obs: planObs(func(o *observation) { o.own, o.tags = notOwned, map[string]string{} }), wantManage: v1alpha1.ReasonAlreadyExists},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := planChanges(tt.ms, tt.obs)
			if diff := cmp.Diff(tt.want, kinds(p)); diff != "" {
				t.Errorf("changes (-want +got):\n%s", diff)
			}
			gotRefusal, gotManage := "", ""
			if p.refusal != nil {
				gotRefusal = p.refusal.reason
			}
			if p.manageRefusal != nil {
				gotManage = p.manageRefusal.reason
			}
			if gotRefusal != tt.wantRefusal || gotManage != tt.wantManage {
				t.Errorf("refusal %q, Manage refusal %q; want %q, %q", gotRefusal, gotManage, tt.wantRefusal, tt.wantManage)
			}
		})
	}
}

// TestPlanDescribesFieldsNeverValues: what status.plannedChanges shows names the call and
// the fields, tag keys and regions it touches, and nothing a value could hide in.
func TestPlanDescribesFieldsNeverValues(t *testing.T) {
	const canary = "plan-canary-77Qe"
	ms := settledSpec(func(m *v1alpha1.ManagedSecret) {
		m.Spec.Description = canary
		m.Spec.Tags = map[string]string{"team": canary}
		m.Spec.Replicas = []v1alpha1.ReplicaSpec{{Region: "ap-southeast-3", ProjectID: canary}}
	})
	obs := planObs(func(o *observation) {
		o.tags = ourTags()
		o.source.changed, o.source.compared, o.source.differs = true, true, true
		o.source.value = csms.StringValue(canary)
	})
	p := planChanges(ms, obs)
	var got []string
	for _, c := range p.changes {
		got = append(got, c.String())
	}
	want := []string{
		"UpdateTags: set team; remove none",
		"UpdateSecret: description",
		"CreateReplica: region ap-southeast-3",
		"CreateSecretVersion: secretKeyRef:src/password changed",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("plan (-want +got):\n%s", diff)
	}
	if strings.Contains(strings.Join(got, "\n"), canary) {
		t.Errorf("the plan shows a value: %q", got)
	}
}
