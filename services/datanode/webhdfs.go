package datanode

import (
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/granary-fs/granary/api"
	"github.com/granary-fs/granary/internal/client"
	"github.com/granary-fs/granary/internal/errs"
	"github.com/granary-fs/granary/internal/rest"
)

// webhdfsPut godoc
//
//	@Summary		WebHDFS CREATE, datanode side
//	@Description	Reached through the metadata service's 307 redirect; the datanode acts as a client of the metadata service at namenoderpcaddress and of the pipeline, and answers 201 Created with a Location.
//	@Tags			webhdfs
//	@Accept			octet-stream
//	@Param			path				path	string	true	"absolute path without the leading slash"
//	@Param			op					query	string	true	"operation"	Enums(CREATE)
//	@Param			namenoderpcaddress	query	string	true	"host:port of the metadata service"
//	@Param			user.name			query	string	false	"caller"
//	@Param			overwrite			query	boolean	false	"replace an existing file"
//	@Param			blocksize			query	integer	false	"block size"
//	@Param			replication			query	integer	false	"replication"
//	@Param			permission			query	string	false	"octal permission"
//	@Param			data				body	string	true	"the file's bytes"
//	@Success		201					{string}	string	"Location header"
//	@Failure		400					{object}	errs.RemoteExceptionBody
//	@Failure		403					{object}	errs.RemoteExceptionBody
//	@Failure		404					{object}	errs.RemoteExceptionBody
//	@Failure	401	{object}	errs.RemoteExceptionBody	"token mode: no valid credential (SecurityException)"
//	@ID			webhdfsPut
//	@Router			/webhdfs/v1/{path} [put]
func (s *Service) webhdfsPut(w http.ResponseWriter, r *http.Request) { s.webhdfs(w, r) }

// webhdfsPost godoc
//
//	@Summary	WebHDFS APPEND, datanode side: answers 200 with an empty body
//	@Tags		webhdfs
//	@Accept		octet-stream
//	@Param		path				path	string	true	"absolute path without the leading slash"
//	@Param		op					query	string	true	"operation"	Enums(APPEND)
//	@Param		namenoderpcaddress	query	string	true	"host:port of the metadata service"
//	@Param		user.name			query	string	false	"caller"
//	@Param		data				body	string	true	"the bytes to append"
//	@Success	200					{string}	string	"empty"
//	@Failure	400					{object}	errs.RemoteExceptionBody
//	@Failure	403					{object}	errs.RemoteExceptionBody
//	@Failure	404					{object}	errs.RemoteExceptionBody
//	@Failure	401	{object}	errs.RemoteExceptionBody	"token mode: no valid credential (SecurityException)"
//	@ID			webhdfsPost
//	@Router		/webhdfs/v1/{path} [post]
func (s *Service) webhdfsPost(w http.ResponseWriter, r *http.Request) { s.webhdfs(w, r) }

// webhdfsGet godoc
//
//	@Summary		WebHDFS OPEN and GETFILECHECKSUM, datanode side
//	@Description	OPEN streams application/octet-stream (offset, length); GETFILECHECKSUM answers the FileChecksum JSON. Other ops answer 400.
//	@Tags			webhdfs
//	@Produce		octet-stream,json
//	@Produce		json
//	@Param			path				path		string	true	"absolute path without the leading slash"
//	@Param			op					query		string	true	"operation"	Enums(OPEN,GETFILECHECKSUM)
//	@Param			namenoderpcaddress	query		string	true	"host:port of the metadata service"
//	@Param			user.name			query		string	false	"caller"
//	@Param			offset				query		integer	false	"OPEN: first byte"
//	@Param			length				query		integer	false	"OPEN: bytes"
//	@Success		200					{object}	api.FileChecksumResponse	"GETFILECHECKSUM; OPEN streams the bytes"
//	@Failure		400					{object}	errs.RemoteExceptionBody
//	@Failure		403					{object}	errs.RemoteExceptionBody
//	@Failure		404					{object}	errs.RemoteExceptionBody
//	@Failure	401	{object}	errs.RemoteExceptionBody	"token mode: no valid credential (SecurityException)"
//	@ID			webhdfsGet
//	@Router			/webhdfs/v1/{path} [get]
func (s *Service) webhdfsGet(w http.ResponseWriter, r *http.Request) { s.webhdfs(w, r) }

func (s *Service) webhdfs(w http.ResponseWriter, r *http.Request) {
	if err := s.serveWebHDFS(w, r); err != nil {
		rest.WriteError(w, err)
	}
}

