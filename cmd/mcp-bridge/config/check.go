package config

import (
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// otherClientKeys are top-level keys that the files of other MCP clients
// carry next to mcpServers (Claude Desktop: globalShortcut, preferences,
// theme, telemetry, isUsingBuiltInNodeForMcp; VS Code: inputs; JSON
// schema references): a file written for them loads, with a warning.
var otherClientKeys = map[string]bool{
	"globalShortcut": true, "preferences": true, "theme": true, "telemetry": true,
	"isUsingBuiltInNodeForMcp": true, "inputs": true, "$schema": true,
}

// problems collects a file's errors: each names the line and the full key
// path; all of them are reported at once.
type problems []string

func (p *problems) add(line int, path, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	switch {
	case line > 0 && path != "":
		*p = append(*p, fmt.Sprintf("line %d: %s: %s", line, path, msg))
	case line > 0:
		*p = append(*p, fmt.Sprintf("line %d: %s", line, msg))
	case path != "":
		*p = append(*p, fmt.Sprintf("%s: %s", path, msg))
	default:
		*p = append(*p, msg)
	}
}

// err returns the problems as one error, each on its own line and
// prefixed by file; nil when there are none.
func (p problems) err(file string) error {
	if len(p) == 0 {
		return nil
	}
	lines := make([]string, len(p))
	for i, m := range p {
		lines[i] = file + ": " + m
	}
	return &configError{lines: lines}
}

// configError is every problem of a file.
type configError struct{ lines []string }

func (e *configError) Error() string { return strings.Join(e.lines, "\n") }

// checkTree checks the node n against the type t that will decode it,
// reporting every unknown key (with the known key it may be a misspelling
// of) and every value of the wrong type, with the full key path. It
// mirrors the decoder: scalar values are decoded on their own to see
// whether they fit.
func checkTree(n *yaml.Node, t reflect.Type, path string, p *problems) {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return
	}
	switch {
	case t.Kind() == reflect.Struct && t != reflect.TypeOf(Duration(0)):
		if n.Kind != yaml.MappingNode {
			p.add(n.Line, path, "expected a mapping, got %s", nodeKind(n))
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			f, ok := fieldByKey(t, k.Value)
			if !ok {
				p.add(k.Line, "", "unknown key %q%s", join(path, k.Value), suggest(k.Value, structKeys(t)))
				continue
			}
			checkTree(v, f.Type, join(path, k.Value), p)
		}
	case t.Kind() == reflect.Map && isComposite(t.Elem()):
		if n.Kind != yaml.MappingNode {
			p.add(n.Line, path, "expected a mapping, got %s", nodeKind(n))
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			checkTree(n.Content[i+1], t.Elem(), join(path, n.Content[i].Value), p)
		}
	case t.Kind() == reflect.Slice && isComposite(t.Elem()):
		if n.Kind != yaml.SequenceNode {
			p.add(n.Line, path, "expected a list, got %s", nodeKind(n))
			return
		}
		for i, item := range n.Content {
			checkTree(item, t.Elem(), fmt.Sprintf("%s[%d]", path, i), p)
		}
	default:
		if err := n.Decode(reflect.New(t).Interface()); err != nil {
			p.add(n.Line, path, "%s", stripLine(cleanYAMLError(err)))
		}
	}
}

// isComposite reports whether values of t are checked key by key.
func isComposite(t reflect.Type) bool {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t.Kind() == reflect.Struct && t != reflect.TypeOf(Duration(0))
}

var lineRE = regexp.MustCompile(`^line \d+: `)

// stripLine removes the decoder's "line N: " (the caller gives the line).
func stripLine(msg string) string { return lineRE.ReplaceAllString(msg, "") }

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// nodeKind names what a node holds, for "expected X, got Y".
func nodeKind(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	default:
		return fmt.Sprintf("%q", n.Value)
	}
}

// structKeys are the keys the struct type t reads.
func structKeys(t reflect.Type) []string {
	var keys []string
	for i := 0; i < t.NumField(); i++ {
		if name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ","); name != "" && name != "-" {
			keys = append(keys, name)
		}
	}
	return keys
}

// suggest returns ` (did you mean "KEY"?)` for the known key closest to
// key, when one is close enough to be a misspelling; "" otherwise.
func suggest(key string, known []string) string {
	if k := closest(key, known); k != "" {
		return fmt.Sprintf(" (did you mean %q?)", k)
	}
	return ""
}

// closest returns the known key within a small edit distance of key (or
// equal to it but for case), "" when none is.
func closest(key string, known []string) string {
	best, bestD := "", 0
	sorted := append([]string(nil), known...)
	sort.Strings(sorted)
	for _, k := range sorted {
		d := editDistance(strings.ToLower(key), strings.ToLower(k))
		limit := 1
		if len(k) > 4 {
			limit = 2
		}
		if d <= limit && (best == "" || d < bestD) {
			best, bestD = k, d
		}
	}
	return best
}

// editDistance is the edit distance of a and b, a swap of two adjacent
// letters counting as one edit (optimal string alignment).
func editDistance(a, b string) int {
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}

// badIndent finds the first line of a YAML text whose indentation lines up
// with no setting above it, or that is indented under a line that opens
// nothing: the line a parser's "did not find expected key" is usually
// about, although the parser reports the start of the block. 0 when every
// line fits.
func badIndent(text string) int {
	stack := []int{0} // indentations of the open blocks
	opens := false    // the previous line ends with ":" (or is a list item)
	block := -1       // indentation of a line starting a block scalar (| or >)
	for i, raw := range strings.Split(text, "\n") {
		line := strings.TrimRight(raw, " \t\r")
		trimmed := strings.TrimLeft(line, " ")
		if trimmed == "" || strings.HasPrefix(trimmed, "#") {
			continue
		}
		ind := len(line) - len(trimmed)
		if block >= 0 {
			if ind > block {
				continue
			}
			block = -1
		}
		switch top := stack[len(stack)-1]; {
		case ind > top:
			if !opens {
				return i + 1
			}
			stack = append(stack, ind)
		case ind < top:
			for len(stack) > 1 && stack[len(stack)-1] > ind {
				stack = stack[:len(stack)-1]
			}
			if stack[len(stack)-1] != ind {
				return i + 1
			}
		}
		body := trimmed
		if c := strings.Index(body, " #"); c >= 0 {
			body = strings.TrimRight(body[:c], " ")
		}
		opens = strings.HasSuffix(body, ":")
		if strings.HasPrefix(body, "- ") || body == "-" {
			// The item's own mapping continues two columns in.
			stack = append(stack, ind+2)
			opens = opens || body == "-"
		}
		if strings.HasSuffix(body, "|") || strings.HasSuffix(body, ">") || strings.HasSuffix(body, "|-") || strings.HasSuffix(body, ">-") {
			block = ind
		}
		// A flow collection or quoted text spread over lines: give up
		// rather than guess.
		if strings.Count(body, "[") != strings.Count(body, "]") || strings.Count(body, "{") != strings.Count(body, "}") {
			return 0
		}
	}
	return 0
}
