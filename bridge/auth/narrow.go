package auth

import (
	"fmt"
	"net/http"
	"strings"
)

// Narrowing headers: a caller may narrow, never widen, what it gets for
// one request.
const (
	// HeaderServers lists the servers (names or globs, comma-separated)
	// the request may use.
	HeaderServers = "X-MCP-Servers"
	// HeaderTools lists the exposed tool names (or globs) the request may
	// use; "none" means no tool at all.
	HeaderTools = "X-MCP-Tools"
)

// narrowing is what the headers of one request asked for. A nil
// *narrowing narrows nothing.
type narrowing struct {
	servers []string   // nil: no restriction
	tools   []string   // nil: no restriction
	none    bool       // X-MCP-Tools: none
	prev    *narrowing // an earlier narrowing, which still applies
}

func (n *narrowing) allowsServer(name string) bool {
	for ; n != nil; n = n.prev {
		if n.servers != nil && !matchAny(n.servers, name) {
			return false
		}
	}
	return true
}

func (n *narrowing) allowsTool(exposedName, server string) bool {
	if !n.allowsServer(server) {
		return false
	}
	for ; n != nil; n = n.prev {
		if n.none || n.tools != nil && !matchAny(n.tools, exposedName) {
			return false
		}
	}
	return true
}

// Narrow applies the request's narrowing headers (X-MCP-Servers,
// X-MCP-Tools) to p. The result allows what p allows and the headers
// name: the intersection, never more. Without the headers it returns p
// itself; otherwise a copy, p being left as it was. A header that is
// present but lists nothing, or a glob that cannot compile, is an *Error
// with status 400.
func Narrow(p *Principal, h http.Header) (*Principal, error) {
	sv, hasS := headerList(h, HeaderServers)
	tv, hasT := headerList(h, HeaderTools)
	if !hasS && !hasT {
		return p, nil
	}
	n := &narrowing{}
	if hasS {
		if err := checkHeaderGlobs(HeaderServers, sv); err != nil {
			return nil, err
		}
		n.servers = sv
	}
	if hasT {
		if len(tv) == 1 && strings.EqualFold(tv[0], "none") {
			n.none = true
		} else {
			if err := checkHeaderGlobs(HeaderTools, tv); err != nil {
				return nil, err
			}
			n.tools = tv
		}
	}
	out := &Principal{Name: "anonymous", Source: SourceAnonymous}
	if p != nil {
		c := *p
		out = &c
	}
	// Narrowing an already narrowed principal keeps both.
	n.prev = out.narrow
	base := out.Policy.viewKey()
	if n.prev != nil {
		base = out.view
	}
	out.narrow = n
	none := "all"
	if n.none {
		none = "none"
	}
	out.view = "n" + viewHash([]string{base}, marked(n.servers), marked(n.tools), []string{none})
	return out, nil
}

// marked distinguishes a nil list (no restriction) from a list.
func marked(list []string) []string {
	if list == nil {
		return []string{"\x01nil"}
	}
	return list
}

// headerList reads a comma-separated header (every line of it), reporting
// whether the header was present.
func headerList(h http.Header, name string) ([]string, bool) {
	vals := h.Values(name)
	if len(vals) == 0 {
		return nil, false
	}
	list := []string{}
	for _, v := range vals {
		for _, item := range strings.Split(v, ",") {
			if item = strings.TrimSpace(item); item != "" {
				list = append(list, item)
			}
		}
	}
	return list, true
}

func checkHeaderGlobs(name string, list []string) error {
	if len(list) == 0 {
		return &Error{Status: http.StatusBadRequest, Type: TypeInvalidRequest, Code: CodeInvalidHeader,
			Message: fmt.Sprintf("%s is empty: list names or globs separated by commas, or leave the header out", name)}
	}
	for _, g := range list {
		if err := checkGlob(g); err != nil {
			return &Error{Status: http.StatusBadRequest, Type: TypeInvalidRequest, Code: CodeInvalidHeader,
				Message: fmt.Sprintf("%s: %v", name, err)}
		}
	}
	return nil
}
