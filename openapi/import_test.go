package openapi

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mcp-bridge/mcp-bridge/mcpclient"
)

// apiRequest is one request the pet store received.
type apiRequest struct {
	Method, Path, RawPath, Query string
	Header                       http.Header
	Body                         string
}

// petStore is a REST API with the OpenAPI 3.1 spec of testdata/petstore.yaml,
// served at /openapi.yaml.
type petStore struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []apiRequest
	// specDown makes /openapi.yaml answer 503 while it is set.
	specDown atomic.Bool
}

func newPetStore(t *testing.T) *petStore {
	t.Helper()
	spec, err := os.ReadFile("testdata/petstore.yaml")
	if err != nil {
		t.Fatal(err)
	}
	ps := &petStore{}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /openapi.yaml", func(w http.ResponseWriter, r *http.Request) {
		if ps.specDown.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/yaml")
		_, _ = w.Write(spec)
	})
	record := func(r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		ps.mu.Lock()
		ps.reqs = append(ps.reqs, apiRequest{r.Method, r.URL.Path, r.URL.RawPath, r.URL.RawQuery, r.Header.Clone(), string(b)})
		ps.mu.Unlock()
	}
	mux.HandleFunc("GET /api/pets/{id}", func(w http.ResponseWriter, r *http.Request) {
		record(r)
		w.Header().Set("Content-Type", "application/json")
		if r.PathValue("id") == "404" {
			w.WriteHeader(http.StatusNotFound)
			_, _ = io.WriteString(w, `{"message":"no pet 404"}`)
			return
		}
		_, _ = io.WriteString(w, `{"id":`+r.PathValue("id")+`,"name":"Rex","tag":null}`)
	})
	mux.HandleFunc("GET /api/pets", func(w http.ResponseWriter, r *http.Request) {
		record(r)
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `[{"id":1,"name":"Rex"}]`)
	})
	mux.HandleFunc("POST /api/pets", func(w http.ResponseWriter, r *http.Request) {
		record(r)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		_, _ = io.WriteString(w, `{"id":3,"name":"Bo"}`)
	})
	ps.Server = httptest.NewServer(mux)
	t.Cleanup(ps.Close)
	return ps
}

func (ps *petStore) last(t *testing.T) apiRequest {
	t.Helper()
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if len(ps.reqs) == 0 {
		t.Fatal("the API got no request")
	}
	return ps.reqs[len(ps.reqs)-1]
}

// warnings collects the warnings of loads. Safe for concurrent use.
type warnings struct {
	mu   sync.Mutex
	list []Warning
}

func (w *warnings) add(x Warning) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.list = append(w.list, x)
}

func (w *warnings) all() []Warning {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]Warning(nil), w.list...)
}

// startRegistry runs a registry of servers until the test ends.
func startRegistry(t *testing.T, servers ...mcpclient.ServerConfig) *mcpclient.Registry {
	t.Helper()
	reg := mcpclient.NewRegistry(servers, &mcpclient.Options{MinBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond, CallTimeout: 10 * time.Second})
	ctx, cancel := context.WithCancel(context.Background())
	reg.Start(ctx)
	t.Cleanup(func() { cancel(); _ = reg.Close() })
	wctx, wcancel := context.WithTimeout(ctx, 30*time.Second)
	defer wcancel()
	if err := reg.WaitReady(wctx); err != nil {
		t.Fatal(err)
	}
	return reg
}

