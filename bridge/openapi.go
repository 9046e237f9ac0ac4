package bridge

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/mcp-bridge/mcp-bridge/bridge/auth"
	"github.com/mcp-bridge/mcp-bridge/mcpclient"
	"github.com/mcp-bridge/mcp-bridge/openapi"
)

// mountOpenAPI serves the tools as an OpenAPI tool server (the kind Open
// WebUI mounts): GET /openapi.json and POST /tools/:name on the
// authenticated group api. Browsers reach them under the one origin policy
// (origin.go), which also answers their preflights.
func (s *Server) mountOpenAPI(api *echo.Group) {
	ts := openapi.NewToolServer(s.opts.Tools, &openapi.ServerOptions{
		Title:        "mcp-bridge tools",
		Version:      s.opts.Version,
		Auth:         s.opts.Auth.Enabled(),
		MaxBodyBytes: s.opts.MaxBodyBytes,
		Secrets:      s.opts.Secrets,
		Logger:       s.log,
		// The document shows the caller's tools only.
		Allow: func(r *http.Request, t mcpclient.Tool) bool {
			return auth.FromContext(r.Context()).AllowsTool(t.Name, t.Server)
		},
	})
	api.GET("/openapi.json", func(c echo.Context) error {
		ts.ServeDocument(c.Response(), c.Request())
		return nil
	})
	api.POST("/tools/:name", func(c echo.Context) error {
		r, name := c.Request(), c.Param("name")
		p := auth.FromContext(r.Context())
		if t, ok := s.tools.get(nil).lookup(name); ok && !p.AllowsTool(t.Name, t.Server) {
			return auth.ToolNotPermitted(name)
		}
		d, err := s.opts.Limits.Request(r.Context(), p)
		if err != nil {
			return err
		}
		if d.Limit > 0 {
			for k, v := range auth.RateHeaders(d) {
				c.Response().Header()[k] = v
			}
		}
		if _, err := s.opts.Limits.ToolCall(r.Context(), p); err != nil {
			return err
		}
		ts.ServeCall(c.Response(), r.WithContext(callContext(r.Context(), p)), name)
		return nil
	})
}
