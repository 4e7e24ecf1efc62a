package controller

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	kstatus "sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/controller-runtime/pkg/event"

	"github.com/csms-operator/csms-operator/api/v1alpha1"
	"github.com/csms-operator/csms-operator/internal/csms"
	"github.com/csms-operator/csms-operator/internal/source"
)

// statusCase builds one pass's inputs for computeStatus: an owned, settled resource and
// its secret, changed by mut.
type statusCase struct {
	ms  *v1alpha1.ManagedSecret
	obs *observation
	p   plan
	res actResult
}

func ownedPass(mut func(*statusCase)) statusCase {
	sec := cloudSecret()
	ms := msWith(func(m *v1alpha1.ManagedSecret) {
		m.Finalizers = []string{v1alpha1.Finalizer}
		setCloudStatus(&m.Status, sec)
		m.Status.CurrentVersionID = "v1"
		m.Status.ObservedSourceVersion = "7"
		m.Status.ObservedSource = "secretKeyRef:src/password"
		m.Status.ObservedGeneration = 1
	})
	c := statusCase{
		ms: ms,
		obs: &observation{secret: sec, own: ownedByID, source: sourceObservation{set: true, version: "7",
			identity: "secretKeyRef:src/password"}},
	}
	c.res = actResult{secret: sec}
	if mut != nil {
		mut(&c)
	}
	return c
}

// settle runs computeStatus once and stores the result, as the previous pass would have.
func settle(c statusCase) *v1alpha1.ManagedSecret {
	ms := c.ms.DeepCopy()
	ms.Status = computeStatus(c.ms, c.obs, c.p, c.res)
	return ms
}

func throttled() error {
	return step(&csms.APIError{Operation: "ShowSecret", StatusCode: 429, Code: "APIGW.0308", Kind: csms.ErrThrottled}, "reading CSMS secret %q", "db")
}

