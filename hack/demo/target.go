package main

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/auth/basic"
	csmsv1 "github.com/huaweicloud/huaweicloud-sdk-go-v3/services/csms/v1"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/services/csms/v1/model"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/csms-operator/csms-operator/internal/localenv"
)

// restartedFor is the pod-template annotation a restarted workload gets.
const restartedFor = "secrets.csms-operator.io/restarted-for"

// targetSample is a ManagedSecret of the samples with spec.target and the Deployments it
// restarts.
type targetSample struct {
	ms          client.ObjectKey
	secret      string // the target Secret
	deployments []string
}

func findTarget(objs []*unstructured.Unstructured) (targetSample, error) {
	for _, o := range objs {
		if o.GetKind() != msGVK.kind {
			continue
		}
		name, ok, _ := unstructured.NestedString(o.Object, "spec", "target", "name")
		if !ok {
			continue
		}
		ts := targetSample{ms: client.ObjectKey{Namespace: o.GetNamespace(), Name: o.GetName()}, secret: name}
		ws, _, _ := unstructured.NestedSlice(o.Object, "spec", "target", "rolloutRestart")
		for _, w := range ws {
			wm, _ := w.(map[string]any)
			if wm["kind"] == "Deployment" {
				n, _ := wm["name"].(string)
				ts.deployments = append(ts.deployments, n)
			}
		}
		if len(ts.deployments) == 0 {
			continue
		}
		return ts, nil
	}
	return targetSample{}, errors.New("no ManagedSecret with a spec.target restarting a Deployment in the samples")
}

// targetView is what the demo shows of a target: key names and a digest to tell a change,
// never a value.
type targetView struct {
	keys               []string
	digest             [32]byte
	versionID          string
	restartedVersionID string
	secretID           string
	csmsName           string
	marks              map[string]string // Deployment → restarted-for
	generations        map[string]int64
}

func readTarget(ctx context.Context, env *localenv.Env, ts targetSample) (targetView, error) {
	v := targetView{marks: map[string]string{}, generations: map[string]int64{}}
	ms, err := getMS(ctx, env, ts.ms)
	if err != nil {
		return v, err
	}
	v.versionID, _, _ = unstructured.NestedString(ms.Object, "status", "target", "versionID")
	v.restartedVersionID, _, _ = unstructured.NestedString(ms.Object, "status", "target", "restartedVersionID")
	v.secretID, _, _ = unstructured.NestedString(ms.Object, "status", "secretID")
	v.csmsName, _, _ = unstructured.NestedString(ms.Object, "status", "name")
	sec := &corev1.Secret{}
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ts.ms.Namespace, Name: ts.secret}, sec); err != nil && !apierrors.IsNotFound(err) {
		return v, fmt.Errorf("reading target Secret %s: %w", ts.secret, err)
	}
	v.keys = slices.Sorted(maps.Keys(sec.Data))
	h := sha256.New()
	for _, k := range v.keys {
		_, _ = fmt.Fprintf(h, "%s=%x;", k, sec.Data[k])
	}
	copy(v.digest[:], h.Sum(nil))
	for _, name := range ts.deployments {
		d := &appsv1.Deployment{}
		if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ts.ms.Namespace, Name: name}, d); err != nil {
			return v, fmt.Errorf("reading Deployment %s: %w", name, err)
		}
		v.marks[name] = d.Spec.Template.Annotations[restartedFor]
		v.generations[name] = d.Generation
	}
	return v, nil
}

func (v targetView) print(ts targetSample) {
	keys := "(none yet)"
	if len(v.keys) > 0 {
		keys = strings.Join(v.keys, ", ")
	}
	info("Secret %s/%s holds keys %s (version %s; values not shown)", ts.ms.Namespace, ts.secret, keys, dash(v.versionID))
	for _, name := range ts.deployments {
		info("Deployment %s/%s: %s=%s, generation %d", ts.ms.Namespace, name, restartedFor, dash(v.marks[name]), v.generations[name])
	}
	info("status.target: versionID %s, restartedVersionID %s", dash(v.versionID), dash(v.restartedVersionID))
}

