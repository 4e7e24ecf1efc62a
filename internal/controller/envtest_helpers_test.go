package controller

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/csms-operator/csms-operator/api/v1alpha1"
	"github.com/csms-operator/csms-operator/internal/csms"
)

// writeOps are the emulator operations that change the cloud.
var writeOps = []string{
	"CreateSecret", "UpdateSecret", "DeleteSecret", "DeleteSecretForSchedule", "RestoreSecret",
	"CreateSecretVersion", "CreateSecretTag", "BatchCreateOrDeleteTags", "DeleteSecretTag",
	"CreateSecretReplica", "RotateSecret", "UpdateSecretStage", "DeleteSecretStage", "UpdateVersion",
}

// opCount is how many requests of op the emulator served, with any status.
func opCount(op string) int {
	n := 0
	for _, v := range emu.Stats()[op] {
		n += v
	}
	return n
}

// opCountStatus counts the calls of op the emulator answered with the HTTP status code.
func opCountStatus(op string, code int) int {
	return emu.Stats()[op][strconv.Itoa(code)]
}

// appliedWriteCount counts the write calls the emulator carried out (HTTP 200), leaving
// out those it refused, which changed nothing.
func appliedWriteCount() int {
	n := 0
	for _, op := range writeOps {
		n += opCountStatus(op, 200)
	}
	return n
}

func writeCount() int {
	n := 0
	for _, op := range writeOps {
		n += opCount(op)
	}
	return n
}

func randSuffix() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// newNamespace creates a namespace with a generated name and the given labels.
func newNamespace(t *testing.T, labels map[string]string) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "ms-", Labels: labels}}
	if err := k8sClient.Create(context.Background(), ns); err != nil {
		t.Fatalf("creating namespace: %v", err)
	}
	return ns.Name
}

// newSource creates a Secret with string data.
func newSource(t *testing.T, ns, name string, data map[string]string) *corev1.Secret {
	t.Helper()
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Data: map[string][]byte{}}
	for k, v := range data {
		s.Data[k] = []byte(v)
	}
	if err := k8sClient.Create(context.Background(), s); err != nil {
		t.Fatalf("creating Secret %s/%s: %v", ns, name, err)
	}
	return s
}

// setSourceData replaces one key of a Secret.
func setSourceData(t *testing.T, ns, name, key, value string) {
	t.Helper()
	s := &corev1.Secret{}
	if err := k8sClient.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, s); err != nil {
		t.Fatal(err)
	}
	s.Data[key] = []byte(value)
	if err := k8sClient.Update(context.Background(), s); err != nil {
		t.Fatalf("updating Secret: %v", err)
	}
}

// newManagedSecret creates a ManagedSecret with a unique name (also its CSMS name) whose
// value is key "password" of Secret "src", after mut. It is deleted when the test ends
// (and waited for, so later tests see no reconciles of it).
func newManagedSecret(t *testing.T, ns, prefix string, mut func(*v1alpha1.ManagedSecret)) *v1alpha1.ManagedSecret {
	t.Helper()
	ms := &v1alpha1.ManagedSecret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: prefix + "-" + randSuffix()}}
	ms.Spec.Value = &v1alpha1.SecretValueSource{SecretKeyRef: &v1alpha1.SecretKeySelector{Name: "src", Key: "password"}}
	if mut != nil {
		mut(ms)
	}
	if err := k8sClient.Create(context.Background(), ms); err != nil {
		t.Fatalf("creating ManagedSecret: %v", err)
	}
	t.Cleanup(func() { deleteAndWait(t, client.ObjectKeyFromObject(ms)) })
	return ms
}

// deleteAndWait deletes a ManagedSecret and waits until its finalizer is gone.
func deleteAndWait(t *testing.T, key client.ObjectKey) {
	t.Helper()
	ms := &v1alpha1.ManagedSecret{}
	if err := k8sClient.Get(context.Background(), key, ms); apierrors.IsNotFound(err) {
		return
	}
	if err := k8sClient.Delete(context.Background(), ms); err != nil && !apierrors.IsNotFound(err) {
		t.Errorf("deleting %s: %v", key, err)
		return
	}
	eventually(t, "ManagedSecret "+key.String()+" gone", func() (bool, string) {
		err := k8sClient.Get(context.Background(), key, &v1alpha1.ManagedSecret{})
		return apierrors.IsNotFound(err), fmt.Sprintf("get: %v", err)
	})
}

// eventually polls f until it reports true or pollTimeout passes.
func eventually(t *testing.T, what string, f func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(pollTimeout)
	last := ""
	for {
		ok, msg := f()
		if ok {
			return
		}
		last = msg
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s; last: %s", pollTimeout, what, last)
		}
		time.Sleep(pollInterval)
	}
}

func getMS(t *testing.T, key client.ObjectKey) *v1alpha1.ManagedSecret {
	t.Helper()
	ms := &v1alpha1.ManagedSecret{}
	if err := k8sClient.Get(context.Background(), key, ms); err != nil {
		t.Fatalf("getting %s: %v", key, err)
	}
	return ms
}

