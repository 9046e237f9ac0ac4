package main

import (
	"context"
	"reflect"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

func TestCLICallerElicitation(t *testing.T) {
	schema := func(required ...string) map[string]any {
		return map[string]any{"type": "object", "required": required, "properties": map[string]any{
			"name":  map[string]any{"type": "string", "default": "ann"},
			"count": map[string]any{"type": "integer", "default": 3},
			"note":  map[string]any{"type": "string"},
		}}
	}
	res, err := cliCaller{}.Elicit(context.Background(), "s", &mcp.ElicitParams{RequestedSchema: schema("name")})
	if err != nil || res.Action != "accept" || !reflect.DeepEqual(res.Content, map[string]any{"name": "ann", "count": float64(3)}) {
		t.Errorf("defaults cover the required field: %+v %v", res, err)
	}
	res, err = cliCaller{}.Elicit(context.Background(), "s", &mcp.ElicitParams{RequestedSchema: schema("name", "note")})
	if err != nil || res.Action != "decline" {
		t.Errorf("a required field without default: %+v %v", res, err)
	}
	if _, err := (cliCaller{}).CreateMessage(context.Background(), "s", &mcp.CreateMessageParams{}); err == nil {
		t.Error("sampling answered")
	}
}