// showTargetRotation shows the target Secret and its Deployment before and after a
// rotation the demo asks CSMS for through the SDK (RotateSecret, as the console's "rotate
// now" would), then has the operator look at once rather than at its next resync, by
// annotating the ManagedSecret.
func showTargetRotation(ctx context.Context, env *localenv.Env, em *localenv.Emulator, acct account, ts targetSample, timeout time.Duration, mgr *localenv.Manager) error {
	step("The value back in the cluster: ManagedSecret %s keeps Secret %s and restarts Deployment %s", ts.ms, ts.secret, strings.Join(ts.deployments, ", "))
	before, err := readTarget(ctx, env, ts)
	if err != nil {
		return err
	}
	before.print(ts)
	if before.versionID == "" || len(before.keys) == 0 {
		return fmt.Errorf("ManagedSecret %s is Ready but its target Secret %s holds nothing%s", ts.ms, ts.secret, logHint(mgr.Process))
	}

	step("Rotating CSMS secret %s through the SDK (RotateSecret); no source Secret changes", before.csmsName)
	api, err := sdkClient(em.URL, acct)
	if err != nil {
		return err
	}
	resp, err := api.RotateSecret(&model.RotateSecretRequest{SecretName: before.csmsName})
	if err != nil {
		return fmt.Errorf("RotateSecret %s: %w", before.csmsName, err)
	}
	newVersion := ""
	if resp.VersionId != nil {
		newVersion = *resp.VersionId
	}
	info("CSMS made version %s with a new random value", dash(newVersion))
	// The operator finds a version made outside it at its next resync (10 min by
	// default); an annotation makes it look now, like `kubectl annotate`.
	info("annotating ManagedSecret %s so the operator looks now rather than at its next resync", ts.ms)
	patch := fmt.Sprintf(`{"metadata":{"annotations":{"demo.csms-operator.io/resync":%q}}}`, time.Now().UTC().Format(time.RFC3339Nano))
	u := &unstructured.Unstructured{}
	u.SetAPIVersion(msGVK.group + "/" + msGVK.version)
	u.SetKind(msGVK.kind)
	u.SetNamespace(ts.ms.Namespace)
	u.SetName(ts.ms.Name)
	if err := env.Client.Patch(ctx, u, client.RawPatch(types.MergePatchType, []byte(patch))); err != nil {
		return fmt.Errorf("annotating %s: %w", ts.ms, err)
	}

	var after targetView
	t0 := time.Now()
	err = localenv.Poll(ctx, timeout, func(ctx context.Context) (bool, string, error) {
		after, err = readTarget(ctx, env, ts)
		if err != nil {
			return false, err.Error(), nil
		}
		want := after.secretID + "/" + newVersion
		switch {
		case after.versionID != newVersion || after.digest == before.digest:
			return false, fmt.Sprintf("target Secret still at version %s", after.versionID), nil
		case after.restartedVersionID != newVersion:
			return false, fmt.Sprintf("status.target.restartedVersionID still %s", after.restartedVersionID), nil
		}
		for _, name := range ts.deployments {
			if after.marks[name] != want {
				return false, fmt.Sprintf("Deployment %s not restarted for %s yet (%s)", name, want, after.marks[name]), nil
			}
		}
		return true, "", nil
	})
	if err != nil {
		return fmt.Errorf("the rotation did not reach the target Secret and its Deployment: %w%s", err, logHint(mgr.Process))
	}
	for _, name := range ts.deployments {
		// A restart changes the pod template once: one new generation, not two.
		if g := after.generations[name] - before.generations[name]; g != 1 {
			return fmt.Errorf("the Deployment %s went through %d generations for one new version, want 1", name, g)
		}
	}
	info("%.1fs after the annotation the Secret holds the new value and the Deployment was restarted once:", time.Since(t0).Seconds())
	after.print(ts)
	return nil
}

func sdkClient(endpoint string, a account) (*csmsv1.CsmsClient, error) {
	cred, err := basic.NewCredentialsBuilder().WithAk(a.ak).WithSk(a.sk).WithProjectId(a.projects[primaryRegion]).SafeBuild()
	if err != nil {
		return nil, fmt.Errorf("building SDK credentials: %w", err)
	}
	hc, err := csmsv1.CsmsClientBuilder().WithEndpoints([]string{endpoint}).WithCredential(cred).SafeBuild()
	if err != nil {
		return nil, fmt.Errorf("building the SDK client: %w", err)
	}
	return csmsv1.NewCsmsClient(hc), nil
}
