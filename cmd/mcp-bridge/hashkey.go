package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"github.com/mcp-bridge/mcp-bridge/cmd/mcp-bridge/config"
	"io"
	"strings"

	"github.com/mcp-bridge/mcp-bridge/bridge/auth"
)

// hashKeyCmd prints the sha256: form of a key, to store in auth.keys
// instead of the key itself. "-" reads the key from the first line of
// stdin, so that it stays out of the shell's history.
func hashKeyCmd(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("hash-key", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return &helpRequested{"Usage: mcp-bridge hash-key KEY | -\n\n" +
				"Print the sha256: form of KEY for auth.keys[].key, so that the config file does not hold the key.\n" +
				"\"-\" reads the key from the first line of stdin (it stays out of the shell's history).\n"}
		}
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("hash-key needs one KEY, or - to read it from stdin")
	}
	key := fs.Arg(0)
	if key == "-" {
		line, err := bufio.NewReader(stdin).ReadString('\n')
		if err != nil && err != io.EOF {
			return fmt.Errorf("reading the key from stdin: %w", err)
		}
		key = strings.TrimRight(line, "\r\n")
	}
	if strings.TrimSpace(key) == "" {
		return errors.New("hash-key: the key is empty")
	}
	if len(key) < config.MinKeyLength {
		fmt.Fprintf(stderr, "warning: the key has %d characters; a bridge listening beyond loopback needs at least %d\n", len(key), config.MinKeyLength)
	}
	fmt.Fprintln(stdout, auth.HashKey(key))
	return nil
}
