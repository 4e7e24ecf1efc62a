/*
Copyright 2026 The csms-operator Authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

package v1alpha1_test

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/rest"

	v1alpha1 "github.com/csms-operator/csms-operator/api/v1alpha1"
)

// TestDiscovery checks scope, short names and the csms category as kubectl sees them.
func TestDiscovery(t *testing.T) {
	t.Parallel()
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	list, err := dc.ServerResourcesForGroupVersion(v1alpha1.GroupVersion.String())
	if err != nil {
		t.Fatal(err)
	}
	type res struct {
		Kind       string
		Namespaced bool
		ShortNames []string
		Categories []string
	}
	got := map[string]res{}
	for _, r := range list.APIResources {
		got[r.Name] = res{r.Kind, r.Namespaced, r.ShortNames, r.Categories}
	}
	want := map[string]res{
		"managedsecrets":                {"ManagedSecret", true, []string{"msec"}, []string{"csms"}},
		"managedsecrets/status":         {"ManagedSecret", true, nil, nil},
		"providerconfigs":               {"ProviderConfig", true, []string{"csmspc"}, []string{"csms"}},
		"providerconfigs/status":        {"ProviderConfig", true, nil, nil},
		"clusterproviderconfigs":        {"ClusterProviderConfig", false, []string{"csmscpc"}, []string{"csms"}},
		"clusterproviderconfigs/status": {"ClusterProviderConfig", false, nil, nil},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("discovery (-want +got):\n%s", diff)
	}
}

// getTable reads one object as the Table kubectl prints.
func getTable(t *testing.T, path string) *metav1.Table {
	t.Helper()
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(cfg.Host, "/")+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io")
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s: %s", path, resp.Status, body)
	}
	table := &metav1.Table{}
	if err := json.Unmarshal(body, table); err != nil {
		t.Fatal(err)
	}
	return table
}

type column struct {
	Name     string
	Priority int32
	Cell     any
}

func tableColumns(t *testing.T, table *metav1.Table) []column {
	t.Helper()
	if len(table.Rows) != 1 {
		t.Fatalf("want 1 row, got %d", len(table.Rows))
	}
	var cols []column
	for i, c := range table.ColumnDefinitions {
		cols = append(cols, column{c.Name, c.Priority, table.Rows[0].Cells[i]})
	}
	return cols
}

// TestManagedSecretPrinterColumns fills status and checks every column kubectl get (and -o
// wide) prints.
func TestManagedSecretPrinterColumns(t *testing.T) {
	t.Parallel()
	ms := newManagedSecret()
	ms.Spec.Name = "payments_db"
	ms.Spec.SecretType = v1alpha1.SecretTypeCommon
	if err := k8sClient.Create(ctx, ms); err != nil {
		t.Fatalf("create: %v", err)
	}
	next := metav1.NewTime(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC))
	ms.Status = v1alpha1.ManagedSecretStatus{
		Name:             "payments_db",
		SecretID:         "bb6a3d22-dc93-47ac-b5bd-88df7ad35f1e",
		State:            v1alpha1.SecretStateEnabled,
		CurrentVersionID: "v3",
		ReplicaType:      v1alpha1.ReplicaTypePrimary,
		NextRotationTime: &next,
		Target:           &v1alpha1.TargetStatus{Name: "payments-db-app", VersionID: "v3"},
	}
	meta.SetStatusCondition(&ms.Status.Conditions, metav1.Condition{Type: v1alpha1.ConditionTypeReady, Status: metav1.ConditionTrue, Reason: v1alpha1.ReasonAvailable, Message: "The secret is available"})
	meta.SetStatusCondition(&ms.Status.Conditions, metav1.Condition{Type: v1alpha1.ConditionTypeSynced, Status: metav1.ConditionFalse, Reason: v1alpha1.ReasonThrottled, Message: "Throttled"})
	if err := k8sClient.Status().Update(ctx, ms); err != nil {
		t.Fatalf("status update: %v", err)
	}
	cols := tableColumns(t, getTable(t, "/apis/secrets.csms-operator.io/v1alpha1/namespaces/"+ms.Namespace+"/managedsecrets/"+ms.Name))
	age := cols[6].Cell // AGE depends on the clock; check only that it is there.
	if age == "" || age == nil {
		t.Errorf("AGE is empty")
	}
	want := []column{
		{"Name", 0, ms.Name},
		{"CSMS NAME", 0, "payments_db"},
		{"STATE", 0, "ENABLED"},
		{"VERSION", 0, "v3"},
		{"READY", 0, "True"},
		{"REASON", 0, "Available"},
		{"AGE", 0, age},
		{"SECRET ID", 1, "bb6a3d22-dc93-47ac-b5bd-88df7ad35f1e"},
		{"TYPE", 1, "COMMON"},
		{"REPLICAS", 1, "PRIMARY"},
		{"NEXT ROTATION", 1, "2030-01-02T03:04:05Z"},
		{"POLICY", 1, "Manage"},
		{"TARGET", 1, "payments-db-app"},
		{"TARGET VERSION", 1, "v3"},
	}
	if diff := cmp.Diff(want, cols); diff != "" {
		t.Errorf("columns (-want +got):\n%s", diff)
	}
}

func TestProviderConfigPrinterColumns(t *testing.T) {
	t.Parallel()
	cpc := newClusterProviderConfig()
	if err := k8sClient.Create(ctx, cpc); err != nil {
		t.Fatalf("create: %v", err)
	}
	cpc.SetCondition(metav1.Condition{Type: v1alpha1.ConditionTypeReady, Status: metav1.ConditionTrue, Reason: v1alpha1.ReasonAvailable, Message: "ok"})
	if err := k8sClient.Status().Update(ctx, cpc); err != nil {
		t.Fatalf("status update: %v", err)
	}
	pc := newProviderConfig()
	if err := k8sClient.Create(ctx, pc); err != nil {
		t.Fatalf("create: %v", err)
	}
	for path, wantName := range map[string]string{
		"/apis/secrets.csms-operator.io/v1alpha1/clusterproviderconfigs/" + cpc.Name:                         cpc.Name,
		"/apis/secrets.csms-operator.io/v1alpha1/namespaces/" + pc.Namespace + "/providerconfigs/" + pc.Name: pc.Name,
	} {
		cols := tableColumns(t, getTable(t, path))
		if len(cols) != 5 {
			t.Fatalf("%s: want 5 columns, got %+v", path, cols)
		}
		ready := ""
		if wantName == cpc.Name {
			ready = "True"
		}
		var readyCell any = ready
		if ready == "" {
			readyCell = nil // no condition yet: the JSONPath finds nothing
		}
		want := []column{
			{"Name", 0, wantName},
			{"REGION", 0, "cn-north-4"},
			{"ENDPOINT", 0, "http://127.0.0.1:8787"},
			{"READY", 0, readyCell},
			{"AGE", 0, cols[4].Cell},
		}
		if diff := cmp.Diff(want, cols); diff != "" {
			t.Errorf("%s columns (-want +got):\n%s", path, diff)
		}
	}
}

// TestSamplesAccepted applies every object of config/samples, as `kubectl apply -k
// config/samples` would.
func TestSamplesAccepted(t *testing.T) {
	t.Parallel()
	ns := createNamespace(t)
	files, err := filepath.Glob(filepath.Join("..", "..", "config", "samples", "secrets_v1alpha1_*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]bool{}
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		dec := utilyaml.NewYAMLOrJSONDecoder(fh, 4096)
		for {
			u := &unstructured.Unstructured{}
			if err := dec.Decode(&u.Object); err != nil {
				if errors.Is(err, io.EOF) {
					break
				}
				t.Fatalf("%s: %v", f, err)
			}
			if u.GetKind() != "ClusterProviderConfig" {
				u.SetNamespace(ns)
			}
			if err := k8sClient.Create(ctx, u); err != nil {
				t.Errorf("%s: %s %s: %v", f, u.GetKind(), u.GetName(), err)
			}
			if u.GroupVersionKind().GroupVersion() == v1alpha1.GroupVersion {
				kinds[u.GetKind()] = true
			}
		}
		_ = fh.Close()
	}
	var got []string
	for k := range kinds {
		got = append(got, k)
	}
	sort.Strings(got)
	if diff := cmp.Diff([]string{"ClusterProviderConfig", "ManagedSecret", "ProviderConfig"}, got); diff != "" {
		t.Errorf("samples should cover every kind (-want +got):\n%s", diff)
	}
}
