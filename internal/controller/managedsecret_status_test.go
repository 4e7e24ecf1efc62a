package controller

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/event"

	"github.com/csms-operator/csms-operator/api/v1alpha1"
	"github.com/csms-operator/csms-operator/internal/csms"
	"github.com/csms-operator/csms-operator/internal/source"
)

func TestSetReadyFromCloud(t *testing.T) {
	withReplicas := func(m *v1alpha1.ManagedSecret) {
		m.Spec.Replicas = []v1alpha1.ReplicaSpec{{Region: "ap-southeast-3"}}
	}
	tests := []struct {
		name       string
		ms         *v1alpha1.ManagedSecret
		sec        csms.Secret
		wantStatus metav1.ConditionStatus
		wantReason string
		wantInMsg  string
	}{
		{name: "enabled", ms: msWith(nil), sec: csms.Secret{Name: "db", State: "ENABLED"},
			wantStatus: metav1.ConditionTrue, wantReason: v1alpha1.ReasonAvailable},
		{name: "pending delete", ms: msWith(nil), sec: csms.Secret{Name: "db", State: "PENDING_DELETE"},
			wantStatus: metav1.ConditionFalse, wantReason: v1alpha1.ReasonPendingDeletion},
		{name: "frozen", ms: msWith(nil), sec: csms.Secret{Name: "db", State: "FROZEN"},
			wantStatus: metav1.ConditionFalse, wantReason: v1alpha1.ReasonReconcileError, wantInMsg: "FROZEN"},
		{name: "replica not listed yet", ms: msWith(withReplicas), sec: csms.Secret{Name: "db", State: "ENABLED"},
			wantStatus: metav1.ConditionFalse, wantReason: v1alpha1.ReasonReplicasSyncing},
		{name: "replica in progress", ms: msWith(withReplicas),
			sec:        csms.Secret{Name: "db", State: "ENABLED", Replicas: []csms.Replica{{Region: "ap-southeast-3", Status: "IN_PROGRESS"}}},
			wantStatus: metav1.ConditionFalse, wantReason: v1alpha1.ReasonReplicasSyncing},
		{name: "replica in sync", ms: msWith(withReplicas),
			sec:        csms.Secret{Name: "db", State: "ENABLED", Replicas: []csms.Replica{{Region: "ap-southeast-3", Status: "IN_SYNC"}}},
			wantStatus: metav1.ConditionTrue, wantReason: v1alpha1.ReasonAvailable},
		{name: "replica failed names the region", ms: msWith(withReplicas),
			sec: csms.Secret{Name: "db", State: "ENABLED", Replicas: []csms.Replica{
				{Region: "ap-southeast-3", Status: "FAILED"}, {Region: "cn-east-3", Status: "IN_PROGRESS"}}},
			wantStatus: metav1.ConditionFalse, wantReason: v1alpha1.ReasonReplicaFailed, wantInMsg: "ap-southeast-3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			setReadyFromCloud(tt.ms, &tt.sec)
			c := tt.ms.GetCondition(v1alpha1.ConditionTypeReady)
			if c == nil || c.Status != tt.wantStatus || c.Reason != tt.wantReason {
				t.Fatalf("Ready = %+v, want %s/%s", c, tt.wantStatus, tt.wantReason)
			}
			if c.ObservedGeneration != tt.ms.Generation {
				t.Errorf("observedGeneration = %d, want %d", c.ObservedGeneration, tt.ms.Generation)
			}
			if !strings.Contains(c.Message, tt.wantInMsg) {
				t.Errorf("message %q does not mention %q", c.Message, tt.wantInMsg)
			}
		})
	}
}

func TestSetFailureConditions(t *testing.T) {
	ready := func(m *v1alpha1.ManagedSecret) {
		m.SetCondition(metav1.Condition{Type: v1alpha1.ConditionTypeReady, Status: metav1.ConditionTrue, Reason: v1alpha1.ReasonAvailable})
	}
	tests := []struct {
		name          string
		ms            *v1alpha1.ManagedSecret
		transient     bool
		wantReadyTrue bool
	}{
		{name: "permanent failure of a ready resource", ms: msWith(ready), wantReadyTrue: false},
		{name: "transient failure keeps Ready", ms: msWith(ready), transient: true, wantReadyTrue: true},
		{name: "transient failure of a new resource", ms: msWith(nil), transient: true, wantReadyTrue: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			setFailureConditions(tt.ms, v1alpha1.ReasonThrottled, "msg", tt.transient)
			s := tt.ms.GetCondition(v1alpha1.ConditionTypeSynced)
			if s == nil || s.Status != metav1.ConditionFalse || s.Reason != v1alpha1.ReasonThrottled || s.Message != "msg" {
				t.Errorf("Synced = %+v", s)
			}
			r := tt.ms.GetCondition(v1alpha1.ConditionTypeReady)
			if got := r.Status == metav1.ConditionTrue; got != tt.wantReadyTrue {
				t.Errorf("Ready = %+v, want true=%v", r, tt.wantReadyTrue)
			}
		})
	}
}

