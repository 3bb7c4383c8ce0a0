// Command xcaddy-build is Caddy with its standard modules and caddyauth
// built in, the binary `xcaddy build --with github.com/caddyauth/gateway`
// would produce.
package main

import (
	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	_ "github.com/caddyserver/caddy/v2/modules/standard"

	_ "github.com/caddyauth/gateway/caddyauth"
)

func main() {
	caddycmd.Main()
}
