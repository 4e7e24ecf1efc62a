// Package promql finds the metric names a PromQL expression selects, so that a test can
// check dashboards and alerting rules against what the manager really exports. It is a
// tokenizer with PromQL's few context rules, not a full parser: label matchers, range
// and subquery brackets, label lists of by/without/on/ignoring/group_left/group_right,
// strings, numbers, durations and Grafana variables are skipped; an identifier followed
// by "(" is a function or aggregation; any other identifier that is not a keyword is a
// metric name. An unknown keyword therefore shows up as a "metric" and fails the check
// loudly rather than hiding a real name.
package promql

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// keywords are identifiers that are never metric names when not followed by "(".
var keywords = map[string]bool{
	// binary operators and modifiers
	"and": true, "or": true, "unless": true, "atan2": true, "bool": true, "offset": true,
	// aggregations, which may be followed by by/without before their "("
	"sum": true, "avg": true, "count": true, "min": true, "max": true, "group": true,
	"stddev": true, "stdvar": true, "topk": true, "bottomk": true, "quantile": true,
	"count_values": true, "limitk": true, "limit_ratio": true,
	// literals
	"inf": true, "nan": true,
}

// labelListKeywords are followed by a parenthesised list of label names.
var labelListKeywords = map[string]bool{
	"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true,
}

type kind int

const (
	kIdent kind = iota
	kString
	kNumber
	kVariable
	kPunct
)

type token struct {
	kind kind
	text string
}

// MetricNames returns the sorted, distinct metric names expr selects. It fails on
// unbalanced brackets, unterminated strings, and a metric name given only as a regular
// expression (__name__=~...), which cannot be checked.
func MetricNames(expr string) ([]string, error) {
	toks, err := tokenize(expr)
	if err != nil {
		return nil, err
	}
	if err := balanced(toks); err != nil {
		return nil, err
	}
	names := map[string]bool{}
	for i := 0; i < len(toks); i++ {
		t := toks[i]
		switch {
		case t.kind == kPunct && t.text == "{":
			end := closing(toks, i)
			n, err := nameMatcher(toks[i+1 : end])
			if err != nil {
				return nil, fmt.Errorf("%q: %w", expr, err)
			}
			if n != "" {
				names[n] = true
			}
			i = end
		case t.kind == kPunct && t.text == "[":
			i = closing(toks, i)
		case t.kind == kIdent:
			next := ""
			if i+1 < len(toks) && toks[i+1].kind == kPunct {
				next = toks[i+1].text
			}
			low := strings.ToLower(t.text)
			switch {
			case labelListKeywords[low]:
				if next == "(" {
					i = closing(toks, i+1)
				}
			case next == "(" || keywords[low]:
				// a function call, an aggregation or an operator keyword
			default:
				names[t.text] = true
			}
		}
	}
	out := make([]string, 0, len(names))
	for n := range names {
		out = append(out, n)
	}
	sort.Strings(out)
	return out, nil
}

// nameMatcher returns the metric name of a {__name__="x"} matcher block, or "".
func nameMatcher(toks []token) (string, error) {
	for i := 0; i+2 < len(toks); i++ {
		if toks[i].kind != kIdent || toks[i].text != "__name__" {
			continue
		}
		if toks[i+1].text != "=" || toks[i+2].kind != kString {
			return "", errors.New("__name__ is matched by something other than = \"name\"; cannot check it")
		}
		return unquote(toks[i+2].text), nil
	}
	return "", nil
}

func unquote(s string) string {
	if len(s) >= 2 {
		return s[1 : len(s)-1]
	}
	return s
}

// closing returns the index of the bracket closing the one at toks[i].
func closing(toks []token, i int) int {
	depth := 0
	for j := i; j < len(toks); j++ {
		if toks[j].kind != kPunct {
			continue
		}
		switch toks[j].text {
		case "(", "{", "[":
			depth++
		case ")", "}", "]":
			depth--
			if depth == 0 {
				return j
			}
		}
	}
	return len(toks) - 1
}

func balanced(toks []token) error {
	pairs := map[string]string{")": "(", "}": "{", "]": "["}
	var stack []string
	for _, t := range toks {
		if t.kind != kPunct {
			continue
		}
		switch t.text {
		case "(", "{", "[":
			stack = append(stack, t.text)
		case ")", "}", "]":
			if len(stack) == 0 || stack[len(stack)-1] != pairs[t.text] {
				return fmt.Errorf("unbalanced %q", t.text)
			}
			stack = stack[:len(stack)-1]
		}
	}
	if len(stack) > 0 {
		return fmt.Errorf("unclosed %q", stack[len(stack)-1])
	}
	return nil
}

var twoCharOps = map[string]bool{"==": true, "!=": true, "<=": true, ">=": true, "=~": true, "!~": true}

func isIdentStart(c byte) bool {
	return c == '_' || c == ':' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

func isIdentChar(c byte) bool { return isIdentStart(c) || (c >= '0' && c <= '9') }

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func tokenize(s string) ([]token, error) {
	var toks []token
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '#':
			for i < len(s) && s[i] != '\n' {
				i++
			}
		case c == '"' || c == '\'' || c == '`':
			j := i + 1
			for j < len(s) && s[j] != c {
				if s[j] == '\\' && c != '`' {
					j++
				}
				j++
			}
			if j >= len(s) {
				return nil, fmt.Errorf("unterminated string at offset %d", i)
			}
			toks = append(toks, token{kString, s[i : j+1]})
			i = j + 1
		case c == '$':
			// Grafana variables: $name, ${name}, ${name:format}, [[name]] is not used here.
			j := i + 1
			if j < len(s) && s[j] == '{' {
				for j < len(s) && s[j] != '}' {
					j++
				}
				j++
			} else {
				for j < len(s) && isIdentChar(s[j]) {
					j++
				}
			}
			toks = append(toks, token{kVariable, s[i:min(j, len(s))]})
			i = j
		case isDigit(c) || (c == '.' && i+1 < len(s) && isDigit(s[i+1])):
			j := i
			for j < len(s) && (isIdentChar(s[j]) || s[j] == '.' ||
				((s[j] == '+' || s[j] == '-') && (s[j-1] == 'e' || s[j-1] == 'E') && !strings.ContainsAny(s[i:j], "xX"))) {
				j++
			}
			toks = append(toks, token{kNumber, s[i:j]})
			i = j
		case isIdentStart(c):
			j := i
			for j < len(s) && isIdentChar(s[j]) {
				j++
			}
			toks = append(toks, token{kIdent, s[i:j]})
			i = j
		default:
			// Two-character operators matter only for "=" after __name__.
			if i+1 < len(s) && twoCharOps[s[i:i+2]] {
				toks = append(toks, token{kPunct, s[i : i+2]})
				i += 2
				continue
			}
			toks = append(toks, token{kPunct, string(c)})
			i++
		}
	}
	return toks, nil
}