func TestSetCloudStatus(t *testing.T) {
	t0 := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	sec := &csms.Secret{ID: "id", Name: "db", State: "ENABLED", KmsKeyID: keyA, SecretType: "COMMON", DomainID: "dom",
		EnterpriseProjectID: "0", CreateTime: t0, UpdateTime: t0.Add(time.Minute), AutoRotation: true, RotationPeriod: "30d",
		NextRotationTime: t0.Add(30 * 24 * time.Hour), RotationFuncURN: "urn", EventSubscriptions: []string{"ev"},
		ReplicaType: "PRIMARY", Replicas: []csms.Replica{
			{ID: "r2", Region: "cn-east-3", Status: "IN_SYNC", ReplicaType: "REPLICA", CreatedAt: t0},
			{ID: "r1", Region: "ap-southeast-3", Status: "IN_PROGRESS", ReplicaType: "REPLICA"}}}
	var st v1alpha1.ManagedSecretStatus
	setCloudStatus(&st, sec)
	mt := func(t time.Time) *metav1.Time { m := metav1.NewTime(t); return &m }
	want := v1alpha1.ManagedSecretStatus{Name: "db", SecretID: "id", State: "ENABLED", KMSKeyID: keyA, SecretType: "COMMON", DomainID: "dom",
		EnterpriseProjectID: "0", CreateTime: mt(t0), UpdateTime: mt(t0.Add(time.Minute)), AutoRotation: true, RotationPeriod: "30d",
		NextRotationTime: mt(t0.Add(30 * 24 * time.Hour)), RotationFuncURN: "urn", EventSubscriptions: []string{"ev"},
		ReplicaType: "PRIMARY", Replicas: []v1alpha1.ReplicaStatus{
			{ID: "r1", Region: "ap-southeast-3", Status: "IN_PROGRESS", ReplicaType: "REPLICA"},
			{ID: "r2", Region: "cn-east-3", Status: "IN_SYNC", ReplicaType: "REPLICA", CreatedAt: mt(t0)}}}
	if diff := cmp.Diff(want, st); diff != "" {
		t.Errorf("setCloudStatus() mismatch (-want +got):\n%s", diff)
	}
	if rotated(&st, sec) {
		t.Errorf("rotated() = true right after copying the times")
	}
	sec.RotationTime = t0.Add(time.Hour)
	if !rotated(&st, sec) {
		t.Errorf("rotated() = false after the rotation time moved")
	}
}

