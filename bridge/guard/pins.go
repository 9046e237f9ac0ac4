package guard

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/mcp-bridge/mcp-bridge/mcpclient"
)

// Pins is the pins file: the definition of every tool seen so far (its
// exposed name, description, input and output schemas) with its hash. A
// tool seen for the first time is pinned at once; a pinned tool whose
// definition differs is "changed" until a person approves the new
// definition, which the file keeps next to the pinned one so that the
// change can be shown and approved as it was seen.
//
// The file is read again before every write, and written whole to a
// temporary file renamed over it, so that the bridge and mcp-bridge pins
// approve, in other processes, never see half a file. Its methods are
// safe for concurrent use. Create it with OpenPins; the zero value has no
// file and is not usable.
type Pins struct {
	path string

	mu    sync.Mutex
	tools map[string]*Pin // the file as last read or written
}

// Definition is what a pin covers of a tool (see DefinitionOf). Its zero
// value is a tool without name, description or schemas.
type Definition struct {
	Name         string          `json:"name"`
	Description  string          `json:"description"`
	InputSchema  json.RawMessage `json:"input_schema,omitempty"`
	OutputSchema json.RawMessage `json:"output_schema,omitempty"`
}

// Pin is one tool of the pins file, as the file holds it.
type Pin struct {
	Server     string     `json:"server"`
	Hash       string     `json:"hash"`
	PinnedAt   time.Time  `json:"pinned_at"`
	Definition Definition `json:"definition"`
	// Changed is the definition seen since that differs from the pinned
	// one; nil when none did.
	Changed *Change `json:"changed,omitempty"`
}

// Change is a definition that differs from the pinned one.
type Change struct {
	Hash       string     `json:"hash"`
	SeenAt     time.Time  `json:"seen_at"`
	Definition Definition `json:"definition"`
}

// pinsFile is the file's layout.
type pinsFile struct {
	Version int             `json:"version"`
	Tools   map[string]*Pin `json:"tools"`
}

// OpenPins reads the pins file at path; a file that does not exist yet
// is an empty one (it is created at the first pin).
func OpenPins(path string) (*Pins, error) {
	p := &Pins{path: path}
	tools, err := p.read()
	if err != nil {
		return nil, err
	}
	p.tools = tools
	return p, nil
}

// Path is the file's path.
func (p *Pins) Path() string { return p.path }

func (p *Pins) read() (map[string]*Pin, error) {
	b, err := os.ReadFile(p.path)
	if errors.Is(err, fs.ErrNotExist) {
		return map[string]*Pin{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading pins: %w", err)
	}
	var f pinsFile
	if len(bytes.TrimSpace(b)) > 0 {
		if err := json.Unmarshal(b, &f); err != nil {
			return nil, fmt.Errorf("reading pins %s: %w", p.path, err)
		}
	}
	if f.Tools == nil {
		f.Tools = map[string]*Pin{}
	}
	for name, pin := range f.Tools {
		if pin == nil {
			delete(f.Tools, name)
		}
	}
	return f.Tools, nil
}

// write writes tools atomically: a temporary file in the same directory,
// synced, renamed over the file.
func (p *Pins) write(tools map[string]*Pin) error {
	b, err := json.MarshalIndent(pinsFile{Version: 1, Tools: tools}, "", "  ")
	if err != nil {
		return err
	}
	b = append(b, '\n')
	dir := filepath.Dir(p.path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(p.path)+".*")
	if err != nil {
		return fmt.Errorf("writing pins: %w", err)
	}
	defer os.Remove(tmp.Name()) // after a successful rename there is nothing to remove
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return fmt.Errorf("writing pins: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("writing pins: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing pins: %w", err)
	}
	if err := os.Rename(tmp.Name(), p.path); err != nil {
		return fmt.Errorf("writing pins: %w", err)
	}
	return nil
}

// update reads the file, applies fn to its tools and writes the file when
// fn reports a change. The in-memory view follows the file in any case.
func (p *Pins) update(fn func(tools map[string]*Pin) bool) error {
	tools, err := p.read()
	if err != nil {
		return err
	}
	if fn(tools) {
		if err := p.write(tools); err != nil {
			return err
		}
	}
	p.tools = tools
	return nil
}

// Reload reads the file again (after another process changed it).
func (p *Pins) Reload() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	tools, err := p.read()
	if err != nil {
		return err
	}
	p.tools = tools
	return nil
}

// DefinitionOf is what a pin covers of t.
func DefinitionOf(t mcpclient.Tool) Definition {
	return Definition{Name: t.Name, Description: t.Description, InputSchema: compact(t.InputSchema), OutputSchema: compact(t.OutputSchema)}
}

func compact(b json.RawMessage) json.RawMessage {
	if len(b) == 0 {
		return nil
	}
	var buf bytes.Buffer
	if json.Compact(&buf, b) != nil {
		return b
	}
	return buf.Bytes()
}

