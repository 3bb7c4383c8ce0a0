package flows

import (
	"sync"

	"github.com/caddyauth/gateway/internal/disposable"
)

// builtinDisposable parses the embedded list once, on first use.
var builtinDisposable = sync.OnceValue(disposable.Builtin)