func (s *Service) serveWebHDFS(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	op := strings.ToUpper(q.Get("op"))
	path := "/" + strings.TrimPrefix(strings.TrimPrefix(r.URL.Path, "/webhdfs/v1"), "/")
	allowed := map[string]string{"CREATE": http.MethodPut, "APPEND": http.MethodPost, "OPEN": http.MethodGet, "GETFILECHECKSUM": http.MethodGet}
	if m, ok := allowed[op]; !ok || m != r.Method {
		return errs.E(errs.IllegalArgument, "Invalid value for webhdfs parameter \"op\": %s %q is not served by a datanode", r.Method, q.Get("op"))
	}
	nn := q.Get("namenoderpcaddress")
	if nn == "" {
		return errs.E(errs.IllegalArgument, "Namenode RPC address is not specified.")
	}
	if err := s.checkMetadataAddr(r.Context(), nn); err != nil {
		return err
	}
	// doas is the superuser's only in simple mode, as on the metadata
	// service; in token mode the caller's credential goes with every call.
	id, err := s.authn.Identify(r)
	if err != nil {
		return err
	}
	c := client.New(s.cfg.TLS.Scheme()+"://"+nn, id.User)
	c.SetTLS(s.tlsClient)
	c.SetDelegation(id.Delegation)
	c.SetBearer(id.Bearer)
	ctx := r.Context()
	num := func(name string, def int64) (int64, error) {
		v := q.Get(name)
		if v == "" {
			return def, nil
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return 0, errs.E(errs.IllegalArgument, "Invalid value for webhdfs parameter \"%s\": %s", name, v)
		}
		return n, nil
	}
	switch op {
	case "CREATE":
		opts := client.CreateOptions{Overwrite: strings.EqualFold(q.Get("overwrite"), "true")}
		bs, err := num("blocksize", 0)
		if err != nil {
			return err
		}
		repl, err := num("replication", 0)
		if err != nil {
			return err
		}
		opts.BlockSize, opts.Replication = bs, int(repl)
		if p := q.Get("permission"); p != "" {
			m, err := strconv.ParseUint(p, 8, 16)
			if err != nil || m > 0o1777 {
				return errs.E(errs.IllegalArgument, "Invalid value for webhdfs parameter \"permission\": %s", p)
			}
			opts.Permission = uint16(m)
		}
		fw, err := c.Create(ctx, path, opts)
		if err != nil {
			return err
		}
		if err := copyAndClose(fw, r.Body); err != nil {
			return err
		}
		w.Header().Set("Location", "hdfs://"+nn+path)
		w.Header().Set("Content-Length", "0")
		w.WriteHeader(http.StatusCreated)
		return nil
	case "APPEND":
		fw, err := c.Append(ctx, path)
		if err != nil {
			return err
		}
		if err := copyAndClose(fw, r.Body); err != nil {
			return err
		}
		w.Header().Set("Content-Length", "0")
		w.WriteHeader(http.StatusOK)
		return nil
	case "OPEN":
		offset, err := num("offset", 0)
		if err != nil {
			return err
		}
		fr, err := c.Open(ctx, path)
		if err != nil {
			return err
		}
		defer fr.Close()
		if offset > fr.Size() {
			return errs.E(errs.IO, "Offset=%d out of the range [0, %d); OPEN, path=%s", offset, fr.Size(), path)
		}
		length, err := num("length", fr.Size()-offset)
		if err != nil {
			return err
		}
		length = min(length, fr.Size()-offset)
		if _, err := fr.Seek(offset, io.SeekStart); err != nil {
			return err
		}
		// The first bytes are read before the status is sent: a file none
		// of whose replicas can be read is answered with the
		// RemoteException (BlockMissingException), not an empty reply.
		first := make([]byte, min(length, 64<<10))
		if _, err := io.ReadFull(fr, first); err != nil {
			return err
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Length", strconv.FormatInt(length, 10))
		w.WriteHeader(http.StatusOK)
		if _, err := w.Write(first); err != nil {
			return nil // the client went away
		}
		if _, err := io.CopyN(w, fr, length-int64(len(first))); err != nil {
			panic(http.ErrAbortHandler) // headers are out: cut the stream
		}
		return nil
	case "GETFILECHECKSUM":
		sum, err := c.FileChecksum(ctx, path)
		if err != nil {
			return err
		}
		return rest.WriteJSON(w, http.StatusOK, api.FileChecksumResponse{FileChecksum: sum})
	}
	return nil
}

// copyAndClose streams body into a file writer and closes it; a failed
// copy still closes the writer so the file is not left open.
func copyAndClose(fw io.WriteCloser, body io.Reader) error {
	_, err := io.Copy(fw, body)
	cerr := fw.Close()
	if err != nil {
		return errs.Wrap(errs.IO, err, "receiving the file's bytes")
	}
	return cerr
}