func TestImportPetStore(t *testing.T) {
	ps := newPetStore(t)
	var ws warnings
	reg := startRegistry(t, ServerConfig(SpecConfig{
		Name:    "pets",
		Spec:    ps.URL + "/openapi.yaml",
		Headers: map[string]string{"Authorization": "Bearer s3cret-key"},
	}, &Options{OnWarning: ws.add}))
	if w := ws.all(); len(w) != 0 {
		t.Errorf("warnings: %v", w)
	}
	var names []string
	schemas := map[string]string{}
	for _, tool := range reg.Tools() {
		names = append(names, tool.Name)
		schemas[tool.Name] = string(tool.InputSchema)
	}
	if want := []string{"pets__createPet", "pets__getPet", "pets__listPets"}; !reflect.DeepEqual(names, want) {
		t.Fatalf("tools %v, want %v (servers %+v)", names, want, reg.Servers())
	}
	wantSchemas := map[string]string{
		"pets__getPet": `{"properties":{"X-Trace":{"type":"string"},"fields":{"items":{"type":"string"},"type":"array"},` +
			`"petId":{"description":"The pet's id.","type":"integer"}},"required":["petId"],"type":"object"}`,
		"pets__createPet": `{"properties":{"name":{"description":"The pet's name.","type":"string"},` +
			`"owner":{"properties":{"name":{"type":"string"}},"type":"object"},"tag":{"description":"A tag, or null.","type":"string"}},` +
			`"required":["name"],"type":"object"}`,
		"pets__listPets": `{"properties":{"limit":{"maximum":100,"type":"integer"},"tags":{"items":{"type":"string"},"type":"array"}},"type":"object"}`,
	}
	for name, want := range wantSchemas {
		if schemas[name] != want {
			t.Errorf("%s schema:\n got  %s\n want %s", name, schemas[name], want)
		}
	}
	tool, _ := reg.Lookup("pets__getPet")
	if tool.Title != "Get a pet" || tool.Description != "Get a pet\n\nReturns one pet by id." {
		t.Errorf("getPet title %q, description %q", tool.Title, tool.Description)
	}

	ctx := context.Background()
	call := func(name, args string) *mcpclient.Result {
		t.Helper()
		res, err := reg.Call(ctx, name, json.RawMessage(args))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return res
	}

	res := call("pets__getPet", `{"petId":7,"fields":["name","tag"],"X-Trace":"abc"}`)
	got := ps.last(t)
	if res.IsError || got.Method != "GET" || got.Path != "/api/pets/7" || got.Query != "fields=name%2Ctag" ||
		got.Header.Get("X-Trace") != "abc" || got.Header.Get("Authorization") != "Bearer s3cret-key" {
		t.Errorf("getPet: result %+v, request %+v", res, got)
	}
	if !strings.HasPrefix(res.Text, "HTTP 200 OK\n") || string(res.Structured) != `{"id":7,"name":"Rex","tag":null}` {
		t.Errorf("getPet result: %q, structured %s", res.Text, res.Structured)
	}

	res = call("pets__getPet", `{"petId":404}`)
	if !res.IsError || res.Text != "HTTP 404 Not Found\n{\"message\":\"no pet 404\"}" || res.Structured != nil {
		t.Errorf("a 404 gave %+v", res)
	}

	res = call("pets__createPet", `{"name":"Bo","tag":null,"owner":{"name":"Al"}}`)
	got = ps.last(t)
	if res.IsError || got.Method != "POST" || got.Header.Get("Content-Type") != "application/json" ||
		got.Body != `{"name":"Bo","owner":{"name":"Al"},"tag":null}` || !strings.HasPrefix(res.Text, "HTTP 201 Created") {
		t.Errorf("createPet: result %+v, request %+v", res, got)
	}

	res = call("pets__listPets", `{"limit":2,"tags":["a b","c"]}`)
	got = ps.last(t)
	if res.IsError || got.Query != "limit=2&tags=a+b&tags=c" || res.Structured != nil || !strings.Contains(res.Text, `[{"id":1`) {
		t.Errorf("listPets: result %+v, request %+v", res, got)
	}

	res = call("pets__getPet", `{"fields":["x"]}`)
	if !res.IsError || !strings.Contains(res.Text, `missing required path parameter "petId"`) {
		t.Errorf("a call without the path parameter gave %+v", res)
	}
}

