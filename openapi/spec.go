package openapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"gopkg.in/yaml.v3"

	"github.com/mcp-bridge/mcp-bridge/mcpclient"
)

// maxSpecBytes bounds the size of a spec and of every file it refers to.
const maxSpecBytes = 64 << 20

// methods are the HTTP methods an operation may use, in the order their
// operations are imported.
var methods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

// spec is a loaded spec: the operations that could be imported, and why
// the others could not.
type spec struct {
	title, version string
	ops            []*operation
	warnings       []Warning
}

// specLoader loads one configured spec.
type specLoader struct {
	cfg    SpecConfig
	client *http.Client
}

// load fetches, parses and converts the spec. It fails only when the spec as
// a whole cannot be used (unreadable, not OpenAPI 3, no base URL);
// operations that cannot be imported become warnings.
func (l *specLoader) load(ctx context.Context) (*spec, error) {
	data, loc, err := l.fetch(ctx, l.cfg.Spec, nil)
	if err != nil {
		return nil, err
	}
	return l.parse(ctx, data, loc)
}

// parse converts a spec read from loc (nil when unknown).
func (l *specLoader) parse(ctx context.Context, data []byte, loc *url.URL) (*spec, error) {
	raw, err := decodeGeneric(data)
	if err != nil {
		return nil, fmt.Errorf("parsing spec: %w", err)
	}
	root, ok := raw.(map[string]any)
	if !ok {
		return nil, errors.New("parsing spec: not an OpenAPI document (expected a mapping at the top level)")
	}
	if v, _ := root["swagger"].(string); v != "" {
		return nil, fmt.Errorf("spec is Swagger %s: only OpenAPI 3.0 and 3.1 are supported (convert it first)", v)
	}
	if v, _ := root["openapi"].(string); !strings.HasPrefix(v, "3.") {
		return nil, fmt.Errorf("spec has openapi %q: only OpenAPI 3.0 and 3.1 are supported", v)
	}
	out := &spec{}
	if info, ok := root["info"].(map[string]any); ok {
		out.title, _ = info["title"].(string)
		out.version, _ = info["version"].(string)
	}

	doc, err := l.loadDoc(ctx, data, loc)
	if err != nil {
		// Something in the document is broken (typically a $ref that leads
		// nowhere): import each operation on its own with only what it
		// refers to, so that the broken parts cost only their operations.
		out.warn("", fmt.Sprintf("the spec does not load as a whole (%s); importing each operation on its own", cleanKinError(err)))
		if err := l.importEach(ctx, root, loc, out); err != nil {
			return nil, err
		}
	} else if err := l.importAll(ctx, doc, loc, out); err != nil {
		return nil, err
	}
	if len(out.ops) == 0 && hasFailures(out.warnings) {
		return out, errors.New("no operation of the spec could be imported: " + out.warnings[len(out.warnings)-1].Message)
	}
	return out, nil
}

func hasFailures(ws []Warning) bool {
	return slices.ContainsFunc(ws, func(w Warning) bool { return w.Operation != "" })
}

// warn records a warning about the spec ("" operation) or an operation.
func (s *spec) warn(op, msg string) {
	s.warnings = append(s.warnings, Warning{Operation: op, Message: msg})
}

// loadDoc parses and resolves a document with kin-openapi, reading the
// files and URLs it refers to through l.
func (l *specLoader) loadDoc(ctx context.Context, data []byte, loc *url.URL) (*openapi3.T, error) {
	loader := openapi3.NewLoader()
	loader.Context = ctx
	loader.IsExternalRefsAllowed = true
	loader.ReadFromURIFunc = func(_ *openapi3.Loader, u *url.URL) ([]byte, error) {
		b, _, err := l.fetch(ctx, u.String(), loc)
		return b, err
	}
	var (
		doc *openapi3.T
		err error
	)
	if loc != nil {
		doc, err = loader.LoadFromDataWithPath(data, loc)
	} else {
		doc, err = loader.LoadFromData(data)
	}
	if err != nil {
		return nil, err
	}
	doc.InternalizeRefs(ctx, nil)
	return doc, nil
}

