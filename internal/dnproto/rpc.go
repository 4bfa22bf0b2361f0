package dnproto

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/granary-fs/granary/internal/errs"
	"github.com/granary-fs/granary/internal/wirejson"
)

// Reply headers: an error reply carries the exception name and message in
// headers and no body.
const (
	HeaderException = "Granary-Exception"
	HeaderMessage   = "Granary-Message"
)

// Call sends req as JSON on subj and decodes the JSON reply into resp
// (which may be nil). An error reply comes back as an *errs.Error of the
// exception's kind.
func Call(ctx context.Context, nc *nats.Conn, subj string, req, resp any) error {
	buf, err := marshalPooled(req)
	if err != nil {
		return err
	}
	defer buf.Release()
	return CallRaw(ctx, nc, subj, buf.Bytes(), resp)
}

// Publish sends v as JSON on subj, expecting no reply (an announcement).
func Publish(nc *nats.Conn, subj string, v any) error {
	buf, err := marshalPooled(v)
	if err != nil {
		return err
	}
	defer buf.Release()
	return nc.Publish(subj, buf.Bytes())
}

// marshalPooled is Marshal into a pooled buffer, for a message sent at
// once: NATS copies a message as it is sent, so the buffer is given back
// after (a message encoded into a fresh slice grew it six or seven
// times).
func marshalPooled(v any) (*wirejson.Buffer, error) { return wirejson.MarshalWith(v, appendMsg) }

// CallRetrying is Call for a request that is safe to send again (a
// look-up, a placement): an attempt that gets no reply within perTry or
// finds no responder — a NATS server of a cluster dying under it, the
// active coordinator changing — is sent again, with a short back-off,
// until ctx ends. An error reply is returned at once.
func CallRetrying(ctx context.Context, nc *nats.Conn, subj string, req, resp any, perTry time.Duration) error {
	buf, err := marshalPooled(req)
	if err != nil {
		return err
	}
	defer buf.Release()
	data := buf.Bytes()
	backoff := 50 * time.Millisecond
	for {
		actx, cancel := context.WithTimeout(ctx, perTry)
		err := CallRaw(actx, nc, subj, data, resp)
		cancel()
		if err == nil || ctx.Err() != nil || !lost(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, time.Second)
	}
}

// lost reports whether err is a request that got no answer.
func lost(err error) bool {
	return errors.Is(err, nats.ErrNoResponders) || errors.Is(err, nats.ErrTimeout) ||
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrConnectionClosed) ||
		errors.Is(err, nats.ErrConnectionReconnecting)
}

// CallRaw sends a ready payload (a binary block report) on subj.
func CallRaw(ctx context.Context, nc *nats.Conn, subj string, data []byte, resp any) error {
	msg, err := nc.RequestWithContext(ctx, subj, data)
	if err != nil {
		if errors.Is(err, nats.ErrNoResponders) {
			return errs.Wrap(errs.Retriable, err, "no responder on %s", subj)
		}
		return errs.Wrap(errs.Retriable, err, "calling %s", subj)
	}
	if ex := msg.Header.Get(HeaderException); ex != "" {
		return errs.FromRemote(403, errs.RemoteException{Exception: ex, Message: msg.Header.Get(HeaderMessage)})
	}
	if resp == nil {
		return nil
	}
	if err := Unmarshal(msg.Data, resp); err != nil {
		return fmt.Errorf("decoding reply of %s: %w", subj, err)
	}
	return nil
}

// Handler serves one request payload.
type Handler func(ctx context.Context, data []byte) (any, error)

// Serve answers requests on subj (in QueueGroup) with h until the
// subscription is drained. Handler errors are sent as exception headers.
func Serve(nc *nats.Conn, subj string, log *slog.Logger, h Handler) (*nats.Subscription, error) {
	return nc.QueueSubscribe(subj, QueueGroup, func(m *nats.Msg) {
		resp, err := h(context.WithValue(context.Background(), subjectKey{}, m.Subject), m.Data)
		reply := nats.NewMsg(m.Reply)
		if err != nil {
			_, body := errs.Remote(err)
			reply.Header.Set(HeaderException, body.RemoteException.Exception)
			reply.Header.Set(HeaderMessage, body.RemoteException.Message)
		} else if resp != nil {
			if buf, err := marshalPooled(resp); err != nil {
				reply.Header.Set(HeaderException, "IOException")
				reply.Header.Set(HeaderMessage, err.Error())
			} else {
				defer buf.Release()
				reply.Data = buf.Bytes()
			}
		}
		if m.Reply == "" {
			return
		}
		if err := m.RespondMsg(reply); err != nil {
			log.Warn("NATS reply failed", "subject", subj, "err", err)
		}
	})
}

type subjectKey struct{}

// Subject is the subject the request being handled came on.
func Subject(ctx context.Context) string {
	s, _ := ctx.Value(subjectKey{}).(string)
	return s
}

// JSON returns a Handler that decodes the request into a new T first.
func JSON[T any](fn func(ctx context.Context, req *T) (any, error)) Handler {
	return func(ctx context.Context, data []byte) (any, error) {
		req := new(T)
		if err := Unmarshal(data, req); err != nil {
			return nil, errs.E(errs.IllegalArgument, "malformed request: %v", err)
		}
		return fn(ctx, req)
	}
}
