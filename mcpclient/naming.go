package mcpclient

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strconv"
	"strings"
)

// MaxToolNameLen is the longest tool name the registry exposes. Model
// providers accept function names matching ^[a-zA-Z0-9_-]{1,64}$.
const MaxToolNameLen = 64

// hashLen is the number of hex characters of the SHA-256 suffix that makes a
// shortened or colliding name unique.
const hashLen = 8

// ToolName returns the name under which a tool is exposed, before collisions
// with other tools are considered: "<prefix>__<tool>", or tool alone when
// prefix is "". Characters outside [a-zA-Z0-9_-] become '_'. A name longer
// than [MaxToolNameLen] is cut to 55 characters followed by "_" and the first
// 8 hex characters of the SHA-256 of the full unsanitised name, so that
// shortened names stay distinct. It returns "" only when both prefix and tool
// are "".
func ToolName(prefix, tool string) string {
	full := fullName(prefix, tool)
	name := sanitize(full)
	if len(name) > MaxToolNameLen {
		name = withHash(name, full)
	}
	return name
}

// fullName joins prefix and tool with the "__" separator.
func fullName(prefix, tool string) string {
	if prefix == "" {
		return tool
	}
	return prefix + "__" + tool
}

// sanitize replaces every character outside [a-zA-Z0-9_-] by '_' (one '_'
// per character, not per byte).
func sanitize(s string) string {
	valid := true
	for i := 0; i < len(s); i++ {
		if !validNameByte(s[i]) {
			valid = false
			break
		}
	}
	if valid {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		if r < 0x80 && validNameByte(byte(r)) {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}

func validNameByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

// withHash appends "_" and 8 hex characters of sha256(key) to name, cutting
// name so that the result fits in MaxToolNameLen.
func withHash(name, key string) string {
	sum := sha256.Sum256([]byte(key))
	suffix := "_" + hex.EncodeToString(sum[:])[:hashLen]
	if keep := MaxToolNameLen - len(suffix); len(name) > keep {
		name = name[:keep]
	}
	return name + suffix
}

// nameEntry is one tool to be named: the server it comes from, the prefix
// configured for that server and the tool's original name.
type nameEntry struct {
	Server string
	Prefix string
	Tool   string
}

// assignNames gives every entry a unique exposed name, returned in the order
// of entries. Entries with an empty full name get "". The result depends
// only on the set of entries, not on their order:
//
//   - every entry starts from [ToolName];
//   - when several entries end up with the same name, an entry whose full
//     name is exactly that name (nothing was replaced or cut) keeps it; the
//     others get the hash suffix of their full name, or, when two servers
//     expose the very same full name, of "<server>/<full name>";
//   - the first server in name order keeps a name claimed unchanged by
//     several servers.
func assignNames(entries []nameEntry) []string {
	type cand struct {
		idx  int
		full string
		name string
	}
	cands := make([]cand, len(entries))
	for i, e := range entries {
		full := fullName(e.Prefix, e.Tool)
		cands[i] = cand{idx: i, full: full, name: ToolName(e.Prefix, e.Tool)}
	}
	// Deterministic processing order: entries that kept their name exactly
	// come first, then by server and tool.
	order := make([]int, len(cands))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int {
		ea, eb := entries[a], entries[b]
		ua, ub := cands[a].full == cands[a].name, cands[b].full == cands[b].name
		if ua != ub {
			if ua {
				return -1
			}
			return 1
		}
		return cmp.Or(cmp.Compare(ea.Server, eb.Server), cmp.Compare(ea.Tool, eb.Tool), cmp.Compare(ea.Prefix, eb.Prefix))
	})
	// Names that collide with another candidate's starting name.
	count := make(map[string]int, len(cands))
	for _, c := range cands {
		if c.full != "" {
			count[c.name]++
		}
	}
	fullCount := make(map[string]int, len(cands))
	for _, c := range cands {
		fullCount[c.full]++
	}
	out := make([]string, len(entries))
	used := make(map[string]bool, len(cands))
	for _, i := range order {
		c := cands[i]
		if c.full == "" {
			continue
		}
		name := c.name
		if used[name] || (count[name] > 1 && c.full != name) {
			key := c.full
			if fullCount[c.full] > 1 {
				key = entries[i].Server + "/" + c.full
			}
			name = withHash(c.name, key)
			// A hash suffix that collides with some other name is
			// practically impossible; rehash deterministically if it does.
			for n := 1; used[name]; n++ {
				name = withHash(c.name, key+"#"+strconv.Itoa(n))
			}
		}
		used[name] = true
		out[i] = name
	}
	return out
}