// importAll imports every selected operation of a document that loaded.
func (l *specLoader) importAll(ctx context.Context, doc *openapi3.T, loc *url.URL, out *spec) error {
	resolve, err := docResolver(doc)
	if err != nil {
		return err
	}
	paths := doc.Paths.Map()
	keys := make([]string, 0, len(paths))
	for p := range paths {
		keys = append(keys, p)
	}
	sort.Strings(keys)
	for _, p := range keys {
		item := paths[p]
		ops := item.Operations()
		for _, m := range methods {
			op := ops[strings.ToUpper(m)]
			if op == nil {
				continue
			}
			if err := l.importOp(ctx, doc, resolve, loc, p, m, item, op, out); err != nil {
				return err
			}
		}
	}
	return nil
}

// importEach imports every selected operation of a document that does not
// load as a whole, each from a document of its own holding the operation and
// the components it refers to.
func (l *specLoader) importEach(ctx context.Context, root map[string]any, loc *url.URL, out *spec) error {
	paths, _ := root["paths"].(map[string]any)
	keys := make([]string, 0, len(paths))
	for p := range paths {
		keys = append(keys, p)
	}
	sort.Strings(keys)
	for _, p := range keys {
		item, _ := paths[p].(map[string]any)
		for _, m := range methods {
			rawOp, ok := item[m].(map[string]any)
			if !ok {
				continue
			}
			opID, _ := rawOp["operationId"].(string)
			name := toolName(opID, m, p)
			if !l.cfg.allowed(name) {
				continue
			}
			label := opLabel(name, m, p)
			mini := miniDoc(root, p, m, item, rawOp)
			data, err := json.Marshal(mini)
			if err != nil {
				out.warn(label, "skipped: "+err.Error())
				continue
			}
			doc, err := l.loadDoc(ctx, data, loc)
			if err != nil {
				out.warn(label, "skipped: "+cleanKinError(err))
				continue
			}
			resolve, err := docResolver(doc)
			if err != nil {
				out.warn(label, "skipped: "+err.Error())
				continue
			}
			pi := doc.Paths.Find(p)
			if pi == nil || pi.GetOperation(strings.ToUpper(m)) == nil {
				out.warn(label, "skipped: the operation could not be read")
				continue
			}
			if err := l.importOp(ctx, doc, resolve, loc, p, m, pi, pi.GetOperation(strings.ToUpper(m)), out); err != nil {
				return err
			}
		}
	}
	return nil
}

// importOp validates and converts one operation, recording a warning
// instead when it cannot be imported. It fails only when no base URL can
// be found for it.
func (l *specLoader) importOp(ctx context.Context, doc *openapi3.T, resolve func(string) (any, error), loc *url.URL,
	path, method string, item *openapi3.PathItem, op *openapi3.Operation, out *spec) error {
	name := toolName(op.OperationID, method, path)
	if !l.cfg.allowed(name) {
		return nil
	}
	label := opLabel(name, method, path)
	vopts := []openapi3.ValidationOption{openapi3.DisableExamplesValidation(), openapi3.DisableSchemaDefaultsValidation(),
		openapi3.DisableSchemaPatternValidation()}
	if doc.IsOpenAPI31OrLater() {
		vopts = append(vopts, openapi3.IsOpenAPI31OrLater())
	}
	if err := op.Validate(ctx, vopts...); err != nil {
		out.warn(label, "skipped: invalid: "+cleanKinError(err))
		return nil
	}
	o, notes, err := buildOperation(resolve, name, method, path, item, op)
	for _, n := range notes {
		out.warn(label, n)
	}
	if err != nil {
		out.warn(label, "skipped: "+err.Error())
		return nil
	}
	base, err := l.baseURL(doc, item, op, loc)
	if err != nil {
		return err
	}
	o.base = base
	for _, prev := range out.ops {
		if prev.name == o.name {
			out.warn(label, fmt.Sprintf("skipped: its tool name %q is already used by %s %s", o.name, strings.ToUpper(prev.method), prev.path))
			return nil
		}
	}
	out.ops = append(out.ops, o)
	return nil
}