func TestClassify(t *testing.T) {
	apiErr := func(kind error, status int, code string) error {
		return &csms.APIError{Operation: "UpdateSecret", StatusCode: status, Code: code, Message: "Invalid parameter x.", RequestID: "req-123", Kind: kind}
	}
	tests := []struct {
		name        string
		err         error
		wantReason  string
		wantRetry   retryPolicy
		wantInMsg   string
		wantNotInMs string
	}{
		{name: "invalid", err: step(apiErr(csms.ErrInvalid, 400, "CSMS.0002"), "updating description"),
			wantReason: v1alpha1.ReasonInvalidSpec, wantRetry: retryResync, wantInMsg: "updating description: CSMS UpdateSecret returned HTTP 400 CSMS.0002", wantNotInMs: "req-123"},
		{name: "throttled", err: step(apiErr(csms.ErrThrottled, 429, "APIGW.0308"), "reading"),
			wantReason: v1alpha1.ReasonThrottled, wantRetry: retryBackoff},
		{name: "unauthorized", err: apiErr(csms.ErrUnauthorized, 401, "APIGW.0301"), wantReason: v1alpha1.ReasonUnauthorized, wantRetry: retryBackoff},
		{name: "transient", err: apiErr(csms.ErrTransient, 503, ""), wantReason: v1alpha1.ReasonReconcileError, wantRetry: retryBackoff},
		{name: "source missing", err: step(fmt.Errorf("secret a/b does not exist: %w", source.ErrNotFound), "reading the value source"),
			wantReason: v1alpha1.ReasonSourceNotFound, wantRetry: retryResync, wantInMsg: "secret a/b does not exist"},
		{name: "source too large", err: fmt.Errorf("too big: %w", source.ErrInvalid), wantReason: v1alpha1.ReasonInvalidSpec, wantRetry: retryResync},
		{name: "condition error", err: &conditionError{reason: v1alpha1.ReasonAlreadyExists, message: "m", retryAtResync: true},
			wantReason: v1alpha1.ReasonAlreadyExists, wantRetry: retryResync},
		{name: "other", err: errBoom, wantReason: v1alpha1.ReasonReconcileError, wantRetry: retryBackoff, wantInMsg: "boom"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := classify(tt.err)
			if o.reason != tt.wantReason || o.retry != tt.wantRetry {
				t.Errorf("classify() = %+v, want reason %s retry %v", o, tt.wantReason, tt.wantRetry)
			}
			if !strings.Contains(o.message, tt.wantInMsg) {
				t.Errorf("message %q does not contain %q", o.message, tt.wantInMsg)
			}
			if tt.wantNotInMs != "" && strings.Contains(o.message, tt.wantNotInMs) {
				t.Errorf("message %q contains %q", o.message, tt.wantNotInMs)
			}
		})
	}
}

func TestJitterWithinTenPercent(t *testing.T) {
	d := 10 * time.Minute
	lo, hi := d, d
	for range 2000 {
		j := jitter(d)
		if j < d*9/10 || j > d*11/10 {
			t.Fatalf("jitter(%v) = %v, outside ±10%%", d, j)
		}
		lo, hi = min(lo, j), max(hi, j)
	}
	if hi-lo < d/10 {
		t.Errorf("jitter spread %v..%v is too narrow to spread resyncs", lo, hi)
	}
}

func TestManagedSecretChangedPredicate(t *testing.T) {
	base := msWith(func(m *v1alpha1.ManagedSecret) {
		m.Annotations = map[string]string{"a": "1"}
		m.Finalizers = []string{v1alpha1.Finalizer}
	})
	now := metav1.Now()
	tests := []struct {
		name string
		mut  func(*v1alpha1.ManagedSecret)
		want bool
	}{
		{name: "status only", mut: func(m *v1alpha1.ManagedSecret) { m.Status.SecretID = "x"; m.ResourceVersion = "9" }, want: false},
		{name: "own create-pending mark", mut: func(m *v1alpha1.ManagedSecret) { m.Annotations[v1alpha1.AnnotationCreatePending] = "true" }, want: false},
		{name: "spec (generation)", mut: func(m *v1alpha1.ManagedSecret) { m.Generation++ }, want: true},
		{name: "user annotation (forced resync)", mut: func(m *v1alpha1.ManagedSecret) { m.Annotations["resync"] = "now" }, want: true},
		{name: "our finalizer removed", mut: func(m *v1alpha1.ManagedSecret) { m.Finalizers = nil }, want: true},
		{name: "another controller's finalizer", mut: func(m *v1alpha1.ManagedSecret) { m.Finalizers = append(m.Finalizers, "example.com/other") }, want: false},
		{name: "deletion", mut: func(m *v1alpha1.ManagedSecret) { m.DeletionTimestamp = &now }, want: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := base.DeepCopy()
			tt.mut(n)
			if got := managedSecretChanged.Update(event.UpdateEvent{ObjectOld: base, ObjectNew: n}); got != tt.want {
				t.Errorf("Update() = %v, want %v", got, tt.want)
			}
		})
	}
	// Our own finalizer going on (with the create-pending mark, before CreateSecret) must
	// not bring the resource back: that pass would only cost a cloud read.
	old := base.DeepCopy()
	old.Finalizers = nil
	delete(old.Annotations, v1alpha1.AnnotationCreatePending)
	n := base.DeepCopy()
	n.Annotations[v1alpha1.AnnotationCreatePending] = "true"
	if managedSecretChanged.Update(event.UpdateEvent{ObjectOld: old, ObjectNew: n}) {
		t.Error("adding our finalizer and the create-pending mark passed the predicate")
	}
}
