package metadata

import (
	"net/http"

	"github.com/granary-fs/granary/api"
	"github.com/granary-fs/granary/internal/errs"
)

// Delegation tokens with simple authentication, as HDFS answers them with
// security off: GETDELEGATIONTOKEN gives {"Token":null} (FSNamesystem
// issues none without a running secret manager), so clients that always
// ask for one go on; no token exists, so renewing or cancelling one is
// SecretManager$InvalidToken. The security issue's token mode issues real
// ones.

func (s *Service) getDelegationToken(w http.ResponseWriter, r *http.Request, c *webhdfsCall) error {
	if c.p.has("delegation") {
		return errs.E(errs.IllegalArgument, "delegation parameter is not null.")
	}
	return writeJSON(w, http.StatusOK, api.TokenResponse{})
}

func (s *Service) renewDelegationToken(w http.ResponseWriter, r *http.Request, c *webhdfsCall) error {
	if !c.p.has("token") {
		return errs.E(errs.IllegalArgument, "Required param token for op: RENEWDELEGATIONTOKEN is null")
	}
	return errs.E(errs.InvalidToken, "Renewal request for unknown token")
}

func (s *Service) cancelDelegationToken(w http.ResponseWriter, r *http.Request, c *webhdfsCall) error {
	if !c.p.has("token") {
		return errs.E(errs.IllegalArgument, "Required param token for op: CANCELDELEGATIONTOKEN is null")
	}
	return errs.E(errs.InvalidToken, "Token not found")
}
