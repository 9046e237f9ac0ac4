package search

import (
	"fmt"
	"slices"
	"testing"
)

// fsDocs are tools shaped like @modelcontextprotocol/server-filesystem's,
// among others that share its words.
var fsDocs = []Doc{
	{Name: "read_file", Server: "fs", Description: "Read the complete contents of a file as text. DEPRECATED: Use read_text_file instead.",
		Params: []Param{{Name: "path"}, {Name: "tail"}, {Name: "head"}}},
	{Name: "read_text_file", Server: "fs", Description: "Read the complete contents of a file from the file system as text. Handles various text encodings and provides detailed error messages if the file cannot be read. Use this tool when you need to examine the contents of a single file. Use the 'head' parameter to read only the first N lines of a file, or the 'tail' parameter to read only the last N lines of a file.",
		Params: []Param{{Name: "path"}, {Name: "tail", Description: "If provided, returns only the last N lines of the file"}, {Name: "head", Description: "If provided, returns only the first N lines of the file"}}},
	{Name: "read_media_file", Server: "fs", Description: "Read an image or audio file. Returns the base64 encoded data and MIME type.",
		Params: []Param{{Name: "path"}}},
	{Name: "write_file", Server: "fs", Description: "Create a new file or completely overwrite an existing file with new content.",
		Params: []Param{{Name: "path"}, {Name: "content"}}},
	{Name: "list_directory", Server: "fs", Description: "Get a detailed listing of all files and directories in a specified path.",
		Params: []Param{{Name: "path"}}},
	{Name: "create_issue", Server: "github", Description: "Create a new issue in a GitHub repository.",
		Params: []Param{{Name: "owner"}, {Name: "repo"}, {Name: "title"}, {Name: "body", Description: "The text of the issue"}}},
	{Name: "getWeatherForecast", Server: "weather", Description: "Get the weather forecast for a city.",
		Params: []Param{{Name: "city"}}},
}

func names(docs []Doc, hits []Hit) []string {
	out := make([]string, len(hits))
	for i, h := range hits {
		out[i] = docs[h.Doc].Name
	}
	return out
}

func TestSearchRanksTheToolThatDoesIt(t *testing.T) {
	ix := New(fsDocs)
	for _, tc := range []struct {
		query, want string
	}{
		{"read a text file", "read_text_file"},
		{"reading files as text", "read_text_file"},
		{"list the directories", "list_directory"},
		{"overwrite a file", "write_file"},
		{"open an issue on github", "create_issue"},
		{"weather forecast in Paris", "getWeatherForecast"},
		{"image", "read_media_file"},
	} {
		got := names(fsDocs, ix.Search(tc.query, 3))
		if len(got) == 0 || got[0] != tc.want {
			t.Errorf("Search(%q) = %v, want %s first", tc.query, got, tc.want)
		}
	}
}

func TestSearchFindsNothingForStopWordsOrUnknownWords(t *testing.T) {
	ix := New(fsDocs)
	for _, q := range []string{"", "the a of", "zyzzyva"} {
		if hits := ix.Search(q, 5); len(hits) != 0 {
			t.Errorf("Search(%q) = %v, want nothing", q, names(fsDocs, hits))
		}
	}
	if hits := (*Index)(nil).Search("file", 5); hits != nil {
		t.Errorf("a nil index found %v", hits)
	}
	if n := New(nil).Len(); n != 0 {
		t.Errorf("Len of an empty index = %d", n)
	}
}

func TestSearchLimitAndOrderAreStable(t *testing.T) {
	var docs []Doc
	for i := range 50 {
		docs = append(docs, Doc{Name: fmt.Sprintf("tool_%02d", i), Description: "Does the same thing."})
	}
	ix := New(docs)
	hits := ix.Search("same thing", 8)
	if len(hits) != 8 {
		t.Fatalf("got %d hits, want 8", len(hits))
	}
	for i, h := range hits {
		if h.Doc != i {
			t.Fatalf("equal scores out of the given order: %v", names(docs, hits))
		}
	}
	if all := ix.Search("same thing", 0); len(all) != 50 {
		t.Errorf("limit 0 gave %d hits, want all 50", len(all))
	}
}

func TestTermsSplitsCasesAndStems(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"readTextFile", []string{"read", "text", "file"}},
		{"HTTPServer_listen", []string{"http", "server", "listen"}},
		{"Reading the files, quickly!", []string{"read", "file", "quick"}},
		{"repos/get-content v2", []string{"repo", "get", "content", "v2"}},
		{"", nil},
	} {
		if got := Terms(tc.in); !slices.Equal(got, tc.want) {
			t.Errorf("Terms(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestNameOutweighsDescription(t *testing.T) {
	docs := []Doc{
		{Name: "fetch_page", Description: "Fetches a web page; see also delete."},
		{Name: "delete_page", Description: "Removes a web page."},
	}
	if got := names(docs, New(docs).Search("delete", 2)); got[0] != "delete_page" {
		t.Errorf("Search(delete) = %v, want delete_page first", got)
	}
}

// TestSynonymsAndWholeNames: a query's verbs find their usual synonyms
// ("open" an issue is issues/create), and a name the query explains whole
// beats a longer one with the same words.
func TestSynonymsAndWholeNames(t *testing.T) {
	docs := []Doc{
		{Name: "repos/get-webhook", Server: "github", Description: "Get a repository webhook: the webhook of a repository, by id."},
		{Name: "repos/get", Server: "github", Description: "The full representation of a repository, its parent and source when it is a fork, and its settings."},
		{Name: "issues/create", Server: "github", Description: "Create an issue"},
		{Name: "issues/list-for-repo", Server: "github", Description: "List repository issues"},
		{Name: "create_directory", Server: "fs", Description: "Create a new directory."},
	}
	ix := New(docs)
	for _, tc := range []struct{ query, want string }{
		{"get a repository", "repos/get"},
		{"open an issue", "issues/create"},
		{"make a folder", "create_directory"},
	} {
		if got := names(docs, ix.Search(tc.query, 5)); len(got) == 0 || got[0] != tc.want {
			t.Errorf("Search(%q) = %v, want %s first", tc.query, got, tc.want)
		}
	}
}
