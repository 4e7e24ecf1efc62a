package main

import (
	"os"
	"strings"
	"testing"
)

const (
	crdDir         = "../../config/crd/bases"
	conditionsFile = "../../api/v1alpha1/conditions.go"
	committedDoc   = "../../docs/api-reference.md"
)

// TestAPIReferenceUpToDate fails when docs/api-reference.md differs from what the current
// CRDs and condition reasons produce, so a change of the API cannot ship with stale docs.
func TestAPIReferenceUpToDate(t *testing.T) {
	want, err := generate(crdDir, conditionsFile)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(committedDoc)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Fatalf("docs/api-reference.md is out of date: run `make api-docs` (after `make manifests`) and commit it")
	}
}

// TestGenerateIsDeterministic guards the comparison above: map iteration must not leak
// into the output.
func TestGenerateIsDeterministic(t *testing.T) {
	first, err := generate(crdDir, conditionsFile)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		again, err := generate(crdDir, conditionsFile)
		if err != nil {
			t.Fatal(err)
		}
		if string(again) != string(first) {
			t.Fatalf("run %d produced different output", i+2)
		}
	}
}

// TestReferenceCoversAPI checks rows the reference must have: fields deep in the schema,
// a default, a pipe escaped inside a table cell, a CEL message, and every condition reason.
func TestReferenceCoversAPI(t *testing.T) {
	out, err := generate(crdDir, conditionsFile)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(out)
	for _, s := range []string{
		"| `spec.rotation.config.subType` |",
		"| `spec.value.generate.length` | int32 |  | `32` |",
		"| `spec.replicas[].projectID` | string | ✓ |",
		"| `status.replicas[].status` |",
		"| `spec.namespaceSelector.matchLabels` | map[string]string |",
		`ns\|us`,
		"spec.tags may have at most 18 entries",
		"spec.name is immutable",
	} {
		if !strings.Contains(doc, s) {
			t.Errorf("reference lacks %q", s)
		}
	}
	_, reasons, err := readConditionConsts(conditionsFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range reasons {
		if !strings.Contains(doc, "[`"+r.value+"`](guides/troubleshooting.md#"+strings.ToLower(r.value)+")") {
			t.Errorf("reference lacks reason %s", r.value)
		}
	}
}

func TestCellEscapesPipes(t *testing.T) {
	if got := cell("a|b"); got != `a\|b` {
		t.Fatalf("cell(a|b) = %q", got)
	}
}
