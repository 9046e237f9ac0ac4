package mcpclient

// CallsEntered returns the calls of the server name that hold it (see
// Registry.enter), running or queued for its concurrency bound.
func CallsEntered(r *Registry, name string) int64 {
	if s := r.set.Load().byName[name]; s != nil {
		return s.entered.Load()
	}
	return -1
}
