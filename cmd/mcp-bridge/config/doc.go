// Package config is mcp-bridge's configuration: its schema, loading (a
// YAML or JSON file found by -c, MCP_BRIDGE_CONFIG or in the working
// directory, ${VAR} expansion, MCP_BRIDGE_* overrides, defaults),
// validation with errors that name the file, the line and the key, the
// settings a reload cannot change, and the watcher of the file.
//
// It builds nothing that runs: package main turns a Config into the
// registry, the authenticator, the observers and the server's options.
package config
