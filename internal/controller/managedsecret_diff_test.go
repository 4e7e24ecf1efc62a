package controller

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/csms-operator/csms-operator/api/v1alpha1"
	"github.com/csms-operator/csms-operator/internal/csms"
)

const (
	keyA = "0d0466b0-e727-4d9c-b35d-f84bb474a37f"
	keyB = "1d0466b0-e727-4d9c-b35d-f84bb474a37f"
)

func msWith(mut func(*v1alpha1.ManagedSecret)) *v1alpha1.ManagedSecret {
	ms := &v1alpha1.ManagedSecret{ObjectMeta: metav1.ObjectMeta{Namespace: "team", Name: "db", UID: "uid-1", Generation: 1}}
	ms.Spec.Value = &v1alpha1.SecretValueSource{SecretKeyRef: &v1alpha1.SecretKeySelector{Name: "src", Key: "password"}}
	if mut != nil {
		mut(ms)
	}
	return ms
}

func TestDiffSecret(t *testing.T) {
	rot := func(enabled bool, period, urn string) func(*v1alpha1.ManagedSecret) {
		return func(ms *v1alpha1.ManagedSecret) {
			ms.Spec.Rotation = &v1alpha1.RotationSpec{Enabled: enabled, Period: period, FunctionURN: urn}
		}
	}
	tests := []struct {
		name       string
		ms         *v1alpha1.ManagedSecret
		sec        csms.Secret
		want       csms.UpdateSecretInput
		wantFields []string
	}{
		{name: "in sync", ms: msWith(nil), sec: csms.Secret{KmsKeyID: keyA}},
		{name: "description", ms: msWith(func(m *v1alpha1.ManagedSecret) { m.Spec.Description = "new" }),
			sec: csms.Secret{Description: "old"}, want: csms.UpdateSecretInput{Description: ptr.To("new")}, wantFields: []string{"description"}},
		{name: "description cleared", ms: msWith(nil),
			sec: csms.Secret{Description: "old"}, want: csms.UpdateSecretInput{Description: ptr.To("")}, wantFields: []string{"description"}},
		{name: "empty kms key means csms/default: not compared", ms: msWith(nil), sec: csms.Secret{KmsKeyID: keyA}},
		{name: "kms key changed", ms: msWith(func(m *v1alpha1.ManagedSecret) { m.Spec.KMSKeyID = keyB }),
			sec: csms.Secret{KmsKeyID: keyA}, want: csms.UpdateSecretInput{KmsKeyID: ptr.To(keyB)}, wantFields: []string{"kmsKeyID"}},
		{name: "rotation enabled", ms: msWith(rot(true, "30d", "urn:fss:x")),
			sec:        csms.Secret{},
			want:       csms.UpdateSecretInput{AutoRotation: ptr.To(true), RotationPeriod: ptr.To("30d"), RotationFuncURN: ptr.To("urn:fss:x")},
			wantFields: []string{"rotation.enabled", "rotation.period", "rotation.functionURN"}},
		{name: "rotation period in other unit is equal", ms: msWith(rot(true, "30d", "urn:fss:x")),
			sec: csms.Secret{AutoRotation: true, RotationPeriod: "720h", RotationFuncURN: "urn:fss:x"}},
		{name: "rotation period changed", ms: msWith(rot(true, "7d", "urn:fss:x")),
			sec:  csms.Secret{AutoRotation: true, RotationPeriod: "30d", RotationFuncURN: "urn:fss:x"},
			want: csms.UpdateSecretInput{RotationPeriod: ptr.To("7d")}, wantFields: []string{"rotation.period"}},
		{name: "rotation disabled keeps period and function", ms: msWith(rot(false, "", "")),
			sec:  csms.Secret{AutoRotation: true, RotationPeriod: "30d", RotationFuncURN: "urn:fss:x"},
			want: csms.UpdateSecretInput{AutoRotation: ptr.To(false)}, wantFields: []string{"rotation.enabled"}},
		{name: "no rotation spec, cloud not rotating", ms: msWith(nil), sec: csms.Secret{RotationPeriod: "30d"}},
		{name: "event subscription added", ms: msWith(func(m *v1alpha1.ManagedSecret) { m.Spec.EventSubscriptions = []string{"ev"} }),
			sec: csms.Secret{}, want: csms.UpdateSecretInput{EventSubscriptions: &[]string{"ev"}}, wantFields: []string{"eventSubscriptions"}},
		{name: "event subscription removed sends an empty list", ms: msWith(nil),
			sec: csms.Secret{EventSubscriptions: []string{"ev"}}, want: csms.UpdateSecretInput{EventSubscriptions: &[]string{}}, wantFields: []string{"eventSubscriptions"}},
		{name: "event subscriptions equal", ms: msWith(func(m *v1alpha1.ManagedSecret) { m.Spec.EventSubscriptions = []string{"ev"} }),
			sec: csms.Secret{EventSubscriptions: []string{"ev"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, fields, ok := diffSecret(tt.ms, &tt.sec)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("diffSecret() input mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantFields, fields); diff != "" {
				t.Errorf("diffSecret() fields mismatch (-want +got):\n%s", diff)
			}
			if ok != (len(tt.wantFields) > 0) {
				t.Errorf("diffSecret() ok = %v", ok)
			}
		})
	}
}

func TestCreateInput(t *testing.T) {
	ms := msWith(func(m *v1alpha1.ManagedSecret) {
		m.Spec.Name = "payments-db"
		m.Spec.SecretType = v1alpha1.SecretTypeRDSFG
		m.Spec.KMSKeyID = keyA
		m.Spec.Description = "d"
		m.Spec.EnterpriseProjectID = "0"
		m.Spec.EventSubscriptions = []string{"ev"}
		m.Spec.Rotation = &v1alpha1.RotationSpec{Enabled: true, Period: "30d", FunctionURN: "urn:fss:x",
			Config: &v1alpha1.RotationConfig{InstanceID: "inst-1", SubType: v1alpha1.RotationSubTypeSingleUser}}
	})
	want := csms.CreateSecretInput{Name: "payments-db", KmsKeyID: keyA, Description: "d", SecretType: "RDS-FG",
		AutoRotation: true, RotationPeriod: "30d", RotationFuncURN: "urn:fss:x",
		RotationConfig:     `{"InstanceId":"inst-1","SecretSubType":"SingleUser"}`,
		EventSubscriptions: []string{"ev"}, EnterpriseProjectID: "0"}
	if diff := cmp.Diff(want, createInput(ms), cmp.Comparer(func(a, b csms.Value) bool { return a.Equal(b) })); diff != "" {
		t.Errorf("createInput() mismatch (-want +got):\n%s", diff)
	}
	if got := createInput(msWith(nil)); got.Name != "db" || got.SecretType != "COMMON" {
		t.Errorf("createInput() defaults: name %q type %q", got.Name, got.SecretType)
	}
}

func TestDiffTags(t *testing.T) {
	tests := []struct {
		name       string
		desired    map[string]string
		observed   map[string]string
		wantSet    map[string]string
		wantRemove []string
	}{
		{name: "equal", desired: map[string]string{"a": "1"}, observed: map[string]string{"a": "1"}, wantSet: map[string]string{}},
		{name: "untagged", desired: map[string]string{"a": "1", "b": "2"}, observed: map[string]string{},
			wantSet: map[string]string{"a": "1", "b": "2"}},
		{name: "changed value and removed key", desired: map[string]string{"a": "2"}, observed: map[string]string{"a": "1", "z": "9", "y": "8"},
			wantSet: map[string]string{"a": "2"}, wantRemove: []string{"y", "z"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set, remove, ok := diffTags(tt.desired, tt.observed)
			if diff := cmp.Diff(tt.wantSet, set); diff != "" {
				t.Errorf("set mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantRemove, remove); diff != "" {
				t.Errorf("remove mismatch (-want +got):\n%s", diff)
			}
			if ok != (len(tt.wantSet)+len(tt.wantRemove) > 0) {
				t.Errorf("ok = %v", ok)
			}
		})
	}
}

func TestDesiredTags(t *testing.T) {
	ms := msWith(func(m *v1alpha1.ManagedSecret) { m.Spec.Tags = map[string]string{"team": "payments"} })
	want := map[string]string{"team": "payments", "managed-by": "csms-operator", "csms-operator-owner": "team/db/uid-1"}
	if diff := cmp.Diff(want, desiredTags(ms)); diff != "" {
		t.Errorf("desiredTags() mismatch (-want +got):\n%s", diff)
	}
}

func TestOwnershipOf(t *testing.T) {
	ours := map[string]string{"managed-by": "csms-operator", "csms-operator-owner": "team/db/uid-1"}
	tests := []struct {
		name string
		ms   *v1alpha1.ManagedSecret
		tags map[string]string
		want ownership
	}{
		{name: "id in status", ms: msWith(func(m *v1alpha1.ManagedSecret) { m.Status.SecretID = "id-1" }), want: ownedByID},
		{name: "other id, tags not read", ms: msWith(func(m *v1alpha1.ManagedSecret) { m.Status.SecretID = "id-0" }), want: notOwned},
		{name: "our tags", ms: msWith(nil), tags: ours, want: ownedByTags},
		{name: "our tags from a previous incarnation (other uid)", ms: msWith(nil),
			tags: map[string]string{"managed-by": "csms-operator", "csms-operator-owner": "team/db/uid-0"}, want: ownedByTags},
		{name: "another resource's tags", ms: msWith(nil),
			tags: map[string]string{"managed-by": "csms-operator", "csms-operator-owner": "team/other/uid-9"}, want: ownedByOther},
		{name: "id in status and our tags", ms: msWith(func(m *v1alpha1.ManagedSecret) { m.Status.SecretID = "id-1" }), tags: ours, want: ownedByID},
		{name: "id in status, tags now name another resource", ms: msWith(func(m *v1alpha1.ManagedSecret) { m.Status.SecretID = "id-1" }),
			tags: map[string]string{"managed-by": "csms-operator", "csms-operator-owner": "other/db/uid-9"}, want: ownershipLost},
		{name: "owner tag without managed-by still names another resource", ms: msWith(nil),
			tags: map[string]string{"csms-operator-owner": "team/other/uid-9"}, want: ownedByOther},
		{name: "managed-by without owner", ms: msWith(nil), tags: map[string]string{"managed-by": "csms-operator"}, want: notOwned},
		{name: "untagged, no mark", ms: msWith(nil), tags: map[string]string{}, want: notOwned},
		{name: "untagged with the pending mark", ms: msWith(func(m *v1alpha1.ManagedSecret) {
			m.Status.CreatePending = true
		}), tags: map[string]string{"team": "x"}, want: ownedByPendingMark},
		{name: "another owner's tags win over the pending mark", ms: msWith(func(m *v1alpha1.ManagedSecret) {
			m.Status.CreatePending = true
		}), tags: map[string]string{"managed-by": "csms-operator", "csms-operator-owner": "team/other/uid-9"}, want: ownedByOther},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ownershipOf(tt.ms, &csms.Secret{ID: "id-1"}, tt.tags); got != tt.want {
				t.Errorf("ownershipOf() = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestOwnerKeyFromTag(t *testing.T) {
	long := strings.Repeat("n", 253)
	cut := (&v1alpha1.ManagedSecret{ObjectMeta: metav1.ObjectMeta{Namespace: "team", Name: long, UID: "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"}}).OwnerTagValue()
	tests := []struct {
		tag    string
		want   string
		wantOK bool
	}{
		{tag: "team/db/uid-1", want: "team/db", wantOK: true},
		{tag: "team/db", wantOK: false},
		{tag: "nouid", wantOK: false},
		{tag: "/db/uid", wantOK: false},
		{tag: "team//uid", wantOK: false},
		{tag: "a/b/c/uid", wantOK: false},
		// Cut at CSMS's 255 characters: the name in it may be someone else's.
		{tag: cut, wantOK: false},
	}
	for _, tt := range tests {
		key, ok := ownerKeyFromTag(tt.tag)
		if ok != tt.wantOK || ok && key.String() != tt.want {
			t.Errorf("ownerKeyFromTag(%q) = %v, %v; want %q, %v", tt.tag, key, ok, tt.want, tt.wantOK)
		}
	}
}

func TestMissingReplicas(t *testing.T) {
	ms := msWith(func(m *v1alpha1.ManagedSecret) {
		m.Spec.Replicas = []v1alpha1.ReplicaSpec{{Region: "ap-southeast-3"}, {Region: "cn-east-3"}}
	})
	got := missingReplicas(ms, &csms.Secret{Replicas: []csms.Replica{{Region: "cn-east-3"}}})
	if len(got) != 1 || got[0].Region != "ap-southeast-3" {
		t.Errorf("missingReplicas() = %v", got)
	}
}

func TestSamePeriod(t *testing.T) {
	for _, tt := range []struct {
		a, b string
		want bool
	}{{"30d", "30d", true}, {"30d", "720h", true}, {"1d", "86400s", true}, {"1d", "2d", false}, {"x", "30d", false}, {"", "", true}} {
		if got := samePeriod(tt.a, tt.b); got != tt.want {
			t.Errorf("samePeriod(%q, %q) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
	}
}
