package bridge

import (
	"net/http"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/mcp-bridge/mcp-bridge/openapi"
)

// mountOpenAPI serves the tools as an OpenAPI tool server (the kind Open
// WebUI mounts): GET /openapi.json and POST /tools/:name on the
// authenticated group api, and their CORS preflights on e, unauthenticated
// because browsers send preflights without credentials.
//
// CORS allows the origins of Options.CORSOrigins (any when empty: these
// routes take bearer keys, never cookies, so a page can only use them with
// a key its user gave it). Answers of the routes carry the CORS headers,
// except a missing or wrong key's 401, which the group's authentication
// gives before CORS runs.
func (s *Server) mountOpenAPI(e *echo.Echo, api *echo.Group) {
	ts := openapi.NewToolServer(s.opts.Tools, &openapi.ServerOptions{
		Title:        "mcp-bridge tools",
		Version:      s.opts.Version,
		Auth:         len(s.opts.APIKeys) > 0,
		MaxBodyBytes: s.opts.MaxBodyBytes,
		Secrets:      s.opts.Secrets,
		Logger:       s.log,
	})
	origins := s.opts.CORSOrigins
	if len(origins) == 0 {
		origins = []string{"*"}
	}
	cors := middleware.CORSWithConfig(middleware.CORSConfig{
		AllowOrigins:  origins,
		AllowMethods:  []string{http.MethodGet, http.MethodPost, http.MethodOptions},
		AllowHeaders:  []string{"Authorization", "Content-Type", "X-Api-Key", "If-None-Match"},
		ExposeHeaders: []string{"ETag"},
		MaxAge:        600,
	})
	api.GET("/openapi.json", func(c echo.Context) error {
		ts.ServeDocument(c.Response(), c.Request())
		return nil
	}, cors)
	api.POST("/tools/:name", func(c echo.Context) error {
		ts.ServeCall(c.Response(), c.Request(), c.Param("name"))
		return nil
	}, cors)
	preflight := func(c echo.Context) error { return c.NoContent(http.StatusNoContent) }
	e.OPTIONS("/openapi.json", preflight, cors)
	e.OPTIONS("/tools/:name", preflight, cors)
}
