package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// resourcesCmd lists the resources and templates of every server, or
// reads one resource.
func resourcesCmd(ctx context.Context, cfgPath string, args []string, stdout, stderr io.Writer) error {
	var asJSON bool
	pos, err := commandFlags("resources", &cfgPath, args, stderr, func(fs *flag.FlagSet) {
		fs.BoolVar(&asJSON, "json", false, "print JSON")
	})
	if err != nil {
		return err
	}
	if len(pos) > 1 {
		return errors.New("usage: mcp-bridge resources [--json] [URI]")
	}
	_, reg, err := connect(ctx, cfgPath, stderr)
	if err != nil {
		return err
	}
	defer reg.Close()
	warnDown(reg, stderr)
	if len(pos) == 1 {
		res, err := reg.ReadResource(ctx, pos[0])
		if err != nil {
			return err
		}
		if asJSON {
			return printJSON(stdout, res)
		}
		for _, c := range res.Contents {
			if c.Text != "" {
				fmt.Fprintln(stdout, termText(c.Text, true))
			} else {
				fmt.Fprintf(stdout, "[%s: %s, %d bytes]\n", termText(c.URI, false), termText(c.MIMEType, false), len(c.Blob))
			}
		}
		return nil
	}
	if asJSON {
		type entry struct {
			Server string `json:"server"`
			*mcp.Resource
		}
		type tmpl struct {
			Server string `json:"server"`
			*mcp.ResourceTemplate
		}
		out := struct {
			Resources []entry `json:"resources"`
			Templates []tmpl  `json:"templates"`
		}{Resources: []entry{}, Templates: []tmpl{}}
		for _, r := range reg.Resources() {
			out.Resources = append(out.Resources, entry{r.Server, r.Def})
		}
		for _, t := range reg.ResourceTemplates() {
			out.Templates = append(out.Templates, tmpl{t.Server, t.Def})
		}
		return printJSON(stdout, out)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "URI\tSERVER\tNAME\tMIME TYPE")
	for _, r := range reg.Resources() {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", termText(r.Def.URI, false), termText(r.Server, false), termText(r.Def.Name, false), termText(r.Def.MIMEType, false))
	}
	for _, t := range reg.ResourceTemplates() {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", termText(t.Def.URITemplate, false), termText(t.Server, false), termText(t.Def.Name, false), termText(t.Def.MIMEType, false))
	}
	return tw.Flush()
}

// promptsCmd lists the prompts of every server, or gets one.
func promptsCmd(ctx context.Context, cfgPath string, args []string, stdout, stderr io.Writer) error {
	var asJSON bool
	pos, err := commandFlags("prompts", &cfgPath, args, stderr, func(fs *flag.FlagSet) {
		fs.BoolVar(&asJSON, "json", false, "print JSON")
	})
	if err != nil {
		return err
	}
	if len(pos) > 2 {
		return errors.New("usage: mcp-bridge prompts [--json] [NAME [JSON-ARGS]]")
	}
	var promptArgs map[string]string
	if len(pos) == 2 {
		if err := json.Unmarshal([]byte(pos[1]), &promptArgs); err != nil {
			return fmt.Errorf("prompt arguments must be a JSON object of strings: %v", err)
		}
	}
	_, reg, err := connect(ctx, cfgPath, stderr)
	if err != nil {
		return err
	}
	defer reg.Close()
	warnDown(reg, stderr)
	if len(pos) >= 1 {
		res, err := reg.GetPrompt(ctx, pos[0], promptArgs)
		if err != nil {
			return err
		}
		if asJSON {
			return printJSON(stdout, res)
		}
		for _, m := range res.Messages {
			text := fmt.Sprintf("[%T]", m.Content)
			if tc, ok := m.Content.(*mcp.TextContent); ok {
				text = tc.Text
			}
			fmt.Fprintf(stdout, "%s: %s\n", termText(string(m.Role), false), termText(text, true))
		}
		return nil
	}
	if asJSON {
		type entry struct {
			Name        string                `json:"name"`
			Server      string                `json:"server"`
			Prompt      string                `json:"prompt"`
			Description string                `json:"description,omitempty"`
			Arguments   []*mcp.PromptArgument `json:"arguments,omitempty"`
		}
		out := []entry{}
		for _, p := range reg.Prompts() {
			out = append(out, entry{p.Name, p.Server, p.Original, p.Def.Description, p.Def.Arguments})
		}
		return printJSON(stdout, out)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tSERVER\tARGUMENTS\tDESCRIPTION")
	for _, p := range reg.Prompts() {
		var names []string
		for _, a := range p.Def.Arguments {
			n := a.Name
			if a.Required {
				n += "*"
			}
			names = append(names, n)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", termText(p.Name, false), termText(p.Server, false), termText(fmt.Sprint(names), false), termText(firstLine(p.Def.Description, 60), false))
	}
	return tw.Flush()
}

// printJSON prints v as indented JSON, safe for a terminal (see termJSON).
func printJSON(w io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = w.Write(append(termJSON(b), '\n'))
	return err
}
