package promql

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestMetricNames(t *testing.T) {
	cases := []struct {
		expr string
		want []string
	}{
		{`up`, []string{"up"}},
		{`sum by (operation) (rate(csms_api_requests_total{code="429"}[5m])) > 0.2`, []string{"csms_api_requests_total"}},
		{`sum(rate(a_total{code=~"5..|error"}[5m]))
		  / sum(rate(a_total[5m])) > 0.05`, []string{"a_total"}},
		{`histogram_quantile(0.99, sum by (le, operation) (rate(d_seconds_bucket[5m]))) > 5`, []string{"d_seconds_bucket"}},
		{`sum(rate(x_total[5m])) by (controller)`, []string{"x_total"}},
		{`absent(up{job="csms-operator-controller-manager-metrics-service"} == 1)`, []string{"up"}},
		{`a / on (pod) group_left (node) b`, []string{"a", "b"}},
		{`a and ignoring(le) b unless c or d`, []string{"a", "b", "c", "d"}},
		{`max_over_time(m[1h:5m]) offset 1d`, []string{"m"}},
		{`rate(m{job=~"$job"}[$__rate_interval])`, []string{"m"}},
		{`sum without (instance) (m) * on() group_right vector(1)`, []string{"m"}},
		{`{__name__="by_name", job="x"}`, []string{"by_name"}},
		{`label_replace(m, "dst", "$1", "src", "(.*)")`, []string{"m"}},
		{`topk(5, m) # a comment naming not_a_metric`, []string{"m"}},
		{`recording:rule:sum + 1e-3 + 0x1F + Inf`, []string{"recording:rule:sum"}},
		{`count_values("v", m)`, []string{"m"}},
	}
	for _, c := range cases {
		got, err := MetricNames(c.expr)
		if err != nil {
			t.Errorf("MetricNames(%q): %v", c.expr, err)
			continue
		}
		if d := cmp.Diff(c.want, got); d != "" {
			t.Errorf("MetricNames(%q) (-want +got):\n%s", c.expr, d)
		}
	}
}

func TestMetricNamesErrors(t *testing.T) {
	for expr, want := range map[string]string{
		`sum(rate(m[5m])`:       "unclosed",
		`m{a="b"]`:              "unbalanced",
		`m{a="b}`:               "unterminated string",
		`{__name__=~"csms_.*"}`: "cannot check",
	} {
		_, err := MetricNames(expr)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("MetricNames(%q) = %v, want an error containing %q", expr, err, want)
		}
	}
}
