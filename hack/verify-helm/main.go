// Command verify-helm checks that the Helm chart installs what config/default installs,
// in what matters: the same CRDs (byte-for-byte copies, and equal specs when rendered),
// the same RBAC rules and bindings, the same ServiceAccount, and the same manager
// Deployment (command, args, image, security contexts, probes, ports) and metrics
// Service. Labels and Helm's extra metadata are ignored; the Namespace object is too,
// since Helm installs into an existing (or --create-namespace) namespace.
//
// Usage: verify-helm -chart charts/csms-operator -kustomize FILE -helm FILE [-dashboard-configmap FILE]
// where the files are `kustomize build config/default` and
// `helm template ... --namespace csms-system --include-crds` output, and the optional
// Grafana dashboard ConfigMap rendered with grafanaDashboard.enabled=true, which must
// carry config/grafana/csms-operator.json and the sidecar's label.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/csms-operator/csms-operator/internal/localenv"
)

// compared lists, per kind, the fields whose values must be equal.
var compared = map[string][][]string{
	"CustomResourceDefinition": {{"spec"}},
	"ClusterRole":              {{"rules"}, {"aggregationRule"}},
	"Role":                     {{"rules"}},
	"ClusterRoleBinding":       {{"roleRef"}, {"subjects"}},
	"RoleBinding":              {{"roleRef"}, {"subjects"}},
	"ServiceAccount":           {{"automountServiceAccountToken"}},
	"Service":                  {{"spec", "ports"}, {"spec", "selector"}, {"spec", "type"}},
	"Deployment": {
		{"spec", "replicas"},
		{"spec", "selector"},
		{"spec", "template", "metadata", "labels"},
		{"spec", "template", "spec", "securityContext"},
		{"spec", "template", "spec", "serviceAccountName"},
		{"spec", "template", "spec", "terminationGracePeriodSeconds"},
		{"spec", "template", "spec", "containers"},
	},
}

// ignoredKinds exist in one render only, by design.
var ignoredKinds = map[string]string{
	"Namespace": "Helm installs into the release namespace (--create-namespace)",
}

func main() {
	chart := flag.String("chart", "charts/csms-operator", "chart directory")
	kustomizeFile := flag.String("kustomize", "", "output of kustomize build config/default")
	helmFile := flag.String("helm", "", "output of helm template --include-crds")
	dashboardFile := flag.String("dashboard-configmap", "", "the chart's dashboard ConfigMap rendered with grafanaDashboard.enabled=true")
	flag.Parse()

	var problems []string
	problems = append(problems, checkCopies(*chart)...)
	if *dashboardFile != "" {
		problems = append(problems, checkDashboard(*dashboardFile)...)
	}

	kObjs, err := load(*kustomizeFile)
	if err != nil {
		fail(err)
	}
	hObjs, err := load(*helmFile)
	if err != nil {
		fail(err)
	}
	problems = append(problems, compare(kObjs, hObjs)...)

	if len(problems) > 0 {
		fmt.Fprintf(os.Stderr, "verify-helm: the chart differs from config/default:\n")
		for _, p := range problems {
			fmt.Fprintf(os.Stderr, "- %s\n", p)
		}
		os.Exit(1)
	}
	fmt.Printf("verify-helm: chart matches config/default (%d objects compared)\n", len(kObjs))
}

func fail(err error) {
	fmt.Fprintf(os.Stderr, "verify-helm: %v\n", err)
	os.Exit(2)
}

// checkCopies: the chart's crds/ and files/manager-role.yaml are copies of generated
// files; a stale copy is the drift this check exists for.
func checkCopies(chart string) []string {
	var problems []string
	pairs := map[string]string{
		filepath.Join(chart, "files", "manager-role.yaml"):      filepath.Join("config", "rbac", "role.yaml"),
		filepath.Join(chart, "files", "grafana-dashboard.json"): dashboardSource,
	}
	bases, _ := filepath.Glob(filepath.Join("config", "crd", "bases", "*.yaml"))
	for _, b := range bases {
		pairs[filepath.Join(chart, "crds", filepath.Base(b))] = b
	}
	copies, _ := filepath.Glob(filepath.Join(chart, "crds", "*.yaml"))
	for _, c := range copies {
		if _, ok := pairs[c]; !ok {
			problems = append(problems, fmt.Sprintf("%s has no source in config/crd/bases: run make helm-sync", c))
		}
	}
	keys := make([]string, 0, len(pairs))
	for k := range pairs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, dst := range keys {
		src := pairs[dst]
		a, err := os.ReadFile(src)
		if err != nil {
			problems = append(problems, fmt.Sprintf("reading %s: %v", src, err))
			continue
		}
		b, err := os.ReadFile(dst)
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s is missing: run make helm-sync", dst))
			continue
		}
		if !bytes.Equal(a, b) {
			problems = append(problems, fmt.Sprintf("%s differs from %s: run make helm-sync", dst, src))
		}
	}
	return problems
}

