package bench

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestStatsArithmetic(t *testing.T) {
	before := Stats{"ShowSecret": {"404": 2}, "CreateSecret": {"200": 1}}
	after := Stats{
		"ShowSecret":              {"404": 5, "200": 4},
		"CreateSecret":            {"200": 4, "429": 1},
		"BatchCreateOrDeleteTags": {"204": 3},
		"ListSecretTags":          {"200": 1},
	}
	d := after.Sub(before)
	want := Stats{
		"ShowSecret":              {"404": 3, "200": 4},
		"CreateSecret":            {"200": 3, "429": 1},
		"BatchCreateOrDeleteTags": {"204": 3},
		"ListSecretTags":          {"200": 1},
	}
	if diff := cmp.Diff(want, d); diff != "" {
		t.Fatalf("Sub (-want +got):\n%s", diff)
	}
	if d.Total() != 15 || d.Reads() != 8 || d.Writes() != 7 || d.Status("429") != 1 || d.Op("CreateSecret") != 4 {
		t.Fatalf("total=%d reads=%d writes=%d 429=%d create=%d", d.Total(), d.Reads(), d.Writes(), d.Status("429"), d.Op("CreateSecret"))
	}
	if got, want := d.String(), "BatchCreateOrDeleteTags=3 CreateSecret=4(429:1) ListSecretTags=1 ShowSecret=7(404:3)"; got != want {
		t.Fatalf("String = %q, want %q", got, want)
	}
	if (Stats{}).Sub(Stats{"X": {"200": 0}}).Total() != 0 {
		t.Fatal("zero diff not empty")
	}
}

func TestIsRead(t *testing.T) {
	for _, op := range []string{"ShowSecret", "ListSecretTags", "ShowSecretVersion", "ListSecretVersions"} {
		if !IsRead(op) {
			t.Errorf("%s should be a read", op)
		}
	}
	for _, op := range []string{"CreateSecret", "UpdateSecret", "CreateSecretVersion", "BatchCreateOrDeleteTags", "DeleteSecretForSchedule", "RestoreSecret", "CreateSecretReplica", "Unknown"} {
		if IsRead(op) {
			t.Errorf("%s should count as a write", op)
		}
	}
}