// waitCondition waits until condition typ has status and reason for the current generation.
func waitCondition(t *testing.T, key client.ObjectKey, typ string, status metav1.ConditionStatus, reason string) *v1alpha1.ManagedSecret {
	t.Helper()
	var ms *v1alpha1.ManagedSecret
	eventually(t, fmt.Sprintf("%s %s=%s/%s", key, typ, status, reason), func() (bool, string) {
		ms = getMS(t, key)
		c := ms.GetCondition(typ)
		if c == nil {
			return false, "no condition; conditions " + fmt.Sprint(ms.Status.Conditions)
		}
		return c.Status == status && c.Reason == reason && c.ObservedGeneration == ms.Generation,
			fmt.Sprintf("%s=%s/%s gen %d/%d: %s", typ, c.Status, c.Reason, c.ObservedGeneration, ms.Generation, c.Message)
	})
	return ms
}

// waitReady waits for Ready=True/Available and Synced=True for the current generation.
func waitReady(t *testing.T, key client.ObjectKey) *v1alpha1.ManagedSecret {
	t.Helper()
	waitCondition(t, key, v1alpha1.ConditionTypeReady, metav1.ConditionTrue, v1alpha1.ReasonAvailable)
	return waitCondition(t, key, v1alpha1.ConditionTypeSynced, metav1.ConditionTrue, v1alpha1.ReasonReconcileSuccess)
}

// cloudSecretOf reads the cloud secret; nil when it does not exist.
func cloudSecretOf(t *testing.T, name string) *csms.Secret {
	t.Helper()
	sec, err := cloud.GetSecret(context.Background(), name)
	if err != nil {
		if isNotFound(err) {
			return nil
		}
		t.Fatalf("GetSecret %s: %v", name, err)
	}
	return sec
}

func cloudTags(t *testing.T, id string) map[string]string {
	t.Helper()
	tags, err := cloud.ListTags(context.Background(), id)
	if err != nil {
		t.Fatalf("ListTags: %v", err)
	}
	return tags
}

func cloudValue(t *testing.T, name string) (string, string) {
	t.Helper()
	v, vid, err := cloud.GetCurrentValue(context.Background(), name)
	if err != nil {
		t.Fatalf("GetCurrentValue: %v", err)
	}
	s, _ := v.Text()
	return s, vid
}

// eventsOf lists the events.k8s.io events regarding a ManagedSecret.
func eventsOf(t *testing.T, ms *v1alpha1.ManagedSecret) []eventsv1.Event {
	t.Helper()
	var l eventsv1.EventList
	if err := k8sClient.List(context.Background(), &l, client.InNamespace(ms.Namespace)); err != nil {
		t.Fatalf("listing events: %v", err)
	}
	var out []eventsv1.Event
	for _, e := range l.Items {
		if e.Regarding.Name == ms.Name {
			out = append(out, e)
		}
	}
	return out
}

func eventReasons(t *testing.T, ms *v1alpha1.ManagedSecret) []string {
	var out []string
	for _, e := range eventsOf(t, ms) {
		out = append(out, e.Reason)
	}
	return out
}

// waitEvent waits for an event with reason regarding ms.
func waitEvent(t *testing.T, ms *v1alpha1.ManagedSecret, reason string) eventsv1.Event {
	t.Helper()
	var found eventsv1.Event
	eventually(t, "event "+reason, func() (bool, string) {
		for _, e := range eventsOf(t, ms) {
			if e.Reason == reason {
				found = e
				return true, ""
			}
		}
		return false, "events: " + strings.Join(eventReasons(t, ms), ",")
	})
	return found
}

// updateMS applies mut to the ManagedSecret with conflict retries.
func updateMS(t *testing.T, key client.ObjectKey, mut func(*v1alpha1.ManagedSecret)) {
	t.Helper()
	for i := 0; ; i++ {
		ms := getMS(t, key)
		mut(ms)
		err := k8sClient.Update(context.Background(), ms)
		if err == nil {
			return
		}
		if !apierrors.IsConflict(err) || i > 10 {
			t.Fatalf("updating %s: %v", key, err)
		}
	}
}

// forceResync annotates the resource with a merge patch of metadata only, as
// `kubectl annotate` does. (An Update from a Go client would also rewrite the defaulted
// spec.resyncInterval "10m" as "10m0s" and so bump the generation.)
//
// It returns the resourceVersion the annotation left, so a test can tell whether the
// pass it triggers wrote anything.
func forceResync(t *testing.T, key client.ObjectKey, i int) string {
	t.Helper()
	patch := []byte(fmt.Sprintf(`{"metadata":{"annotations":{"test/resync":"%d"}}}`, i))
	ms := &v1alpha1.ManagedSecret{ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name}}
	if err := k8sClient.Patch(context.Background(), ms, client.RawPatch(types.MergePatchType, patch)); err != nil {
		t.Fatalf("annotating %s: %v", key, err)
	}
	return ms.ResourceVersion
}
