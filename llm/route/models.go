package route

import (
	"context"
	"sort"
	"sync"

	"github.com/mcp-bridge/mcp-bridge/llm"
)

// AliasOwner is the owned_by of an alias in Models.
const AliasOwner = "mcp-bridge"

// Models merges the upstreams' model lists, fetched in parallel (each
// client caches its own), with the aliases: every model an upstream lists
// and takes (its globs match), once, owned_by the upstream's name, then
// every alias, owned_by AliasOwner. With several upstreams, one that has
// not answered within Options.ModelsTimeout, or that failed, is left out
// (and logged) without holding up the others; with one, its list is
// waited for as long as ctx allows. It returns an error only when no
// upstream answered: the first upstream's failure.
func (r *Router) Models(ctx context.Context) (*llm.ModelList, error) {
	type result struct {
		list *llm.ModelList
		err  error
	}
	res := make([]result, len(r.ups))
	var wg sync.WaitGroup
	for i, u := range r.ups {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := ctx
			if len(r.ups) > 1 {
				var cancel context.CancelFunc
				c, cancel = context.WithTimeout(ctx, r.opts.ModelsTimeout)
				defer cancel()
			}
			res[i].list, res[i].err = u.Client.Models(c)
		}()
	}
	wg.Wait()

	aliases := make([]string, 0, len(r.aliases))
	for a := range r.aliases {
		aliases = append(aliases, a)
	}
	sort.Strings(aliases)
	seen := make(map[string]bool, len(aliases))
	for _, a := range aliases {
		seen[a] = true
	}
	out := &llm.ModelList{Object: "list"}
	var firstErr error
	answered := false
	var created int64
	for i, u := range r.ups {
		if err := res[i].err; err != nil {
			if firstErr == nil {
				firstErr = err
			}
			r.log.Warn("an upstream did not list its models: its models are left out", "upstream", u.Name, "err", err)
			continue
		}
		answered = true
		for _, m := range res[i].list.Data {
			if seen[m.ID] || !u.takes(m.ID) {
				continue
			}
			seen[m.ID] = true
			m.OwnedBy = u.Name
			created = max(created, m.Created)
			out.Data = append(out.Data, m)
		}
	}
	if !answered {
		return nil, firstErr
	}
	if created == 0 {
		created = r.opts.now().Unix()
	}
	for _, a := range aliases {
		out.Data = append(out.Data, llm.Model{ID: a, Object: "model", Created: created, OwnedBy: AliasOwner})
	}
	return out, nil
}
