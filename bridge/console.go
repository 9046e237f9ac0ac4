package bridge

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/mcp-bridge/mcp-bridge/bridge/console"
)

// mountConsole serves the web console (package console): its files at
// /ui/ to anyone the origin and host policy lets through (they hold no
// data, and a browser's navigation carries no key), and its one data
// route of its own, the servers with their call latencies, on the
// authenticated group api. Everything else the page shows comes from the
// routes every client uses, with the key the person typed.
func (s *Server) mountConsole(e *echo.Echo, api *echo.Group) {
	files := echo.WrapHandler(console.Handler())
	// A relative redirect, so that a proxy's path in front stays.
	e.GET("/ui", func(c echo.Context) error { return c.Redirect(http.StatusMovedPermanently, "ui/") })
	e.GET(console.Prefix+"*", files)
	e.HEAD(console.Prefix+"*", files)
	api.GET(console.ServersPath, s.on(func(s *Server, c echo.Context) error {
		console.WriteServers(c.Response(), c.Request(), s.opts.Tools.Servers(), s.opts.Tools.Tools(), s.opts.Secrets, s.latency)
		return nil
	}))
}
