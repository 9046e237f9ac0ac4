package config

import (
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/fsnotify/fsnotify"
)

// reloadDebounce is how long the config file must be quiet after a change
// before it is read: editors write in several steps.
const reloadDebounce = 200 * time.Millisecond

// FileSum is the sha256 of the file's bytes.
func FileSum(path string) ([32]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return [32]byte{}, err
	}
	return sha256.Sum256(data), nil
}

// Watch calls changed, debounced, whenever the file at path may
// have changed: it watches the directory, so that editors that replace
// the file by renaming another over it are seen too. It returns when ctx
// is done; an error when the directory cannot be watched.
func Watch(ctx context.Context, path string, changed func()) error {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("watching the config file: %w", err)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		abs = path
	}
	dir, base := filepath.Split(abs)
	if err := w.Add(dir); err != nil {
		w.Close()
		return fmt.Errorf("watching the config file's directory %s: %w", dir, err)
	}
	go func() {
		defer w.Close()
		var quiet <-chan time.Time
		var t *time.Timer
		for {
			select {
			case <-ctx.Done():
				return
			case ev, ok := <-w.Events:
				if !ok {
					return
				}
				// A Kubernetes ConfigMap changes by swapping "..data".
				if filepath.Base(ev.Name) != base && !strings.HasPrefix(filepath.Base(ev.Name), "..") {
					continue
				}
				if t == nil {
					t = time.NewTimer(reloadDebounce)
				} else {
					t.Reset(reloadDebounce)
				}
				quiet = t.C
			case <-w.Errors:
			case <-quiet:
				quiet = nil
				changed()
			}
		}
	}()
	return nil
}
