// Package search ranks tools for a query: the index behind the chat
// path's search_tools function.
//
// Ranking is BM25F (Robertson and Zaragoza, "The Probabilistic Relevance
// Framework: BM25 and Beyond"): each tool is a document of fields (its
// name, its server, its description, its parameters' names and
// descriptions), each field weighted and length-normalised on its own, the
// weighted term frequencies summed before BM25's saturation. Terms are
// lower-cased words, camelCase and snake_case split, English stop words
// dropped, stemmed with the Snowball English stemmer, so that "reading
// files" finds read_file. Two additions measured on the labelled queries
// of cmd/mcp-bridge-bench (recall@5 0.86 to 0.92 over 1,252 real tools):
// a query word also finds its usual synonyms at a lower weight ("open an
// issue" is issues/create), and a document gains in proportion to the
// share of its name the query covers, so that "get a repository" is
// repos/get rather than repos/get-webhook.
package search

import (
	"math"
	"sort"
	"strings"
	"unicode"

	"github.com/kljensen/snowball/english"
)

// Doc is one tool as the index sees it.
type Doc struct {
	// Name is the tool's name (without any server prefix); its words weigh
	// most.
	Name string
	// Server is the name of the server that provides the tool, and its
	// prefix when that differs.
	Server string
	// Description is the tool's description (or title).
	Description string
	// Params are the tool's parameters.
	Params []Param
}

// Param is one parameter of a tool.
type Param struct {
	Name, Description string
}

// Hit is one ranked document: its position in the slice given to New and
// its score (higher is better; only the order means anything).
type Hit struct {
	Doc   int
	Score float64
}

// field is one part of a document with its weight and length
// normalisation.
type field struct {
	weight, b float64
}

// The fields, in the order of fieldText.
var fields = [...]field{
	{weight: 3.0, b: 0.9},  // name
	{weight: 1.0, b: 0.3},  // server
	{weight: 1.0, b: 0.75}, // description
	{weight: 1.5, b: 0.5},  // parameter names
	{weight: 0.5, b: 0.75}, // parameter descriptions
}

// k1 is BM25's term-frequency saturation.
const k1 = 1.2

// nameBoost weighs the share of a document's name that the query covers.
const nameBoost = 1.0

// posting is a term's weighted, normalised frequency in one document.
type posting struct {
	doc int32
	tf  float32
}

// Index ranks a fixed set of documents. Build it with New; it is immutable
// and safe for concurrent use. The zero value holds no documents.
type Index struct {
	n        int
	postings map[string][]posting
	// inName lists, per term, the documents whose name holds it;
	// nameTerms is each document's number of distinct name terms.
	inName    map[string][]int32
	nameTerms []int
}

// New indexes docs. Its cost is linear in the docs' text.
func New(docs []Doc) *Index {
	ix := &Index{n: len(docs), postings: map[string][]posting{}, inName: map[string][]int32{}, nameTerms: make([]int, len(docs))}
	if len(docs) == 0 {
		return ix
	}
	// Each document's terms per field, and the fields' average lengths.
	terms := make([][len(fields)][]string, len(docs))
	var total [len(fields)]float64
	for i, d := range docs {
		for f, text := range fieldText(d) {
			terms[i][f] = Terms(text)
			total[f] += float64(len(terms[i][f]))
		}
	}
	var avg [len(fields)]float64
	for f := range fields {
		avg[f] = math.Max(total[f]/float64(len(docs)), 1)
	}
	tf := map[string]float64{}
	for i := range docs {
		clear(tf)
		for f, ts := range terms[i] {
			norm := 1 - fields[f].b + fields[f].b*float64(len(ts))/avg[f]
			for _, t := range ts {
				tf[t] += fields[f].weight / norm
			}
		}
		for t, v := range tf {
			ix.postings[t] = append(ix.postings[t], posting{doc: int32(i), tf: float32(v)})
		}
		seen := map[string]bool{}
		for _, t := range terms[i][0] {
			if !seen[t] {
				seen[t] = true
				ix.inName[t] = append(ix.inName[t], int32(i))
			}
		}
		ix.nameTerms[i] = len(seen)
	}
	return ix
}

