package bridge

import (
	"bytes"
	"encoding/json"
	"testing"
)

// checkAgainstStdlib compares parseObject with encoding/json: the same
// members with the same values, and a marshal that decodes to the same.
func checkAgainstStdlib(t *testing.T, data []byte) {
	var want map[string]json.RawMessage
	wantErr := json.Unmarshal(data, &want)
	o, err := parseObject(data)
	if wantErr != nil || want == nil {
		if err == nil && wantErr != nil {
			t.Fatalf("parseObject accepted %q: encoding/json says %v", data, wantErr)
		}
		return
	}
	if err != nil {
		t.Fatalf("parseObject(%q): %v", data, err)
	}
	if len(o.members) != len(want) {
		t.Fatalf("%q: %d members, want %d", data, len(o.members), len(want))
	}
	for k, v := range want {
		var a, b bytes.Buffer
		_ = json.Compact(&a, v)
		_ = json.Compact(&b, o.get(k))
		if a.String() != b.String() {
			t.Fatalf("%q: member %q = %s, want %s", data, k, b.String(), a.String())
		}
	}
	var back map[string]json.RawMessage
	if err := json.Unmarshal(o.marshal(), &back); err != nil || len(back) != len(want) {
		t.Fatalf("%q: marshal gave %s (%v)", data, o.marshal(), err)
	}
}

var objectSeeds = []string{
	`{}`, ` { } `, `{"a":1}`, `{"a":"x\"}y","b":[1,{"c":"]"}],"d":{"e":null}}`,
	`{"k\u00e9y":"v","k\"q":true,"n":-1.5e3}`, `{"a":1,"a":2}`,
	"{\n\t\"messages\" : [ {\"role\":\"user\",\"content\":\"hi \\\\ there\"} ] ,\r\n \"x\":false }",
	`{"s":"\\","t":"\\\""}`, `[1]`, `"s"`, `{"a":}`, `{"a":1,}`,
}

func TestParseObjectMatchesStdlib(t *testing.T) {
	for _, s := range objectSeeds {
		checkAgainstStdlib(t, []byte(s))
	}
}

func FuzzParseObject(f *testing.F) {
	for _, s := range objectSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(checkAgainstStdlib)
}

func TestFindMember(t *testing.T) {
	obj := []byte(`{"a":{"role":"x"},"role" : "assistant","z":[{"role":"no"}]}`)
	if v, ok := findMember(obj, "role"); !ok || string(v) != `"assistant"` {
		t.Errorf("role = %s %v", v, ok)
	}
	if _, ok := findMember(obj, "nope"); ok {
		t.Error("found a missing member")
	}
	if _, ok := findMember([]byte(`[1]`), "a"); ok {
		t.Error("found a member in an array")
	}
}

// TestPartsShareLargeValues checks large values are sent as references to
// the original bytes, and the parts join to the same body as marshal.
func TestPartsShareLargeValues(t *testing.T) {
	big := bytes.Repeat([]byte("x"), shareAbove)
	data := []byte(`{"model":"m","messages":["` + string(big) + `"],"n":1}`)
	o, err := parseObject(data)
	if err != nil {
		t.Fatal(err)
	}
	parts := o.parts(shareAbove)
	var joined []byte
	shared := false
	for _, p := range parts {
		joined = append(joined, p...)
		if len(p) > 0 && &p[0] == &o.get("messages")[0] {
			shared = true
		}
	}
	if string(joined) != string(o.marshal()) || string(joined) != string(data) {
		t.Errorf("parts join to %s", joined)
	}
	if !shared {
		t.Error("the large value was copied")
	}
}
