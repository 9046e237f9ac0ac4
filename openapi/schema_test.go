package openapi

import (
	"encoding/json"
	"strings"
	"testing"
)

// components is the document the cleaning cases resolve $refs against.
const components = `{"components":{"schemas":{
	"Pet":   {"type":"object","required":["name"],"properties":{"name":{"type":"string"},"id":{"type":"integer","readOnly":true}}},
	"Tag":   {"type":["string","null"],"description":"a tag"},
	"Node":  {"type":"object","properties":{"value":{"type":"string"},"next":{"$ref":"#/components/schemas/Node"}}},
	"Name~/x": {"type":"string"}
}}}`

func TestCleanSchema(t *testing.T) {
	var doc any
	if err := json.Unmarshal([]byte(components), &doc); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		in      string
		request bool
		want    string
		wantErr string
	}{
		{"$ref resolved", `{"$ref":"#/components/schemas/Pet"}`, false,
			`{"properties":{"id":{"type":"integer"},"name":{"type":"string"}},"required":["name"],"type":"object"}`, ""},
		{"readOnly left out of requests", `{"$ref":"#/components/schemas/Pet"}`, true,
			`{"properties":{"name":{"type":"string"}},"required":["name"],"type":"object"}`, ""},
		{"$ref siblings override", `{"$ref":"#/components/schemas/Tag","description":"the pet's tag"}`, false,
			`{"description":"the pet's tag","type":"string"}`, ""},
		{"escaped $ref", `{"$ref":"#/components/schemas/Name~0~1x"}`, false, `{"type":"string"}`, ""},
		{"recursive $ref", `{"$ref":"#/components/schemas/Node"}`, false,
			`{"properties":{"next":{"description":"(recursive Node; any value)"},"value":{"type":"string"}},"type":"object"}`, ""},
		{"bad $ref", `{"type":"object","properties":{"a":{"$ref":"#/components/schemas/Nope"}}}`, false, "",
			`property "a": $ref "#/components/schemas/Nope": "Nope" not found`},
		{"3.1 type array with null", `{"type":"object","required":["a","b"],"properties":{"a":{"type":["string","null"]},"b":{"type":"integer"}}}`, false,
			`{"properties":{"a":{"type":"string"},"b":{"type":"integer"}},"required":["b"],"type":"object"}`, ""},
		{"3.1 type array of several types", `{"type":["string","integer","null"]}`, false, `{"type":["string","integer"]}`, ""},
		{"3.0 nullable", `{"type":"object","required":["a"],"properties":{"a":{"type":"string","nullable":true}}}`, false,
			`{"properties":{"a":{"type":"string"}},"type":"object"}`, ""},
		{"anyOf with null", `{"anyOf":[{"type":"string","maxLength":3},{"type":"null"}],"description":"d"}`, false,
			`{"description":"d","maxLength":3,"type":"string"}`, ""},
		{"oneOf becomes anyOf", `{"oneOf":[{"type":"string"},{"type":"integer"}]}`, false,
			`{"anyOf":[{"type":"string"},{"type":"integer"}]}`, ""},
		{"allOf of objects merged", `{"allOf":[{"$ref":"#/components/schemas/Pet"},{"type":"object","required":["age"],"properties":{"age":{"type":"integer"}}}],"description":"d"}`, true,
			`{"description":"d","properties":{"age":{"type":"integer"},"name":{"type":"string"}},"required":["name","age"],"type":"object"}`, ""},
		{"allOf of one member", `{"allOf":[{"type":"string","format":"date"}],"description":"when"}`, false,
			`{"description":"when","format":"date","type":"string"}`, ""},
		{"allOf of non-objects kept", `{"allOf":[{"type":"string"},{"type":"integer"}]}`, false,
			`{"allOf":[{"type":"string"},{"type":"integer"}]}`, ""},
		{"unsupported keywords dropped", `{"type":"object","discriminator":{"propertyName":"k"},"xml":{"name":"x"},"example":{"a":1},"examples":[1],
			"x-internal":true,"deprecated":true,"externalDocs":{"url":"http://x"},"not":{"type":"null"},"if":{},"then":{},"else":{},
			"patternProperties":{"^a":{}},"unevaluatedProperties":false,"$comment":"c","$id":"http://x/s","properties":{"a":{"type":"string","contentMediaType":"text/plain","writeOnly":true}}}`, false,
			`{"properties":{"a":{"type":"string"}},"type":"object"}`, ""},
		{"kept keywords", `{"type":"string","description":"d","title":"t","default":"x","format":"email","minLength":1,"maxLength":9,"pattern":"^a","enum":["a","b"]}`, false,
			`{"default":"x","description":"d","enum":["a","b"],"format":"email","maxLength":9,"minLength":1,"pattern":"^a","title":"t","type":"string"}`, ""},
		{"const becomes enum", `{"const":"x"}`, false, `{"enum":["x"]}`, ""},
		{"null in enum", `{"type":"object","required":["a"],"properties":{"a":{"enum":["x",null]}}}`, false,
			`{"properties":{"a":{"enum":["x"]}},"type":"object"}`, ""},
		{"3.0 exclusive bounds", `{"type":"number","minimum":1,"exclusiveMinimum":true,"maximum":5,"exclusiveMaximum":false}`, false,
			`{"exclusiveMinimum":1,"maximum":5,"type":"number"}`, ""},
		{"3.1 exclusive bounds", `{"type":"number","exclusiveMinimum":1}`, false, `{"exclusiveMinimum":1,"type":"number"}`, ""},
		{"array gets items", `{"type":"array"}`, false, `{"items":{},"type":"array"}`, ""},
		{"items and additionalProperties cleaned", `{"type":"object","additionalProperties":{"type":["integer","null"]},"properties":{"l":{"type":"array","items":{"$ref":"#/components/schemas/Tag"}}}}`, false,
			`{"additionalProperties":{"type":"integer"},"properties":{"l":{"items":{"description":"a tag","type":"string"},"type":"array"}},"type":"object"}`, ""},
		{"boolean schema", `true`, false, `{}`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var in any
			if err := json.Unmarshal([]byte(tt.in), &in); err != nil {
				t.Fatal(err)
			}
			c := &schemaCleaner{resolve: pointerResolver(doc), request: tt.request}
			got, err := c.clean(in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			b, _ := json.Marshal(got.schema)
			if string(b) != tt.want {
				t.Errorf("cleaned:\n got  %s\n want %s", b, tt.want)
			}
		})
	}
}

