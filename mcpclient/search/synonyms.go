package search

import "github.com/kljensen/snowball/english"

// synonymWeight is the weight of a synonym a query term brings.
const synonymWeight = 0.4

// synonymGroups are words that tool names and descriptions use for the same
// action or thing, one group per line: a query word finds the others too,
// at synonymWeight. Kept small and general: the verbs of CRUD APIs and
// the file system.
var synonymGroups = [][]string{
	{"create", "add", "new", "make", "open", "insert", "post"},
	{"get", "fetch", "retrieve", "show", "view", "read", "see", "display"},
	{"list", "all", "enumerate"},
	{"delete", "remove", "erase", "destroy", "drop"},
	{"update", "edit", "modify", "change", "set", "replace", "patch"},
	{"search", "find", "query", "look", "lookup", "locate"},
	{"directory", "folder", "dir"},
	{"file", "document"},
	{"repository", "repo", "project"},
	{"user", "person", "account", "member", "me"},
	{"organization", "org", "company"},
	{"run", "execute", "trigger", "start", "launch"},
	{"stop", "cancel", "abort"},
	{"rename", "move"},
	{"download", "export"},
	{"upload", "import"},
	{"environment", "env"},
	{"settings", "configuration", "config", "preferences"},
}

// synonyms maps each stemmed term to the other terms of its groups.
var synonyms = map[string][]string{}

func init() {
	for _, g := range synonymGroups {
		stems := make([]string, len(g))
		for i, w := range g {
			stems[i] = english.Stem(w, true)
		}
		for _, a := range stems {
			for _, b := range stems {
				if a != b {
					synonyms[a] = append(synonyms[a], b)
				}
			}
		}
	}
}
