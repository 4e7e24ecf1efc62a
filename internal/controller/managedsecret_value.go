package controller

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/csms-operator/csms-operator/api/v1alpha1"
	"github.com/csms-operator/csms-operator/internal/csms"
	"github.com/csms-operator/csms-operator/internal/source"
)

// syncValue pushes the source value when the source changed since the last push: the
// Secret's resourceVersion moved, or spec.value now points at another Secret or key. It
// then reads the cloud's current value and creates a new version only if it differs. Any
// other spec edit leaves the value alone, so a rotated cloud value is never overwritten by
// an unchanged source. Generated values are never pushed after creation. pushed reports
// whether the current version ID was refreshed.
func (r *ManagedSecretReconciler) syncValue(ctx context.Context, cli csms.Client, ms *v1alpha1.ManagedSecret, name string) (pushed bool, err error) {
	ref, ok := sourceRef(ms.Spec.Value)
	if !ok {
		return false, nil
	}
	rv, err := r.Sources.Version(ctx, ms.Namespace, ref.Name)
	if err != nil {
		return false, step(err, "reading the value source")
	}
	id := sourceIdentity(ref)
	if rv == ms.Status.ObservedSourceVersion && (ms.Status.ObservedSource == id || ms.Status.ObservedSource == "") {
		// Unchanged. An empty observedSource predates the field: take the current one.
		ms.Status.ObservedSource = id
		return false, nil
	}
	logf.FromContext(ctx).V(1).Info("Source changed since the last push; comparing values",
		"sourceVersion", rv, "observedSourceVersion", ms.Status.ObservedSourceVersion,
		"source", id, "observedSource", ms.Status.ObservedSource)
	src, err := r.Sources.Read(ctx, ms.Namespace, ref)
	if err != nil {
		return false, step(err, "reading the value source")
	}
	cur, vid, err := cli.GetCurrentValue(ctx, name)
	if err != nil {
		return false, step(err, "reading the current value of CSMS secret %q", name)
	}
	if !cur.Equal(src.Value) {
		// On ErrTransient the version may exist; the next pass compares again before writing.
		if vid, err = cli.PutValue(ctx, name, src.Value); err != nil {
			return false, step(err, "creating a new version of CSMS secret %q", name)
		}
		logf.FromContext(ctx).Info("Created a new version from the source Secret", "versionID", vid, "sourceVersion", src.ResourceVersion)
		r.event(ms, corev1.EventTypeNormal, EventVersionCreated, "PutValue",
			"Created version %s of CSMS secret %q from Secret %q", vid, name, ref.Name)
	}
	ms.Status.CurrentVersionID = vid
	ms.Status.ObservedSourceVersion = src.ResourceVersion
	ms.Status.ObservedSource = id
	return true, nil
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

// initialValue is the value a new secret is created with, and the resourceVersion of its
// source Secret (empty for a generated value).
func (r *ManagedSecretReconciler) initialValue(ctx context.Context, ms *v1alpha1.ManagedSecret) (csms.Value, string, error) {
	if g := ms.Spec.Value.Generate; g != nil {
		n := g.Length
		if n == 0 {
			n = v1alpha1.DefaultGenerateLength
		}
		v, err := source.Generate(int(n))
		if err != nil {
			return csms.Value{}, "", step(err, "generating the value")
		}
		return v, "", nil
	}
	ref, ok := sourceRef(ms.Spec.Value)
	if !ok {
		return csms.Value{}, "", &conditionError{reason: v1alpha1.ReasonInvalidSpec,
			message: "spec.value sets no source; set one of secretKeyRef, secretRef, binarySecretKeyRef, generate", retryAtResync: true}
	}
	res, err := r.Sources.Read(ctx, ms.Namespace, ref)
	if err != nil {
		return csms.Value{}, "", step(err, "reading the value source")
	}
	return res.Value, res.ResourceVersion, nil
}

// sourceRef translates spec.value into a source reference; ok is false for generate.
func sourceRef(v v1alpha1.SecretValueSource) (source.Ref, bool) {
	switch {
	case v.SecretKeyRef != nil:
		return source.Ref{Kind: source.KindSecretKey, Name: v.SecretKeyRef.Name, Key: v.SecretKeyRef.Key}, true
	case v.SecretRef != nil:
		return source.Ref{Kind: source.KindSecret, Name: v.SecretRef.Name}, true
	case v.BinarySecretKeyRef != nil:
		return source.Ref{Kind: source.KindBinaryKey, Name: v.BinarySecretKeyRef.Name, Key: v.BinarySecretKeyRef.Key}, true
	}
	return source.Ref{}, false
}