// Hash is a definition's hash, "sha256:" and hex.
func (d Definition) Hash() string {
	b, _ := json.Marshal(d)
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// Pin states (Check).
const (
	PinNew       = "new"      // first seen: pinned now
	PinSame      = "same"     // as pinned
	PinChanged   = "changed"  // differs from the pinned definition
	PinNotPinned = "unpinned" // the file could not be written: not pinned
)

// CheckAll compares each tool with its pin and returns their states,
// in order: a tool seen for the first time is pinned (PinNew), one as
// pinned is PinSame, one that differs is PinChanged and its definition
// is kept as the change to approve. The file is written once, when
// something was new. The error is that of writing it (new tools are
// then PinNotPinned).
func (p *Pins) CheckAll(tools []mcpclient.Tool) ([]string, error) {
	defs := make([]Definition, len(tools))
	hashes := make([]string, len(tools))
	for i, t := range tools {
		defs[i] = DefinitionOf(t)
		hashes[i] = defs[i].Hash()
	}
	states := make([]string, len(tools))
	p.mu.Lock()
	defer p.mu.Unlock()
	// What the file said when last read decides most rebuilds without
	// reading it again.
	fresh := true
	for i, t := range tools {
		pin, ok := p.tools[t.Name]
		switch {
		case ok && pin.Hash == hashes[i]:
			states[i] = PinSame
		case ok && pin.Changed != nil && pin.Changed.Hash == hashes[i]:
			states[i] = PinChanged
		default:
			fresh = false
		}
	}
	if fresh {
		return states, nil
	}
	now := time.Now().UTC()
	err := p.update(func(file map[string]*Pin) bool {
		changed := false
		for i, t := range tools {
			pin, ok := file[t.Name]
			switch {
			case !ok:
				file[t.Name] = &Pin{Server: t.Server, Hash: hashes[i], PinnedAt: now, Definition: defs[i]}
				states[i] = PinNew
				changed = true
			case pin.Hash == hashes[i]:
				states[i] = PinSame
			case pin.Changed != nil && pin.Changed.Hash == hashes[i]:
				states[i] = PinChanged
			default:
				pin.Changed = &Change{Hash: hashes[i], SeenAt: now, Definition: defs[i]}
				states[i] = PinChanged
				changed = true
			}
		}
		return changed
	})
	if err != nil {
		for i := range states {
			if states[i] == PinNew || states[i] == "" {
				states[i] = PinNotPinned
			}
		}
	}
	return states, err
}

// Check is CheckAll of one tool.
func (p *Pins) Check(t mcpclient.Tool) (string, error) {
	states, err := p.CheckAll([]mcpclient.Tool{t})
	return states[0], err
}

// Entry is one tool of List: its zero value is an unchanged tool with no
// name.
type Entry struct {
	Name   string
	Server string
	Hash   string
	// Changed is true when a definition that differs from the pinned
	// one was seen; Diff then shows the change, line by line.
	Changed bool
	Diff    string
}

// List returns every pinned tool, sorted by name, as the file says now.
func (p *Pins) List() ([]Entry, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	tools, err := p.read()
	if err != nil {
		return nil, err
	}
	p.tools = tools
	out := make([]Entry, 0, len(tools))
	for name, pin := range tools {
		e := Entry{Name: name, Server: pin.Server, Hash: pin.Hash}
		if pin.Changed != nil {
			e.Changed = true
			e.Diff = diffLines(pretty(pin.Definition), pretty(pin.Changed.Definition))
		}
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b Entry) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// Approve makes the changed definitions of the named tools (of every
// changed tool when names is empty) their pins. It returns the tools
// approved; a named tool that is not pinned or has no change is an error
// (and nothing is written).
func (p *Pins) Approve(names ...string) ([]string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var approved []string
	var problems []string
	err := p.update(func(tools map[string]*Pin) bool {
		if len(names) == 0 {
			for name, pin := range tools {
				if pin.Changed != nil {
					names = append(names, name)
				}
			}
			slices.Sort(names)
		}
		for _, name := range names {
			pin, ok := tools[name]
			switch {
			case !ok:
				problems = append(problems, fmt.Sprintf("%s is not pinned", name))
			case pin.Changed == nil:
				problems = append(problems, fmt.Sprintf("%s has not changed", name))
			}
		}
		if len(problems) > 0 {
			return false
		}
		for _, name := range names {
			pin := tools[name]
			pin.Hash, pin.Definition, pin.PinnedAt, pin.Changed = pin.Changed.Hash, pin.Changed.Definition, time.Now().UTC(), nil
			approved = append(approved, name)
		}
		return len(approved) > 0
	})
	if err != nil {
		return nil, err
	}
	if len(problems) > 0 {
		return nil, errors.New(strings.Join(problems, "; "))
	}
	return approved, nil
}

// pretty is a definition as indented JSON lines, schemas included.
func pretty(d Definition) []string {
	b, _ := json.MarshalIndent(d, "", "  ")
	return strings.Split(string(b), "\n")
}

// diffLines is a line diff of a and b: unchanged lines start with "  ",
// removed ones with "- ", added ones with "+ ". Definitions are short, so
// the plain longest-common-subsequence table does.
func diffLines(a, b []string) string {
	n, m := len(a), len(b)
	lcs := make([][]int, n+1)
	for i := range lcs {
		lcs[i] = make([]int, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if a[i] == b[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var out strings.Builder
	i, j := 0, 0
	for i < n || j < m {
		switch {
		case i < n && j < m && a[i] == b[j]:
			out.WriteString("  " + a[i] + "\n")
			i++
			j++
		case i < n && (j == m || lcs[i+1][j] >= lcs[i][j+1]):
			// What went comes before what came, as in a unified diff.
			out.WriteString("- " + a[i] + "\n")
			i++
		default:
			out.WriteString("+ " + b[j] + "\n")
			j++
		}
	}
	return out.String()
}