func TestComputeStatusConditions(t *testing.T) {
	withReplicas := func(m *v1alpha1.ManagedSecret) { m.Spec.Replicas = []v1alpha1.ReplicaSpec{{Region: "ap-southeast-3"}} }
	type want struct {
		ready, synced            metav1.ConditionStatus
		readyReason, syncReason  string
		stalled, reconciling     string // reason, "" = absent
		readyMsgHas, readyMsgNot string
	}
	ok := want{ready: metav1.ConditionTrue, readyReason: v1alpha1.ReasonAvailable, synced: metav1.ConditionTrue, syncReason: v1alpha1.ReasonReconcileSuccess}
	tests := []struct {
		name string
		c    statusCase
		want want
	}{
		{name: "settled", c: ownedPass(nil), want: ok},
		{name: "transient failure to observe keeps a Ready secret Ready", c: ownedPass(func(c *statusCase) {
			c.ms = settle(ownedPass(nil))
			c.obs = &observation{err: throttled()}
			c.res = actResult{}
		}), want: want{ready: metav1.ConditionTrue, readyReason: v1alpha1.ReasonAvailable, synced: metav1.ConditionFalse, syncReason: v1alpha1.ReasonThrottled}},
		{name: "source deleted after the push leaves Ready", c: ownedPass(func(c *statusCase) {
			c.obs.source.err = step(fmt.Errorf("Secret team/src not found: %w", source.ErrNotFound), "reading the value source")
		}), want: want{ready: metav1.ConditionTrue, readyReason: v1alpha1.ReasonAvailable, synced: metav1.ConditionFalse, syncReason: v1alpha1.ReasonSourceNotFound}},
		{name: "version limit is not an invalid spec", c: ownedPass(func(c *statusCase) {
			c.obs.source.changed, c.obs.source.compared, c.obs.source.differs = true, true, true
			c.p = plan{changes: []change{{kind: putValue, what: "secretKeyRef:src/password"}}}
			c.res.err = step(&csms.APIError{Operation: "PutValue", StatusCode: 400, Code: "CSMS.0002", Kind: csms.ErrVersionLimit}, "creating a new version")
		}), want: want{ready: metav1.ConditionFalse, readyReason: v1alpha1.ReasonVersionLimitReached, synced: metav1.ConditionFalse,
			syncReason: v1alpha1.ReasonVersionLimitReached, stalled: v1alpha1.ReasonVersionLimitReached, readyMsgNot: "fix the spec"}},
		{name: "throttled update is in progress", c: ownedPass(func(c *statusCase) {
			c.p = plan{changes: []change{{kind: updateSecret, fields: []string{"description"}}}}
			c.res.err = throttled()
		}), want: want{ready: metav1.ConditionFalse, readyReason: v1alpha1.ReasonUpdating, synced: metav1.ConditionFalse,
			syncReason: v1alpha1.ReasonThrottled, reconciling: v1alpha1.ReasonUpdating, readyMsgHas: "UpdateSecret: description"}},
		{name: "name taken", c: ownedPass(func(c *statusCase) {
			c.obs.own = notOwned
			c.p = plan{refusal: &conditionError{reason: v1alpha1.ReasonAlreadyExists, message: "taken", retryAtResync: true}}
		}), want: want{ready: metav1.ConditionFalse, readyReason: v1alpha1.ReasonAlreadyExists, synced: metav1.ConditionFalse,
			syncReason: v1alpha1.ReasonAlreadyExists, stalled: v1alpha1.ReasonAlreadyExists}},
		{name: "ownership lost", c: ownedPass(func(c *statusCase) {
			c.obs.own = ownershipLost
			c.p = plan{refusal: ownershipLostError("db", map[string]string{"csms-operator-owner": "other/db/uid-9"})}
		}), want: want{ready: metav1.ConditionFalse, readyReason: v1alpha1.ReasonOwnershipLost, synced: metav1.ConditionFalse,
			syncReason: v1alpha1.ReasonOwnershipLost, stalled: v1alpha1.ReasonOwnershipLost, readyMsgHas: "other/db"}},
		{name: "create throttled", c: ownedPass(func(c *statusCase) {
			c.ms = msWith(nil)
			c.obs = &observation{assumedAbsent: true, source: sourceObservation{set: true, identity: "secretKeyRef:src/password"}}
			c.p = plan{changes: []change{{kind: markCreatePending}, {kind: createSecret}}}
			c.res = actResult{done: 1, err: throttled()}
		}), want: want{ready: metav1.ConditionFalse, readyReason: v1alpha1.ReasonCreating, synced: metav1.ConditionFalse,
			syncReason: v1alpha1.ReasonThrottled, reconciling: v1alpha1.ReasonCreating}},
		{name: "new resource without its source", c: ownedPass(func(c *statusCase) {
			c.ms = msWith(nil)
			c.obs = &observation{assumedAbsent: true, source: sourceObservation{set: true,
				err: step(fmt.Errorf("Secret team/src not found: %w", source.ErrNotFound), "reading the value source")}}
			c.res = actResult{}
		}), want: want{ready: metav1.ConditionFalse, readyReason: v1alpha1.ReasonSourceNotFound, synced: metav1.ConditionFalse,
			syncReason: v1alpha1.ReasonSourceNotFound}},
		{name: "replica syncing", c: ownedPass(func(c *statusCase) { withReplicas(c.ms) }),
			want: want{ready: metav1.ConditionFalse, readyReason: v1alpha1.ReasonReplicasSyncing, synced: metav1.ConditionTrue,
				syncReason: v1alpha1.ReasonReconcileSuccess, reconciling: v1alpha1.ReasonReplicasSyncing}},
		{name: "replica failed names the region", c: ownedPass(func(c *statusCase) {
			withReplicas(c.ms)
			sec := *c.res.secret
			sec.Replicas = []csms.Replica{{Region: "ap-southeast-3", Status: "FAILED"}}
			c.res.secret = &sec
		}), want: want{ready: metav1.ConditionFalse, readyReason: v1alpha1.ReasonReplicaFailed, synced: metav1.ConditionTrue,
			syncReason: v1alpha1.ReasonReconcileSuccess, readyMsgHas: "ap-southeast-3"}},
		{name: "frozen", c: ownedPass(func(c *statusCase) {
			sec := *c.res.secret
			sec.State = "FROZEN"
			c.res.secret = &sec
		}), want: want{ready: metav1.ConditionFalse, readyReason: v1alpha1.ReasonReconcileError, synced: metav1.ConditionTrue,
			syncReason: v1alpha1.ReasonReconcileSuccess, readyMsgHas: "FROZEN"}},
		{name: "observe shows its plan and is Ready", c: ownedPass(func(c *statusCase) {
			c.ms.Spec.ManagementPolicy = v1alpha1.ManagementPolicyObserve
			c.p = plan{changes: []change{{kind: updateSecret, fields: []string{"description"}}}}.observed()
		}), want: want{ready: metav1.ConditionTrue, readyReason: v1alpha1.ReasonAvailable, synced: metav1.ConditionTrue,
			syncReason: v1alpha1.ReasonReconcileSuccess, readyMsgHas: "1 change(s)"}},
		{name: "observe of a missing secret", c: ownedPass(func(c *statusCase) {
			c.ms.Spec.ManagementPolicy = v1alpha1.ManagementPolicyObserve
			c.obs.secret, c.res.secret = nil, nil
		}), want: want{ready: metav1.ConditionFalse, readyReason: v1alpha1.ReasonSecretNotFound, synced: metav1.ConditionTrue,
			syncReason: v1alpha1.ReasonReconcileSuccess}},
		{name: "observe not allowed", c: ownedPass(func(c *statusCase) {
			c.ms.Spec.ManagementPolicy = v1alpha1.ManagementPolicyObserve
			c.obs.own = notOwned
			c.p = plan{refusal: &conditionError{reason: v1alpha1.ReasonPolicyDenied, message: "denied", retryAtResync: true}}
		}), want: want{ready: metav1.ConditionFalse, readyReason: v1alpha1.ReasonPolicyDenied, synced: metav1.ConditionFalse,
			syncReason: v1alpha1.ReasonPolicyDenied, stalled: v1alpha1.ReasonPolicyDenied}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := computeStatus(tt.c.ms, tt.c.obs, tt.c.p, tt.c.res)
			get := func(typ string) *metav1.Condition { return meta.FindStatusCondition(st.Conditions, typ) }
			r, s := get(v1alpha1.ConditionTypeReady), get(v1alpha1.ConditionTypeSynced)
			if r == nil || r.Status != tt.want.ready || r.Reason != tt.want.readyReason {
				t.Errorf("Ready = %+v, want %s/%s", r, tt.want.ready, tt.want.readyReason)
			}
			if s == nil || s.Status != tt.want.synced || s.Reason != tt.want.syncReason {
				t.Errorf("Synced = %+v, want %s/%s", s, tt.want.synced, tt.want.syncReason)
			}
			for typ, reason := range map[string]string{v1alpha1.ConditionTypeStalled: tt.want.stalled, v1alpha1.ConditionTypeReconciling: tt.want.reconciling} {
				c := get(typ)
				switch {
				case reason == "" && c != nil:
					t.Errorf("%s = %+v, want it absent", typ, c)
				case reason != "" && (c == nil || c.Status != metav1.ConditionTrue || c.Reason != reason):
					t.Errorf("%s = %+v, want True/%s", typ, c, reason)
				}
			}
			for _, c := range st.Conditions {
				if c.ObservedGeneration != tt.c.ms.Generation {
					t.Errorf("%s observedGeneration %d, want %d", c.Type, c.ObservedGeneration, tt.c.ms.Generation)
				}
			}
			if st.ObservedGeneration != tt.c.ms.Generation {
				t.Errorf("status.observedGeneration %d, want %d (also after a failed pass)", st.ObservedGeneration, tt.c.ms.Generation)
			}
			if r != nil && (!strings.Contains(r.Message, tt.want.readyMsgHas) || tt.want.readyMsgNot != "" && strings.Contains(r.Message, tt.want.readyMsgNot)) {
				t.Errorf("Ready message %q: want %q in it, %q not", r.Message, tt.want.readyMsgHas, tt.want.readyMsgNot)
			}
		})
	}
}

