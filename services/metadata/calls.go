package metadata

import (
	"net/http"
	"strconv"

	"github.com/granary-fs/granary/api"
	"github.com/granary-fs/granary/internal/errs"
	"github.com/granary-fs/granary/services/metadata/internal/namespace"
)

// callIDs puts the client call's ID (api.ClientIDHeader, api.CallIDHeader)
// into the request's context for the namespace's retry cache. A request
// without them is served as always; a malformed pair is refused.
func (s *Service) callIDs(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		client, call := r.Header.Get(api.ClientIDHeader), r.Header.Get(api.CallIDHeader)
		if client == "" && call == "" {
			next.ServeHTTP(w, r)
			return
		}
		id, err := parseCallID(client, call)
		if err != nil {
			writeError(w, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(namespace.WithCall(r.Context(), id)))
	})
}

func parseCallID(client, call string) (namespace.CallID, error) {
	if client == "" || call == "" {
		return namespace.CallID{}, errs.E(errs.IllegalArgument, "%s and %s go together", api.ClientIDHeader, api.CallIDHeader)
	}
	if len(client) > 64 {
		return namespace.CallID{}, errs.E(errs.IllegalArgument, "%s is longer than 64 characters", api.ClientIDHeader)
	}
	for _, c := range []byte(client) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return namespace.CallID{}, errs.E(errs.IllegalArgument, "%s %q: only letters, digits, '-' and '_' are allowed", api.ClientIDHeader, client)
		}
	}
	n, err := strconv.ParseInt(call, 10, 64)
	if err != nil || n < 0 {
		return namespace.CallID{}, errs.E(errs.IllegalArgument, "%s %q is not a number ≥ 0", api.CallIDHeader, call)
	}
	return namespace.CallID{Client: client, Call: n}, nil
}
