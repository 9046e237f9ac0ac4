//go:build race

package bridge

// raceEnabled: the race detector's shadow memory is never given back, so
// the process's RSS cannot show memory returned.
const raceEnabled = true