func TestCleanSchemaDoesNotChangeSharedComponents(t *testing.T) {
	var doc any
	_ = json.Unmarshal([]byte(components), &doc)
	c := &schemaCleaner{resolve: pointerResolver(doc)}
	var in any
	_ = json.Unmarshal([]byte(`{"type":"object","properties":{
		"a":{"$ref":"#/components/schemas/Tag","description":"first"},
		"b":{"$ref":"#/components/schemas/Tag"}}}`), &in)
	got, err := c.clean(in)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(got.schema)
	want := `{"properties":{"a":{"description":"first","type":"string"},"b":{"description":"a tag","type":"string"}},"type":"object"}`
	if string(b) != want {
		t.Errorf("got  %s\nwant %s", b, want)
	}
}

func TestCleanSchemaDepthBound(t *testing.T) {
	s := `{"type":"string"}`
	for range maxSchemaDepth + 5 {
		s = `{"type":"object","properties":{"a":` + s + `}}`
	}
	var in any
	_ = json.Unmarshal([]byte(s), &in)
	got, err := (&schemaCleaner{resolve: pointerResolver(nil)}).clean(in)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(got.schema)
	if !strings.Contains(string(b), "nested too deeply") || strings.Contains(string(b), `"type":"string"`) {
		t.Errorf("deep schema not cut: %.200s", b)
	}
}
