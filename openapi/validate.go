package openapi

import (
	"encoding/json"
	"log/slog"
	"regexp"
	"strings"
	"sync"

	"github.com/google/jsonschema-go/jsonschema"

	"github.com/mcp-bridge/mcp-bridge/mcpclient"
)

// validators holds the resolved input schemas of the tools of one registry
// version. It is safe for concurrent use.
type validators struct {
	log     *slog.Logger
	mu      sync.Mutex
	version uint64
	byName  map[string]*jsonschema.Resolved // nil entry: not validated
}

// get returns the resolved input schema of t, or nil when the schema
// cannot be used for validation (the tool's server still checks the
// arguments then).
func (v *validators) get(version uint64, t mcpclient.Tool) *jsonschema.Resolved {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.byName == nil || v.version != version {
		v.byName, v.version = map[string]*jsonschema.Resolved{}, version
	}
	if rs, ok := v.byName[t.Name]; ok {
		return rs
	}
	var rs *jsonschema.Resolved
	var s jsonschema.Schema
	err := json.Unmarshal(t.InputSchema, &s)
	if err == nil {
		rs, err = s.Resolve(nil)
	}
	if err != nil {
		v.log.Debug("openapi tool server: input schema not usable for validation", "tool", t.Name, "error", err)
		rs = nil
	}
	v.byName[t.Name] = rs
	return rs
}

// argumentsError says where arguments fail their schema.
type argumentsError struct {
	// path is the failing place, in the schema's terms made readable:
	// "items[].name" for /properties/items/items/properties/name; "" for
	// the arguments as a whole.
	path string
	msg  string
}

// validateArguments validates a decoded JSON value against rs.
func validateArguments(rs *jsonschema.Resolved, instance any) *argumentsError {
	if rs == nil {
		return nil
	}
	err := rs.Validate(instance)
	if err == nil {
		return nil
	}
	// The validator nests "validating <schema path>: " prefixes, outermost
	// first; the innermost names the failing place.
	msg, where := err.Error(), ""
	for strings.HasPrefix(msg, "validating ") {
		p, rest, ok := strings.Cut(msg[len("validating "):], ": ")
		if !ok {
			break
		}
		where, msg = p, rest
	}
	return &argumentsError{path: readablePath(where), msg: msg}
}

var propertiesRE = regexp.MustCompile(`/properties/([^/]+)`)

// readablePath turns a schema path into the place in the arguments it
// checks: "/properties/a/items/properties/b" -> "a[].b"; "root" -> "".
func readablePath(schemaPath string) string {
	if schemaPath == "root" || schemaPath == "" {
		return ""
	}
	p := propertiesRE.ReplaceAllString(schemaPath, ".$1")
	p = strings.ReplaceAll(p, "/items", "[]")
	p = strings.ReplaceAll(p, "/additionalProperties", ".*")
	return strings.TrimPrefix(p, ".")
}
