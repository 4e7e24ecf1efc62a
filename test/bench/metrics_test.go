package bench

import (
	"strings"
	"testing"
)

func TestParseMetrics(t *testing.T) {
	in := `# HELP controller_runtime_reconcile_total Total number of reconciliations per controller
# TYPE controller_runtime_reconcile_total counter
controller_runtime_reconcile_total{controller="managedsecret",result="success"} 2000
controller_runtime_reconcile_total{controller="managedsecret",result="requeue_after"} 1000
controller_runtime_reconcile_total{controller="clusterproviderconfig",result="success"} 7
go_memstats_heap_inuse_bytes 4.194304e+07
go_goroutines 120
`
	got, err := parseMetrics(strings.NewReader(in), []string{`controller="managedsecret"`},
		"controller_runtime_reconcile_total", "go_memstats_heap_inuse_bytes", "go_goroutines")
	if err != nil {
		t.Fatal(err)
	}
	if got["controller_runtime_reconcile_total"] != 3000 || got["go_memstats_heap_inuse_bytes"] != 41943040 || got["go_goroutines"] != 120 {
		t.Fatalf("got %v", got)
	}
}
