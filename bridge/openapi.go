package bridge

import (
	"github.com/labstack/echo/v4"

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
		Auth:         len(s.opts.APIKeys) > 0,
		MaxBodyBytes: s.opts.MaxBodyBytes,
		Secrets:      s.opts.Secrets,
		Logger:       s.log,
	})
	api.GET("/openapi.json", func(c echo.Context) error {
		ts.ServeDocument(c.Response(), c.Request())
		return nil
	})
	api.POST("/tools/:name", func(c echo.Context) error {
		ts.ServeCall(c.Response(), c.Request(), c.Param("name"))
		return nil
	})
}
