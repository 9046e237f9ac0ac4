package llm

import (
	"encoding/json"
	"math"
	"testing"
)

func TestParseInt(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"0", 0, true},
		{"7", 7, true},
		{"-3", -3, true},
		{"1760000000", 1760000000, true},
		{"2.0", 2, true},
		{"1e3", 1000, true},
		{"1.7e9", 1700000000, true},
		{"1.5", 0, false},
		{"9223372036854775807", 9223372036854775807, true},
		{"9223372036854775808", 0, false},
		{"-9.223372036854775808e18", math.MinInt64, true},
		{"9.223372036854775808e18", 0, false},
		{"1e300", 0, false},
		{`"1"`, 0, false},
		{"null", 0, false},
		{"", 0, false},
	}
	for _, tt := range tests {
		got, ok := parseInt([]byte(tt.in))
		if got != tt.want || ok != tt.ok {
			t.Errorf("parseInt(%q) = %d, %v; want %d, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestCompactText(t *testing.T) {
	tests := []struct{ in, want string }{
		{`{"a":1}`, `{"a":1}`},
		{"{ \"a\" : [1, 2],\n\t\"b\": \"x y\" }", `{"a":[1,2],"b":"x y"}`},
		{`[ ]`, `[]`},
	}
	for _, tt := range tests {
		if got := compactText([]byte(tt.in)); got != tt.want {
			t.Errorf("compactText(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestLenientTypes(t *testing.T) {
	var v struct {
		S lenientString `json:"s"`
		N lenientInt64  `json:"n"`
	}
	tests := []struct {
		in string
		s  string
		n  int64
	}{
		{`{"s":"x","n":5}`, "x", 5},
		{`{"s":"\u00e9\n","n":5.0}`, "é\n", 5},
		{`{"s":1,"n":"5"}`, "", 0},
		{`{"s":null,"n":null}`, "", 0},
		{`{"s":{"a":"b"},"n":[1]}`, "", 0},
	}
	for _, tt := range tests {
		v.S, v.N = "", 0
		if err := json.Unmarshal([]byte(tt.in), &v); err != nil {
			t.Errorf("%s: %v", tt.in, err)
			continue
		}
		if string(v.S) != tt.s || int64(v.N) != tt.n {
			t.Errorf("%s: got %q, %d; want %q, %d", tt.in, v.S, v.N, tt.s, tt.n)
		}
	}
}
