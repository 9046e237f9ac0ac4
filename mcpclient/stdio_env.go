package mcpclient

import (
	"maps"
	"path"
	"runtime"
	"slices"
	"strings"
)

// safeEnv are the variables of the bridge's environment that every stdio
// server gets: what programs need to find themselves, their home, a
// temporary directory, the locale and the trusted certificates, and nothing
// that holds a secret.
var safeEnv = []string{
	"PATH", "HOME", "USER", "LOGNAME", "SHELL", "TERM", "LANG", "LANGUAGE", "LC_*", "TZ", "TMPDIR",
	// Where the trusted certificates are (paths, not secrets): without
	// them, servers behind a TLS-inspecting proxy cannot download.
	"SSL_CERT_FILE", "SSL_CERT_DIR", "NODE_EXTRA_CA_CERTS", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE",
	// Windows.
	"SYSTEMROOT", "SYSTEMDRIVE", "WINDIR", "COMSPEC", "PATHEXT", "APPDATA", "LOCALAPPDATA",
	"USERPROFILE", "USERNAME", "HOMEDRIVE", "HOMEPATH", "TEMP", "TMP", "PROGRAMDATA",
	"PROGRAMFILES", "PROGRAMFILES(X86)", "PROGRAMW6432", "COMMONPROGRAMFILES",
	"COMMONPROGRAMFILES(X86)", "COMMONPROGRAMW6432", "NUMBER_OF_PROCESSORS",
	"PROCESSOR_ARCHITECTURE", "OS",
}

// stdioEnv returns the environment of a stdio server: the variables of
// environ (KEY=VALUE, as from os.Environ) that are in the safe set or
// match c.EnvPassthrough, or all of them when c.InheritEnv is set, followed
// by c.Env in key order, so that c.Env wins (exec keeps the last value of a
// duplicate key).
func stdioEnv(environ []string, c ServerConfig) []string {
	var env []string
	if c.InheritEnv {
		env = slices.Clone(environ)
	} else {
		for _, kv := range environ {
			k, _, ok := strings.Cut(kv, "=")
			if ok && k != "" && (envNameMatch(safeEnv, k) || envNameMatch(c.EnvPassthrough, k)) {
				env = append(env, kv)
			}
		}
	}
	for _, k := range slices.Sorted(maps.Keys(c.Env)) {
		env = append(env, k+"="+c.Env[k])
	}
	return env
}

// envNameMatch reports whether the variable name matches one of patterns,
// exact names or path.Match globs ("NODE_*"). On Windows, where variable
// names are case-insensitive, case is ignored.
func envNameMatch(patterns []string, name string) bool {
	if runtime.GOOS == "windows" {
		name = strings.ToUpper(name)
	}
	for _, p := range patterns {
		if runtime.GOOS == "windows" {
			p = strings.ToUpper(p)
		}
		if p == name {
			return true
		}
		if ok, _ := path.Match(p, name); ok {
			return true
		}
	}
	return false
}