// fieldText is a document's text per field, in the order of fields.
func fieldText(d Doc) [len(fields)]string {
	var names, descs strings.Builder
	for _, p := range d.Params {
		names.WriteString(p.Name)
		names.WriteByte(' ')
		descs.WriteString(p.Description)
		descs.WriteByte(' ')
	}
	return [len(fields)]string{d.Name, d.Server, d.Description, names.String(), descs.String()}
}

// Len is the number of documents indexed.
func (ix *Index) Len() int {
	if ix == nil {
		return 0
	}
	return ix.n
}

// Search returns at most limit documents that share a term with query,
// best first; documents of equal score keep the order they were given in.
// limit <= 0 means no limit. A query of stop words alone finds nothing.
func (ix *Index) Search(query string, limit int) []Hit {
	if ix == nil || ix.n == 0 {
		return nil
	}
	scores := map[int32]float64{}
	named := map[int32]float64{}
	maxIDF := 0.0
	for t, w := range queryTerms(query) {
		ps := ix.postings[t]
		if len(ps) == 0 {
			continue
		}
		// BM25's idf, kept positive for terms in most documents.
		df := float64(len(ps))
		idf := math.Log(1 + (float64(ix.n)-df+0.5)/(df+0.5))
		maxIDF = math.Max(maxIDF, w*idf)
		for _, p := range ps {
			tf := float64(p.tf)
			scores[p.doc] += w * idf * tf / (k1 + tf)
		}
		for _, d := range ix.inName[t] {
			named[d] += w
		}
	}
	// A name the query explains whole ("get a repository": repos_get)
	// beats a longer one that shares the same words (repos_get-webhook).
	for d, m := range named {
		scores[d] += nameBoost * maxIDF * math.Min(m/float64(ix.nameTerms[d]), 1)
	}
	hits := make([]Hit, 0, len(scores))
	for d, s := range scores {
		hits = append(hits, Hit{Doc: int(d), Score: s})
	}
	sort.Slice(hits, func(i, j int) bool {
		if hits[i].Score != hits[j].Score {
			return hits[i].Score > hits[j].Score
		}
		return hits[i].Doc < hits[j].Doc
	})
	if limit > 0 && len(hits) > limit {
		hits = hits[:limit]
	}
	return hits
}

// queryTerms are the terms of a query with their weights: its own terms
// 1, the synonyms they bring synonymWeight (a term the query holds keeps
// its own weight).
func queryTerms(query string) map[string]float64 {
	out := map[string]float64{}
	ts := Terms(query)
	for _, t := range ts {
		out[t] = 1
	}
	for _, t := range ts {
		for _, s := range synonyms[t] {
			if _, ok := out[s]; !ok {
				out[s] = synonymWeight
			}
		}
	}
	return out
}

// Terms are the index terms of text: its words (letters and digits, split
// at case changes as in readTextFile and at every other character),
// lower-cased, stop words dropped, stemmed.
func Terms(text string) []string {
	var out []string
	for _, w := range words(text) {
		w = strings.ToLower(w)
		if english.IsStopWord(w) {
			continue
		}
		out = append(out, english.Stem(w, true))
	}
	return out
}

// words splits text into words at every character that is not a letter
// or digit, and inside camelCase words at each lower-to-upper change
// (and before the last capital of a run followed by a lower-case letter,
// as in "HTTPServer").
func words(text string) []string {
	var out []string
	rs := []rune(text)
	start := -1
	flush := func(end int) {
		if start >= 0 && end > start {
			out = append(out, string(rs[start:end]))
		}
		start = -1
	}
	for i, r := range rs {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) {
			flush(i)
			continue
		}
		if start < 0 {
			start = i
			continue
		}
		prev := rs[i-1]
		switch {
		case unicode.IsUpper(r) && unicode.IsLower(prev):
			flush(i)
			start = i
		case unicode.IsUpper(r) && unicode.IsUpper(prev) && i+1 < len(rs) && unicode.IsLower(rs[i+1]):
			flush(i)
			start = i
		}
	}
	flush(len(rs))
	return out
}
