package bench

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// scrapeMetrics fetches a Prometheus text endpoint and sums every sample of each metric
// whose name is in names and whose labels contain all of match (e.g.
// `controller="managedsecret"`).
func scrapeMetrics(ctx context.Context, url string, match []string, names ...string) (map[string]float64, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("scraping %s: %w", url, err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("scraping %s: HTTP %d", url, resp.StatusCode)
	}
	return parseMetrics(resp.Body, match, names...)
}

func parseMetrics(r io.Reader, match []string, names ...string) (map[string]float64, error) {
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		name, labels, rest := line, "", ""
		if i := strings.IndexAny(line, "{ "); i >= 0 {
			name, rest = line[:i], line[i:]
			if rest[0] == '{' {
				j := strings.LastIndexByte(rest, '}')
				if j < 0 {
					return nil, fmt.Errorf("malformed sample %q", line)
				}
				labels, rest = rest[1:j], rest[j+1:]
			}
		}
		if !want[name] || !labelsMatch(labels, match) {
			continue
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			return nil, fmt.Errorf("sample without a value %q", line)
		}
		v, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			return nil, fmt.Errorf("parsing %q: %w", line, err)
		}
		out[name] += v
	}
	return out, sc.Err()
}

// labelsMatch: every `key="value"` of match is among labels, or the sample has no such key
// (process-wide metrics such as go_goroutines carry no controller label).
func labelsMatch(labels string, match []string) bool {
	for _, m := range match {
		key, _, _ := strings.Cut(m, "=")
		if strings.Contains(labels, key+"=") && !strings.Contains(labels, m) {
			return false
		}
	}
	return true
}
