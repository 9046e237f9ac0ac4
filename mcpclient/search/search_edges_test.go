package search

import (
	"math"
	"testing"
)

func TestLenCountsDocuments(t *testing.T) {
	if n := New(fsDocs).Len(); n != len(fsDocs) {
		t.Errorf("Len = %d, want %d", n, len(fsDocs))
	}
	var ix *Index
	if n := ix.Len(); n != 0 {
		t.Errorf("nil index: Len = %d, want 0", n)
	}
}

// bm25f scores docs for query as the package documents it, straight from
// the formula and with none of the index's structures: per field, a
// term's count weighted and divided by 1-b+b*len/avglen (avglen at least
// 1); summed over fields into tf; BM25's idf ln(1+(N-df+0.5)/(df+0.5));
// w*idf*tf/(k1+tf) summed over the query's terms; plus nameBoost times
// the largest w*idf of the query times the share of the document's
// distinct name terms the query holds (weighted, at most 1).
func bm25f(docs []Doc, query string) map[int]float64 {
	n := float64(len(docs))
	counts := make([][len(fields)]map[string]int, len(docs))
	lens := make([][len(fields)]float64, len(docs))
	var avg [len(fields)]float64
	for i, d := range docs {
		for f, text := range fieldText(d) {
			counts[i][f] = map[string]int{}
			for _, t := range Terms(text) {
				counts[i][f][t]++
				lens[i][f]++
			}
			avg[f] += lens[i][f] / n
		}
	}
	for f := range avg {
		avg[f] = math.Max(avg[f], 1)
	}
	scores := map[int]float64{}
	named := map[int]float64{}
	best := 0.0
	for t, w := range queryTerms(query) {
		tf := make([]float64, len(docs))
		df := 0.0
		for i := range docs {
			for f, fl := range fields {
				if c := counts[i][f][t]; c > 0 {
					tf[i] += fl.weight * float64(c) / (1 - fl.b + fl.b*lens[i][f]/avg[f])
				}
			}
			if tf[i] > 0 {
				df++
			}
		}
		if df == 0 {
			continue
		}
		idf := math.Log(1 + (n-df+0.5)/(df+0.5))
		best = math.Max(best, w*idf)
		for i := range docs {
			if tf[i] > 0 {
				scores[i] += w * idf * tf[i] / (k1 + tf[i])
			}
			if counts[i][0][t] > 0 {
				named[i] += w
			}
		}
	}
	for i, m := range named {
		scores[i] += nameBoost * best * math.Min(m/float64(len(counts[i][0])), 1)
	}
	return scores
}

// The scores are BM25F's, to float32 precision (the index keeps term
// frequencies as float32): every part of the formula counts.
func TestScoresAreBM25F(t *testing.T) {
	for _, query := range []string{"read file", "read the text of a file at a path", "weather forecast city", "create issue title", "list directory files"} {
		want := bm25f(fsDocs, query)
		hits := New(fsDocs).Search(query, 0)
		if len(hits) != len(want) {
			t.Errorf("%q: %d hits, want %d", query, len(hits), len(want))
		}
		for _, h := range hits {
			w, ok := want[h.Doc]
			if !ok || math.Abs(h.Score-w) > 1e-5*math.Abs(w) {
				t.Errorf("%q: %s scores %.6f, want %.6f", query, fsDocs[h.Doc].Name, h.Score, w)
			}
		}
	}
}
