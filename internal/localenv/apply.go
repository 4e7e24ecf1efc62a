package localenv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// FieldOwner is the server-side-apply field manager of everything localenv applies.
const FieldOwner = "localenv"

// DecodeYAML splits a multi-document YAML (or JSON) stream into objects. Empty documents
// and List kinds are flattened away.
func DecodeYAML(data []byte) ([]*unstructured.Unstructured, error) {
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	var objs []*unstructured.Unstructured
	for {
		u := &unstructured.Unstructured{}
		if err := dec.Decode(&u.Object); err != nil {
			if errors.Is(err, io.EOF) {
				return objs, nil
			}
			return nil, fmt.Errorf("decoding YAML: %w", err)
		}
		if len(u.Object) == 0 {
			continue
		}
		if u.IsList() {
			list, err := u.ToList()
			if err != nil {
				return nil, fmt.Errorf("decoding list: %w", err)
			}
			for i := range list.Items {
				objs = append(objs, &list.Items[i])
			}
			continue
		}
		objs = append(objs, u)
	}
}

// ReadManifests reads every .yaml/.yml file of paths (files or directories, not
// recursive), skipping kustomization.yaml, in name order.
func ReadManifests(paths ...string) ([]*unstructured.Unstructured, error) {
	var objs []*unstructured.Unstructured
	for _, p := range paths {
		files := []string{p}
		if st, err := os.Stat(p); err != nil {
			return nil, fmt.Errorf("reading manifests: %w", err)
		} else if st.IsDir() {
			entries, err := os.ReadDir(p)
			if err != nil {
				return nil, fmt.Errorf("reading manifests: %w", err)
			}
			files = files[:0]
			for _, e := range entries {
				n := e.Name()
				isYAML := strings.HasSuffix(n, ".yaml") || strings.HasSuffix(n, ".yml")
				if e.IsDir() || n == "kustomization.yaml" || !isYAML {
					continue
				}
				files = append(files, filepath.Join(p, n))
			}
			sort.Strings(files)
		}
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				return nil, fmt.Errorf("reading manifests: %w", err)
			}
			o, err := DecodeYAML(b)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", f, err)
			}
			objs = append(objs, o...)
		}
	}
	return objs, nil
}

// KustomizeBinary returns $KUSTOMIZE, else the newest bin/kustomize-* of root, else "".
func KustomizeBinary(root string) string {
	if k := os.Getenv("KUSTOMIZE"); k != "" {
		return k
	}
	matches, _ := filepath.Glob(filepath.Join(root, "bin", "kustomize-*"))
	if len(matches) == 0 {
		return ""
	}
	sort.Strings(matches)
	return matches[len(matches)-1]
}

// Kustomize renders a kustomization directory with the pinned kustomize in bin/ (built
// by `make kustomize`), falling back to `kubectl kustomize`.
func Kustomize(ctx context.Context, root, dir string) ([]byte, error) {
	var cmd *exec.Cmd
	if k := KustomizeBinary(root); k != "" {
		cmd = exec.CommandContext(ctx, k, "build", dir)
	} else if kubectl, err := exec.LookPath("kubectl"); err == nil {
		cmd = exec.CommandContext(ctx, kubectl, "kustomize", dir)
	} else {
		return nil, errors.New("no kustomize: run `make kustomize` (or install kubectl)")
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("%s: %w: %s", strings.Join(cmd.Args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

var crdGK = schema.GroupKind{Group: "apiextensions.k8s.io", Kind: "CustomResourceDefinition"}

// Apply server-side-applies objs as the admin: CRDs first (then waits until they are
// Established), then Namespaces, then the rest in the given order.
func (e *Env) Apply(ctx context.Context, objs ...*unstructured.Unstructured) error {
	return ApplyWith(ctx, e.Client, objs...)
}

// ApplyWith is Apply with any client.
func ApplyWith(ctx context.Context, c client.Client, objs ...*unstructured.Unstructured) error {
	var crds, namespaces, rest []*unstructured.Unstructured
	for _, o := range objs {
		switch {
		case o.GroupVersionKind().GroupKind() == crdGK:
			crds = append(crds, o)
		case o.GetKind() == "Namespace" && o.GroupVersionKind().Group == "":
			namespaces = append(namespaces, o)
		default:
			rest = append(rest, o)
		}
	}
	apply := func(list []*unstructured.Unstructured) error {
		for _, o := range list {
			if err := applyOne(ctx, c, o); err != nil {
				return err
			}
		}
		return nil
	}
	if err := apply(crds); err != nil {
		return err
	}
	for _, o := range crds {
		if err := waitEstablished(ctx, c, o.GetName()); err != nil {
			return err
		}
	}
	if err := apply(namespaces); err != nil {
		return err
	}
	return apply(rest)
}

func applyOne(ctx context.Context, c client.Client, o *unstructured.Unstructured) error {
	o = o.DeepCopy()
	o.SetResourceVersion("")
	o.SetManagedFields(nil)
	// A CRD applied a moment ago may not be in the client's REST mapping yet; the
	// dynamic mapper refreshes on a miss, but discovery itself can lag briefly.
	var err error
	for i := 0; i < 20; i++ {
		err = c.Apply(ctx, client.ApplyConfigurationFromUnstructured(o), client.FieldOwner(FieldOwner), client.ForceOwnership)
		if err == nil || !strings.Contains(err.Error(), "no matches for kind") {
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
	if err != nil {
		return fmt.Errorf("applying %s %s: %w", o.GetKind(), objectKey(o), err)
	}
	return nil
}

func objectKey(o client.Object) string {
	if o.GetNamespace() == "" {
		return o.GetName()
	}
	return o.GetNamespace() + "/" + o.GetName()
}

func waitEstablished(ctx context.Context, c client.Client, name string) error {
	return Poll(ctx, 60*time.Second, func(ctx context.Context) (bool, string, error) {
		crd := &unstructured.Unstructured{}
		crd.SetGroupVersionKind(apiextensionsv1.SchemeGroupVersion.WithKind("CustomResourceDefinition"))
		if err := c.Get(ctx, client.ObjectKey{Name: name}, crd); err != nil {
			return false, err.Error(), nil
		}
		conds, _, _ := unstructured.NestedSlice(crd.Object, "status", "conditions")
		for _, ci := range conds {
			cm, _ := ci.(map[string]any)
			if cm["type"] == "Established" && cm["status"] == "True" {
				return true, "", nil
			}
		}
		return false, "CRD " + name + " not Established yet", nil
	})
}

// Poll calls check every 500ms until it reports done, returns an error, or timeout
// passes. On timeout the error carries check's last explanation of why it was not done.
func Poll(parent context.Context, timeout time.Duration, check func(context.Context) (done bool, why string, err error)) error {
	ctx, cancel := context.WithTimeout(parent, timeout)
	defer cancel()
	why := "not checked yet"
	for {
		done, w, err := check(ctx)
		if err != nil {
			return err
		}
		if done {
			return nil
		}
		// A check cut short by the deadline explains nothing; keep the one before it.
		if w != "" && (ctx.Err() == nil || why == "not checked yet") {
			why = w
		}
		select {
		case <-ctx.Done():
			if parent.Err() != nil {
				return fmt.Errorf("interrupted while waiting (%s): %w", why, parent.Err())
			}
			return fmt.Errorf("gave up after %s: %s", timeout, why)
		case <-time.After(500 * time.Millisecond):
		}
	}
}