// baseURL is where the operation's requests go: the configured base_url,
// else the first server of the operation, its path or the document,
// resolved against the spec's own URL when relative.
func (l *specLoader) baseURL(doc *openapi3.T, item *openapi3.PathItem, op *openapi3.Operation, loc *url.URL) (*url.URL, error) {
	if l.cfg.BaseURL != "" {
		return parseBase(l.cfg.BaseURL)
	}
	var servers openapi3.Servers
	switch {
	case op.Servers != nil && len(*op.Servers) > 0:
		servers = *op.Servers
	case len(item.Servers) > 0:
		servers = item.Servers
	default:
		servers = doc.Servers
	}
	raw := ""
	if len(servers) > 0 && servers[0] != nil {
		raw = servers[0].URL
		for name, v := range servers[0].Variables {
			if v != nil {
				raw = strings.ReplaceAll(raw, "{"+name+"}", v.Default)
			}
		}
	}
	u, err := url.Parse(raw)
	if err == nil && loc != nil && (loc.Scheme == "http" || loc.Scheme == "https") {
		u = loc.ResolveReference(u)
	}
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		if raw == "" || raw == "/" {
			return nil, errors.New("the spec names no server URL: set base_url")
		}
		return nil, fmt.Errorf("the spec's server URL %q is not an absolute http(s) URL: set base_url", mcpclient.RedactURLText(raw))
	}
	return u, nil
}

// parseBase parses a configured base URL.
func parseBase(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, errors.New("base_url must be an absolute http or https URL")
	}
	return u, nil
}

// fetch reads a spec, or a file it refers to, from an http(s) URL or a
// file. A location relative to a file spec (from) is read relative to it;
// a spec read from a URL may refer to other URLs only.
func (l *specLoader) fetch(ctx context.Context, location string, from *url.URL) ([]byte, *url.URL, error) {
	u, err := url.Parse(location)
	if err != nil || u.Scheme == "" || len(u.Scheme) == 1 { // C:\ on Windows
		u = &url.URL{Path: filepath.ToSlash(location)}
	}
	if from != nil && !u.IsAbs() {
		u = from.ResolveReference(u)
	}
	switch u.Scheme {
	case "http", "https":
		return l.fetchURL(ctx, u)
	case "", "file":
		if from != nil && from.Scheme != "" && from.Scheme != "file" {
			return nil, nil, fmt.Errorf("%s refers to the local file %s, which a spec read from a URL may not", mcpclient.RedactURL(from), u.Path)
		}
		p := filepath.FromSlash(u.Path)
		if abs, err := filepath.Abs(p); err == nil {
			p = abs
		}
		f, err := os.Open(p)
		if err != nil {
			return nil, nil, fmt.Errorf("reading spec: %w", err)
		}
		defer f.Close()
		data, err := io.ReadAll(io.LimitReader(f, maxSpecBytes+1))
		if err != nil {
			return nil, nil, fmt.Errorf("reading spec %s: %w", p, err)
		}
		if len(data) > maxSpecBytes {
			return nil, nil, fmt.Errorf("spec %s is larger than %d bytes", p, maxSpecBytes)
		}
		return data, &url.URL{Scheme: "file", Path: filepath.ToSlash(p)}, nil
	default:
		return nil, nil, fmt.Errorf("spec location %q: expected a file path or an http(s) URL", u.Scheme+":")
	}
}

func (l *specLoader) fetchURL(ctx context.Context, u *url.URL) ([]byte, *url.URL, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, nil, fmt.Errorf("fetching spec %s: %w", mcpclient.RedactURL(u), err)
	}
	req.Header.Set("Accept", "application/json, application/yaml;q=0.9, */*;q=0.5")
	resp, err := l.client.Do(req)
	if err != nil {
		return nil, nil, fmt.Errorf("fetching spec %s: %w", mcpclient.RedactURL(u), unwrapURLError(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return nil, nil, fmt.Errorf("fetching spec %s: status %s", mcpclient.RedactURL(u), resp.Status)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxSpecBytes+1))
	if err != nil {
		return nil, nil, fmt.Errorf("fetching spec %s: %w", mcpclient.RedactURL(u), unwrapURLError(err))
	}
	if len(data) > maxSpecBytes {
		return nil, nil, fmt.Errorf("spec %s is larger than %d bytes", mcpclient.RedactURL(u), maxSpecBytes)
	}
	return data, u, nil
}