// dashboardSource is the Grafana dashboard the chart ships a copy of.
var dashboardSource = filepath.Join("config", "grafana", "csms-operator.json")

// checkDashboard: the rendered ConfigMap holds the dashboard as it is in config/grafana,
// under the label the Grafana sidecar selects.
func checkDashboard(path string) []string {
	objs, err := load(path)
	if err != nil {
		return []string{err.Error()}
	}
	if len(objs) != 1 {
		return []string{fmt.Sprintf("%s: want one dashboard ConfigMap, got %d objects", path, len(objs))}
	}
	want, err := os.ReadFile(dashboardSource)
	if err != nil {
		return []string{err.Error()}
	}
	var problems []string
	for id, o := range objs {
		if o.GetKind() != "ConfigMap" || o.GetLabels()["grafana_dashboard"] != "1" {
			problems = append(problems, fmt.Sprintf("%s is not a ConfigMap labelled grafana_dashboard: \"1\"", id))
		}
		got, _, _ := unstructured.NestedString(o.Object, "data", "csms-operator.json")
		if strings.TrimSpace(got) != strings.TrimSpace(string(want)) {
			problems = append(problems, fmt.Sprintf("%s data csms-operator.json differs from %s", id, dashboardSource))
		}
	}
	return problems
}

func load(path string) (map[string]*unstructured.Unstructured, error) {
	if path == "" {
		return nil, fmt.Errorf("missing file flag")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	objs, err := localenv.DecodeYAML(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	out := map[string]*unstructured.Unstructured{}
	for _, o := range objs {
		k := fmt.Sprintf("%s %s/%s", o.GetKind(), o.GetNamespace(), o.GetName())
		if _, dup := out[k]; dup {
			return nil, fmt.Errorf("%s: %s appears twice", path, k)
		}
		out[k] = o
	}
	return out, nil
}

func compare(k, h map[string]*unstructured.Unstructured) []string {
	var problems []string
	keys := map[string]bool{}
	for id := range k {
		keys[id] = true
	}
	for id := range h {
		keys[id] = true
	}
	sorted := make([]string, 0, len(keys))
	for id := range keys {
		sorted = append(sorted, id)
	}
	sort.Strings(sorted)
	for _, id := range sorted {
		ko, kok := k[id]
		ho, hok := h[id]
		kind := strings.SplitN(id, " ", 2)[0]
		if _, ok := ignoredKinds[kind]; ok {
			continue
		}
		switch {
		case !hok:
			problems = append(problems, fmt.Sprintf("%s is in config/default but not in the chart", id))
			continue
		case !kok:
			problems = append(problems, fmt.Sprintf("%s is in the chart but not in config/default", id))
			continue
		}
		fields, ok := compared[kind]
		if !ok {
			problems = append(problems, fmt.Sprintf("%s: kind %s is not compared; add it to verify-helm", id, kind))
			continue
		}
		for _, f := range fields {
			kv, _, _ := unstructured.NestedFieldNoCopy(ko.Object, f...)
			hv, _, _ := unstructured.NestedFieldNoCopy(ho.Object, f...)
			if d := cmp.Diff(kv, hv); d != "" {
				problems = append(problems, fmt.Sprintf("%s .%s differs (-kustomize +helm):\n%s", id, strings.Join(f, "."), clip(d, 40)))
			}
		}
	}
	return problems
}

// clip keeps the first n lines of a diff: a CRD's whole schema is no help to read.
func clip(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) <= n {
		return s
	}
	return strings.Join(lines[:n], "\n") + fmt.Sprintf("\n  ... (%d more lines)", len(lines)-n)
}
