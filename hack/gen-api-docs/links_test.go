package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// ownedDocs are the documents whose links TestDocLinks checks: the index, the reference
// and the guides (docs/emulator.md and docs/install.md have their own owners).
var ownedDocs = []string{"../../docs/README.md", "../../docs/api-reference.md", "../../docs/guides/*.md"}

var (
	linkRE       = regexp.MustCompile(`\]\(([^)\s]+)\)`)
	inlineCodeRE = regexp.MustCompile("`[^`]*`")
	headingRE    = regexp.MustCompile(`^#{1,6}\s+(.*)$`)
	slugDropRE   = regexp.MustCompile(`[^\p{L}\p{N}\- ]`)
)

// slug is GitHub's heading anchor: lower case, punctuation dropped, spaces to dashes.
func slug(heading string) string {
	return strings.ReplaceAll(slugDropRE.ReplaceAllString(strings.ToLower(strings.TrimSpace(heading)), ""), " ", "-")
}

func anchorsOf(t *testing.T, path string) map[string]bool {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	fenced := false
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "```") {
			fenced = !fenced
			continue
		}
		if m := headingRE.FindStringSubmatch(line); m != nil && !fenced {
			out[slug(m[1])] = true
		}
	}
	return out
}

// TestDocLinks fails on a relative link to a file that does not exist or to a heading
// that is not there, so renamed guides and sections cannot leave dead links behind.
func TestDocLinks(t *testing.T) {
	var files []string
	for _, g := range ownedDocs {
		m, err := filepath.Glob(g)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	if len(files) < 3 {
		t.Fatalf("found only %v", files)
	}
	checked := 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		fenced := false
		for i, line := range strings.Split(string(data), "\n") {
			if strings.HasPrefix(line, "```") {
				fenced = !fenced
				continue
			}
			if fenced {
				continue
			}
			for _, m := range linkRE.FindAllStringSubmatch(inlineCodeRE.ReplaceAllString(line, ""), -1) {
				link := m[1]
				if strings.Contains(link, "://") || strings.HasPrefix(link, "mailto:") {
					continue
				}
				path, anchor, _ := strings.Cut(link, "#")
				target := f
				if path != "" {
					target = filepath.Join(filepath.Dir(f), path)
				}
				checked++
				if _, err := os.Stat(target); err != nil {
					t.Errorf("%s:%d: link %s: %v", f, i+1, link, err)
					continue
				}
				if anchor != "" && strings.HasSuffix(target, ".md") && !anchorsOf(t, target)[anchor] {
					t.Errorf("%s:%d: link %s: no heading with anchor %q in %s", f, i+1, link, anchor, target)
				}
			}
		}
	}
	if checked == 0 {
		t.Fatal("no links checked")
	}
}
