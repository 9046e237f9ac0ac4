package guard

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/mcp-bridge/mcp-bridge/mcpclient"
)

// TestBlankPinsFileIsEmpty checks a pins file that holds only white space
// (one made with touch) is an empty one, not a broken one.
func TestBlankPinsFileIsEmpty(t *testing.T) {
	path := filepath.Join(t.TempDir(), "pins.json")
	if err := os.WriteFile(path, []byte("\n  \n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p, err := OpenPins(path)
	if err != nil {
		t.Fatalf("OpenPins of a blank file: %v", err)
	}
	if st, err := p.Check(testTool); st != PinNew || err != nil {
		t.Errorf("Check = %s, %v; want new", st, err)
	}
}

// TestPinsThatCannotBeWrittenAreNotPinned checks a pins file that cannot
// be written is an error, and the new tools are not pinned, again at
// each check: nothing is taken for pinned that the file does not hold.
func TestPinsThatCannotBeWrittenAreNotPinned(t *testing.T) {
	p, err := OpenPins(filepath.Join(t.TempDir(), "no such directory", "pins.json"))
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if st, err := p.Check(testTool); st != PinNotPinned || err == nil {
			t.Errorf("Check = %s, %v; want unpinned and the error", st, err)
		}
	}
}

// TestSchemaLayoutIsNoChange checks a server that sends the same schema
// laid out differently does not change its tool's pin, and that the
// definition a pin covers holds the schema compacted.
func TestSchemaLayoutIsNoChange(t *testing.T) {
	p, err := OpenPins(filepath.Join(t.TempDir(), "pins.json"))
	if err != nil {
		t.Fatal(err)
	}
	tool := mcpclient.Tool{Name: "calc__add", Description: "Adds.", InputSchema: json.RawMessage(`{"type":"object","properties":{"a":{"type":"number"}}}`)}
	if st, err := p.Check(tool); st != PinNew || err != nil {
		t.Fatalf("first Check = %s, %v", st, err)
	}
	tool.InputSchema = json.RawMessage("{\n  \"type\": \"object\",\n  \"properties\": {\"a\": {\"type\": \"number\"}}\n}")
	if st, err := p.Check(tool); st != PinSame || err != nil {
		t.Errorf("Check of the same schema laid out anew = %s, %v; want same", st, err)
	}
	if got := DefinitionOf(tool).InputSchema; string(got) != `{"type":"object","properties":{"a":{"type":"number"}}}` {
		t.Errorf("DefinitionOf(tool).InputSchema = %s, want it compacted", got)
	}
}

// TestApprovingNothingWritesNothing checks mcp-bridge pins approve with
// nothing to approve leaves the file alone (here: does not create it).
func TestApprovingNothingWritesNothing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "pins.json")
	p, err := OpenPins(path)
	if err != nil {
		t.Fatal(err)
	}
	if approved, err := p.Approve(); len(approved) != 0 || err != nil {
		t.Errorf("Approve() = %v, %v", approved, err)
	}
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the pins file was written: %v", err)
	}
}

// TestDiffLinesIsMinimal checks the change shown for approval keeps the
// lines both definitions share, whichever side starts with a line of its
// own, and shows a removed line before the added one.
func TestDiffLinesIsMinimal(t *testing.T) {
	for _, tc := range []struct {
		a, b []string
		want string
	}{
		{[]string{"a", "b", "c"}, []string{"b", "c", "d"}, "- a\n  b\n  c\n+ d\n"},
		{[]string{"x", "a"}, []string{"a", "x"}, "- x\n  a\n+ x\n"},
		{[]string{"b", "c", "d"}, []string{"a", "b", "c"}, "+ a\n  b\n  c\n- d\n"},
		{[]string{"{", "old", "}"}, []string{"{", "new", "}"}, "  {\n- old\n+ new\n  }\n"},
	} {
		if got := diffLines(tc.a, tc.b); got != tc.want {
			t.Errorf("diffLines(%q, %q) =\n%s\nwant\n%s", tc.a, tc.b, got, tc.want)
		}
	}
}

// TestHiddenCharactersAnywhere checks the scan finds an invisible
// character at the very start of a description, and one written as a
// JSON escape in a schema.
func TestHiddenCharactersAnywhere(t *testing.T) {
	for _, tool := range []mcpclient.Tool{
		{Name: "a__b", Description: "\u200bAdds numbers."},
		{Name: "a__b", Description: "Adds numbers.", InputSchema: json.RawMessage(`{"type":"object","description":"Adds\u200b numbers."}`)},
	} {
		if fs := ScanTool(tool); len(fs) == 0 || fs[0].Check != ScanHidden {
			t.Errorf("ScanTool(%q, %s) = %+v, want hidden", tool.Description, tool.InputSchema, fs)
		}
	}
}