// TestComputeStatusSteadyPassChangesNothing: a pass that finds what the last one left
// computes an equal status, so it makes no Kubernetes write.
func TestComputeStatusSteadyPassChangesNothing(t *testing.T) {
	first := settle(ownedPass(nil))
	again := ownedPass(nil)
	again.ms = first
	if diff := cmp.Diff(first.Status, computeStatus(again.ms, again.obs, again.p, again.res)); diff != "" {
		t.Errorf("a steady pass changed status (-before +after):\n%s", diff)
	}
}

func TestComputeStatusFollowsTheCloud(t *testing.T) {
	// A version made outside the operator and read from the stage.
	c := ownedPass(func(c *statusCase) { c.obs.versionID = "v4" })
	if st := computeStatus(c.ms, c.obs, c.p, c.res); st.CurrentVersionID != "v4" {
		t.Errorf("currentVersionID = %q, want v4 (read from the stage)", st.CurrentVersionID)
	}
	// A push reports the version it made and the source it pushed.
	c = ownedPass(func(c *statusCase) {
		c.obs.source.changed, c.obs.source.compared, c.obs.source.differs, c.obs.source.version = true, true, true, "8"
		c.p = plan{changes: []change{{kind: putValue}}}
		c.res.done, c.res.versionID = 1, "v2"
	})
	if st := computeStatus(c.ms, c.obs, c.p, c.res); st.CurrentVersionID != "v2" || st.ObservedSourceVersion != "8" {
		t.Errorf("after a push: version %q source %q, want v2 and 8", st.CurrentVersionID, st.ObservedSourceVersion)
	}
	// A failed push leaves the source unpushed, so the next pass tries again.
	c.res.done, c.res.versionID, c.res.err = 0, "", throttled()
	if st := computeStatus(c.ms, c.obs, c.p, c.res); st.ObservedSourceVersion != "7" {
		t.Errorf("after a failed push observedSourceVersion = %q, want 7", st.ObservedSourceVersion)
	}
	// A secret that is not this resource's leaves no trace of itself in status.
	c = ownedPass(func(c *statusCase) {
		c.obs.own = notOwned
		c.p = plan{refusal: &conditionError{reason: v1alpha1.ReasonAlreadyExists, message: "taken"}}
	})
	if st := computeStatus(c.ms, c.obs, c.p, c.res); st.SecretID != "" || st.Name != "" || st.CurrentVersionID != "" {
		t.Errorf("status shows a secret that is not ours: %+v", st)
	}
	// Observe lists the plan; Manage does not.
	c = ownedPass(func(c *statusCase) {
		c.ms.Spec.ManagementPolicy = v1alpha1.ManagementPolicyObserve
		c.p = plan{changes: []change{{kind: updateSecret, fields: []string{"description", "rotation.enabled"}}, {kind: putValue, what: "secretKeyRef:src/password"}}}.observed()
	})
	want := []string{"UpdateSecret: description, rotation.enabled", "CreateSecretVersion: secretKeyRef:src/password changed"}
	if diff := cmp.Diff(want, computeStatus(c.ms, c.obs, c.p, c.res).PlannedChanges); diff != "" {
		t.Errorf("plannedChanges (-want +got):\n%s", diff)
	}
	c.ms.Spec.ManagementPolicy = v1alpha1.ManagementPolicyManage
	if got := computeStatus(c.ms, c.obs, c.p, c.res).PlannedChanges; got != nil {
		t.Errorf("Manage lists plannedChanges %v", got)
	}
}