func TestImportRetriesUntilTheSpecIsUp(t *testing.T) {
	ps := newPetStore(t)
	ps.specDown.Store(true)
	events := make(chan mcpclient.Event, 16)
	reg := mcpclient.NewRegistry([]mcpclient.ServerConfig{ServerConfig(SpecConfig{Name: "pets", Spec: ps.URL + "/openapi.yaml"}, nil)},
		&mcpclient.Options{MinBackoff: 10 * time.Millisecond, MaxBackoff: 20 * time.Millisecond,
			OnEvent: func(e mcpclient.Event) { events <- e }})
	ctx, cancel := context.WithCancel(context.Background())
	defer func() { cancel(); _ = reg.Close() }()
	reg.Start(ctx)
	timeout := time.After(30 * time.Second)
	wait := func(kind string) mcpclient.Event {
		t.Helper()
		for {
			select {
			case e := <-events:
				if e.Kind == kind {
					return e
				}
			case <-timeout:
				t.Fatalf("no %s event; servers %+v", kind, reg.Servers())
			}
		}
	}
	down := wait(mcpclient.EventDown)
	if !strings.Contains(down.Err, "503") {
		t.Errorf("down because %q", down.Err)
	}
	if st := reg.Servers()[0]; st.State != mcpclient.StateFailed && st.State != mcpclient.StateConnecting {
		t.Errorf("state %+v", st)
	}
	ps.specDown.Store(false)
	if up := wait(mcpclient.EventUp); up.Tools != 3 {
		t.Errorf("up with %d tools", up.Tools)
	}
}

// brokenSpec has a good operation, one whose body refers to a schema that
// does not exist, one whose only body is multipart, and one whose path
// variable has no parameter.
const brokenSpec = `openapi: 3.0.3
info: {title: broken, version: "1"}
paths:
  /ok:
    get:
      operationId: fine
      parameters:
        - {name: q, in: query, schema: {$ref: "#/components/schemas/Query"}}
        - {name: session, in: cookie, schema: {type: string}}
      responses: {"200": {description: ok}}
  /broken:
    post:
      operationId: broken
      requestBody:
        content:
          application/json:
            schema: {$ref: "#/components/schemas/Missing"}
      responses: {"200": {description: ok}}
  /upload:
    post:
      operationId: upload
      requestBody:
        required: true
        content:
          multipart/form-data:
            schema: {type: object, properties: {file: {type: string, format: binary}}}
      responses: {"200": {description: ok}}
  /items/{id}:
    delete:
      responses: {"204": {description: gone}}
components:
  schemas:
    Query: {type: string, nullable: true}
`

func TestImportBrokenSpec(t *testing.T) {
	file := filepath.Join(t.TempDir(), "broken.yaml")
	if err := os.WriteFile(file, []byte(brokenSpec), 0o600); err != nil {
		t.Fatal(err)
	}
	var ws warnings
	reg := startRegistry(t, ServerConfig(SpecConfig{Name: "api", Spec: file, BaseURL: "http://127.0.0.1:1/v1"}, &Options{OnWarning: ws.add}))
	var names []string
	for _, tool := range reg.Tools() {
		names = append(names, tool.Name)
	}
	if !reflect.DeepEqual(names, []string{"api__fine"}) {
		t.Fatalf("tools %v; servers %+v", names, reg.Servers())
	}
	tool, _ := reg.Lookup("api__fine")
	if string(tool.InputSchema) != `{"properties":{"q":{"type":"string"}},"type":"object"}` {
		t.Errorf("fine's schema %s", tool.InputSchema)
	}
	var text []string
	for _, w := range ws.all() {
		if w.Spec != "api" {
			t.Errorf("warning of spec %q", w.Spec)
		}
		text = append(text, w.String())
	}
	all := strings.Join(text, "\n")
	for _, want := range []string{
		`openapi server "api": the spec does not load as a whole`,
		`operation broken (POST /broken): skipped: `,
		`Missing`,
		`operation upload (POST /upload): skipped: the request body (multipart/form-data) is not JSON`,
		`operation delete_items_id (DELETE /items/{id}): skipped: `,
		`operation fine (GET /ok): the cookie parameter "session" is not supported and is never sent`,
	} {
		if !strings.Contains(all, want) {
			t.Errorf("warnings lack %q:\n%s", want, all)
		}
	}
}