// decodeGeneric decodes YAML or JSON into JSON-shaped values: maps with
// string keys, []any, float64, string, bool and nil.
func decodeGeneric(data []byte) (any, error) {
	var v any
	if err := yaml.Unmarshal(data, &v); err != nil {
		return nil, err
	}
	return jsonShape(v), nil
}

func jsonShape(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = jsonShape(e)
		}
		return x
	case map[any]any: // YAML keys that are not strings, such as 200:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[fmt.Sprint(k)] = jsonShape(e)
		}
		return m
	case []any:
		for i, e := range x {
			x[i] = jsonShape(e)
		}
		return x
	case int:
		return float64(x)
	case int64:
		return float64(x)
	case uint64:
		return float64(x)
	default:
		return x
	}
}

// docResolver resolves local $refs against the document as kin-openapi
// encodes it, after external references were internalised.
func docResolver(doc *openapi3.T) (func(string) (any, error), error) {
	b, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("encoding the spec: %w", err)
	}
	var generic any
	if err := json.Unmarshal(b, &generic); err != nil {
		return nil, fmt.Errorf("encoding the spec: %w", err)
	}
	return pointerResolver(generic), nil
}

// miniDoc is a document with one operation of root and the components it
// refers to, directly or through other components.
func miniDoc(root map[string]any, path, method string, item, op map[string]any) map[string]any {
	pi := map[string]any{method: op}
	for _, k := range []string{"parameters", "servers"} {
		if v, ok := item[k]; ok {
			pi[k] = v
		}
	}
	doc := map[string]any{"paths": map[string]any{path: pi}}
	for _, k := range []string{"openapi", "info", "servers", "jsonSchemaDialect"} {
		if v, ok := root[k]; ok {
			doc[k] = v
		}
	}
	comps, _ := root["components"].(map[string]any)
	kept := map[string]any{}
	var visit func(v any)
	visit = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if ref, ok := x["$ref"].(string); ok {
				if kind, name, ok := componentRef(ref); ok {
					group, _ := comps[kind].(map[string]any)
					target, exists := group[name]
					dst, _ := kept[kind].(map[string]any)
					if dst == nil {
						dst = map[string]any{}
						kept[kind] = dst
					}
					if _, seen := dst[name]; exists && !seen {
						dst[name] = target
						visit(target)
					}
				}
			}
			for _, e := range x {
				visit(e)
			}
		case []any:
			for _, e := range x {
				visit(e)
			}
		}
	}
	visit(pi)
	if len(kept) > 0 {
		doc["components"] = kept
	}
	return doc
}

// componentRef splits "#/components/KIND/NAME[/...]".
func componentRef(ref string) (kind, name string, ok bool) {
	rest, ok := strings.CutPrefix(ref, "#/components/")
	if !ok {
		return "", "", false
	}
	parts := strings.SplitN(rest, "/", 3)
	if len(parts) < 2 {
		return "", "", false
	}
	name = strings.ReplaceAll(strings.ReplaceAll(parts[1], "~1", "/"), "~0", "~")
	if u, err := url.PathUnescape(name); err == nil {
		name = u
	}
	return parts[0], name, true
}

// cleanKinError shortens kin-openapi's messages to their first line.
func cleanKinError(err error) string {
	msg := err.Error()
	if i := strings.IndexByte(msg, '\n'); i >= 0 {
		msg = strings.TrimSpace(msg[:i])
	}
	return msg
}

// unwrapURLError drops the URL that a *url.Error repeats (it may hold a
// secret in its query).
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