// TestKstatus computes health with the kstatus library Flux and kpt use: a Ready resource
// is Current, one being created is InProgress, one that cannot succeed without a change
// is Failed (not InProgress until a timeout).
func TestKstatus(t *testing.T) {
	tests := []struct {
		name string
		c    statusCase
		want kstatus.Status
	}{
		{name: "ready", c: ownedPass(nil), want: kstatus.CurrentStatus},
		{name: "creating", c: ownedPass(func(c *statusCase) {
			c.ms = msWith(nil)
			c.obs = &observation{assumedAbsent: true, source: sourceObservation{set: true}}
			c.p = plan{changes: []change{{kind: markCreatePending}, {kind: createSecret}}}
			c.res = actResult{done: 1, err: throttled()}
		}), want: kstatus.InProgressStatus},
		{name: "replicas syncing", c: ownedPass(func(c *statusCase) { c.ms.Spec.Replicas = []v1alpha1.ReplicaSpec{{Region: "ap-southeast-3"}} }),
			want: kstatus.InProgressStatus},
		{name: "name taken", c: ownedPass(func(c *statusCase) {
			c.obs.own = notOwned
			c.p = plan{refusal: &conditionError{reason: v1alpha1.ReasonAlreadyExists, message: "taken"}}
		}), want: kstatus.FailedStatus},
		{name: "version limit", c: ownedPass(func(c *statusCase) {
			c.obs.source.changed, c.obs.source.compared, c.obs.source.differs = true, true, true
			c.p = plan{changes: []change{{kind: putValue}}}
			c.res.err = &csms.APIError{Operation: "PutValue", Kind: csms.ErrVersionLimit}
		}), want: kstatus.FailedStatus},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ms := tt.c.ms.DeepCopy()
			ms.Status = computeStatus(tt.c.ms, tt.c.obs, tt.c.p, tt.c.res)
			obj, err := runtime.DefaultUnstructuredConverter.ToUnstructured(ms)
			if err != nil {
				t.Fatal(err)
			}
			u := &unstructured.Unstructured{Object: obj}
			u.SetAPIVersion(v1alpha1.GroupVersion.String())
			u.SetKind("ManagedSecret")
			res, err := kstatus.Compute(u)
			if err != nil {
				t.Fatal(err)
			}
			if res.Status != tt.want {
				t.Errorf("kstatus = %s (%s), want %s", res.Status, res.Message, tt.want)
			}
			// A status about an older generation is InProgress whatever it says.
			ms.Generation++
			obj, _ = runtime.DefaultUnstructuredConverter.ToUnstructured(ms)
			u = &unstructured.Unstructured{Object: obj}
			if res, _ := kstatus.Compute(u); res.Status != kstatus.InProgressStatus {
				t.Errorf("kstatus of a newer generation = %s, want InProgress", res.Status)
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
		{name: "own create-pending mark (status)", mut: func(m *v1alpha1.ManagedSecret) { m.Status.CreatePending = true }, want: false},
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
	// Our own finalizer going on (before the create-pending mark and CreateSecret) must
	// not bring the resource back: that pass would only cost a cloud read.
	old := base.DeepCopy()
	old.Finalizers = nil
	n := base.DeepCopy()
	n.Status.CreatePending = true
	if managedSecretChanged.Update(event.UpdateEvent{ObjectOld: old, ObjectNew: n}) {
		t.Error("adding our finalizer and the create-pending mark passed the predicate")
	}
}

// TestProviderConfigChangedPredicate: the resources using a config are looked at again
// when its spec or its readiness changes, not for its other status writes.
func TestProviderConfigChangedPredicate(t *testing.T) {
	cpc := func(gen int64, ready metav1.ConditionStatus, msg string) *v1alpha1.ClusterProviderConfig {
		c := &v1alpha1.ClusterProviderConfig{ObjectMeta: metav1.ObjectMeta{Name: "default", Generation: gen}}
		if ready != "" {
			c.Status.Conditions = []metav1.Condition{{Type: v1alpha1.ConditionTypeReady, Status: ready, Reason: "R", Message: msg}}
		}
		return c
	}
	for _, tt := range []struct {
		name     string
		old, new *v1alpha1.ClusterProviderConfig
		want     bool
	}{
		{"spec changed", cpc(1, metav1.ConditionTrue, "a"), cpc(2, metav1.ConditionTrue, "a"), true},
		{"became Ready", cpc(1, metav1.ConditionFalse, "a"), cpc(1, metav1.ConditionTrue, "b"), true},
		{"first condition", cpc(1, "", ""), cpc(1, metav1.ConditionFalse, "a"), true},
		{"message only", cpc(1, metav1.ConditionFalse, "a"), cpc(1, metav1.ConditionFalse, "b"), false},
		{"nothing that matters", cpc(1, metav1.ConditionTrue, "a"), cpc(1, metav1.ConditionTrue, "a"), false},
	} {
		if got := providerConfigChanged.Update(event.UpdateEvent{ObjectOld: tt.old, ObjectNew: tt.new}); got != tt.want {
			t.Errorf("%s: Update() = %v, want %v", tt.name, got, tt.want)
		}
	}
}