func TestImportFailsWithoutUsableOperations(t *testing.T) {
	l := &specLoader{cfg: SpecConfig{Name: "x", Spec: "x", BaseURL: "http://127.0.0.1:1"}, client: http.DefaultClient}
	_, err := l.parse(context.Background(), []byte(`openapi: 3.1.0
info: {title: t, version: "1"}
paths:
  /a:
    post:
      operationId: a
      requestBody: {required: true, content: {text/csv: {schema: {type: string}}}}
      responses: {"200": {description: ok}}
`), nil)
	if err == nil || !strings.Contains(err.Error(), "no operation of the spec could be imported") {
		t.Errorf("err = %v", err)
	}
	for _, tc := range []struct{ spec, want string }{
		{`swagger: "2.0"`, "Swagger 2.0"},
		{`openapi: 4.0.0`, "only OpenAPI 3.0 and 3.1"},
		{`[1, 2]`, "not an OpenAPI document"},
		{`openapi: 3.1.0
info: {title: t, version: "1"}
paths: {/a: {get: {operationId: a, responses: {"200": {description: ok}}}}}`, ""},
	} {
		l := &specLoader{cfg: SpecConfig{Name: "x", Spec: "x"}, client: http.DefaultClient}
		_, err := l.parse(context.Background(), []byte(tc.spec), nil)
		want := tc.want
		if want == "" {
			want = "the spec names no server URL: set base_url"
		}
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%.20q: err = %v, want %q", tc.spec, err, want)
		}
	}
}

func TestImportFilterAndNames(t *testing.T) {
	l := &specLoader{cfg: SpecConfig{Name: "x", Spec: "x", BaseURL: "http://h/", Deny: []string{"delete_*"}}, client: http.DefaultClient}
	sp, err := l.parse(context.Background(), []byte(`openapi: 3.1.0
info: {title: t, version: "1"}
paths:
  /users/{id}/posts:
    parameters: [{name: id, in: path, required: true, schema: {type: string}}]
    get: {responses: {"200": {description: ok}}}
    delete: {responses: {"200": {description: ok}}}
  /dup: {get: {operationId: "list users!", responses: {"200": {description: ok}}}}
  /dup2: {get: {operationId: "list users?", responses: {"200": {description: ok}}}}
`), nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, op := range sp.ops {
		names = append(names, op.name)
	}
	if !reflect.DeepEqual(names, []string{"list_users_", "get_users_id_posts"}) {
		t.Errorf("names %v", names)
	}
	if len(sp.warnings) != 1 || !strings.Contains(sp.warnings[0].String(), `its tool name "list_users_" is already used by GET /dup`) {
		t.Errorf("warnings %v", sp.warnings)
	}
}

func TestSpecConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		cfg  SpecConfig
		want string
	}{
		{SpecConfig{Name: "a", Spec: "s.yaml"}, ""},
		{SpecConfig{Spec: "s.yaml"}, "openapi server config: name is required"},
		{SpecConfig{Name: "a"}, `openapi server "a": spec (a file path or an http(s) URL) is required`},
		{SpecConfig{Name: "a", Spec: "s", BaseURL: "ftp://x"}, "base_url must be an absolute http or https URL"},
		{SpecConfig{Name: "a", Spec: "s", Allow: []string{"["}}, `invalid operation glob "["`},
		{SpecConfig{Name: "a", Spec: "s", Timeout: -1}, "timeout must not be negative"},
	} {
		err := tc.cfg.Validate()
		if (err == nil) != (tc.want == "") || err != nil && !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: err = %v, want %q", tc.cfg, err, tc.want)
		}
	}
}
