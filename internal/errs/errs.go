// Package errs is Granary's one error vocabulary. Every service returns
// errors of the kinds below; each kind maps to exactly one Java exception
// name (what WebHDFS clients see in RemoteException) and one HTTP status,
// following Hadoop's web/resources/ExceptionHandler.
//
// Domain packages build errors with E; transports turn them into wire bodies
// with Remote; clients turn wire bodies back into typed errors with FromRemote.
package errs

import (
	"errors"
	"fmt"
	"net/http"
)

// Kind classifies an error. Tests check kinds, never message text.
type Kind uint8

// The kinds, named after the Hadoop exceptions they become on the wire.
const (
	Internal Kind = iota // anything unexpected: 500
	IllegalArgument
	UnsupportedOperation
	FileNotFound
	AccessControl
	FileAlreadyExists
	ParentNotDirectory
	PathIsNotEmptyDirectory
	SafeMode
	NSQuotaExceeded
	DSQuotaExceeded
	AlreadyBeingCreated
	InvalidPath
	IO // a generic IOException: 403 like every IOException
	Retriable
	PathComponentTooLong
	MaxDirectoryItemsExceeded
	LeaseExpired
	NotReplicatedYet
	InvalidTopology
	Unregistered
	IncorrectVersion
	PathIsNotDirectory
	Checksum
	ReplicaNotFound
	ReplicaAlreadyExists
	BlockMissing
	DiskOutOfSpace
	InvalidToken
	Security // no or a bad credential in token mode: 401
	Standby  // a standby metadata service refuses client operations
	DisallowedDatanode
	RecoveryInProgress

	numKinds // not a kind: every kind above is in the table below
)

type kindInfo struct {
	exception string
	javaClass string
	status    int
}

// kinds is the one table from kinds to wire names and HTTP statuses.
// Status mapping as Hadoop's ExceptionHandler: IllegalArgument and
// UnsupportedOperation 400, FileNotFound 404, every other IOException 403,
// anything else 500.
var kinds = map[Kind]kindInfo{
	Internal:                  {"RuntimeException", "java.lang.RuntimeException", http.StatusInternalServerError},
	IllegalArgument:           {"IllegalArgumentException", "java.lang.IllegalArgumentException", http.StatusBadRequest},
	UnsupportedOperation:      {"UnsupportedOperationException", "java.lang.UnsupportedOperationException", http.StatusBadRequest},
	FileNotFound:              {"FileNotFoundException", "java.io.FileNotFoundException", http.StatusNotFound},
	AccessControl:             {"AccessControlException", "org.apache.hadoop.security.AccessControlException", http.StatusForbidden},
	FileAlreadyExists:         {"FileAlreadyExistsException", "org.apache.hadoop.fs.FileAlreadyExistsException", http.StatusForbidden},
	ParentNotDirectory:        {"ParentNotDirectoryException", "org.apache.hadoop.fs.ParentNotDirectoryException", http.StatusForbidden},
	PathIsNotEmptyDirectory:   {"PathIsNotEmptyDirectoryException", "org.apache.hadoop.fs.PathIsNotEmptyDirectoryException", http.StatusForbidden},
	SafeMode:                  {"SafeModeException", "org.apache.hadoop.hdfs.server.namenode.SafeModeException", http.StatusForbidden},
	NSQuotaExceeded:           {"NSQuotaExceededException", "org.apache.hadoop.hdfs.protocol.NSQuotaExceededException", http.StatusForbidden},
	DSQuotaExceeded:           {"DSQuotaExceededException", "org.apache.hadoop.hdfs.protocol.DSQuotaExceededException", http.StatusForbidden},
	AlreadyBeingCreated:       {"AlreadyBeingCreatedException", "org.apache.hadoop.hdfs.protocol.AlreadyBeingCreatedException", http.StatusForbidden},
	InvalidPath:               {"InvalidPathException", "org.apache.hadoop.fs.InvalidPathException", http.StatusBadRequest},
	IO:                        {"IOException", "java.io.IOException", http.StatusForbidden},
	Retriable:                 {"RetriableException", "org.apache.hadoop.ipc.RetriableException", http.StatusForbidden},
	PathComponentTooLong:      {"PathComponentTooLongException", "org.apache.hadoop.hdfs.protocol.FSLimitException$PathComponentTooLongException", http.StatusForbidden},
	MaxDirectoryItemsExceeded: {"MaxDirectoryItemsExceededException", "org.apache.hadoop.hdfs.protocol.FSLimitException$MaxDirectoryItemsExceededException", http.StatusForbidden},
	LeaseExpired:              {"LeaseExpiredException", "org.apache.hadoop.hdfs.server.namenode.LeaseExpiredException", http.StatusForbidden},
	NotReplicatedYet:          {"NotReplicatedYetException", "org.apache.hadoop.hdfs.server.namenode.NotReplicatedYetException", http.StatusForbidden},
	InvalidTopology:           {"InvalidTopologyException", "org.apache.hadoop.net.NetworkTopology$InvalidTopologyException", http.StatusForbidden},
	Unregistered:              {"UnregisteredNodeException", "org.apache.hadoop.hdfs.protocol.UnregisteredNodeException", http.StatusForbidden},
	IncorrectVersion:          {"IncorrectVersionException", "org.apache.hadoop.hdfs.server.common.IncorrectVersionException", http.StatusForbidden},
	PathIsNotDirectory:        {"PathIsNotDirectoryException", "org.apache.hadoop.fs.PathIsNotDirectoryException", http.StatusForbidden},
	Checksum:                  {"ChecksumException", "org.apache.hadoop.fs.ChecksumException", http.StatusForbidden},
	ReplicaNotFound:           {"ReplicaNotFoundException", "org.apache.hadoop.hdfs.server.datanode.ReplicaNotFoundException", http.StatusForbidden},
	ReplicaAlreadyExists:      {"ReplicaAlreadyExistsException", "org.apache.hadoop.hdfs.server.datanode.ReplicaAlreadyExistsException", http.StatusForbidden},
	BlockMissing:              {"BlockMissingException", "org.apache.hadoop.hdfs.BlockMissingException", http.StatusForbidden},
	DiskOutOfSpace:            {"DiskOutOfSpaceException", "org.apache.hadoop.util.DiskChecker$DiskOutOfSpaceException", http.StatusForbidden},
	InvalidToken:              {"InvalidToken", "org.apache.hadoop.security.token.SecretManager$InvalidToken", http.StatusForbidden},
	Security:                  {"SecurityException", "java.lang.SecurityException", http.StatusUnauthorized},
	Standby:                   {"StandbyException", "org.apache.hadoop.ipc.StandbyException", http.StatusForbidden},
	DisallowedDatanode:        {"DisallowedDatanodeException", "org.apache.hadoop.hdfs.server.protocol.DisallowedDatanodeException", http.StatusForbidden},
	RecoveryInProgress:        {"RecoveryInProgressException", "org.apache.hadoop.hdfs.protocol.RecoveryInProgressException", http.StatusForbidden},
}

// Error is a Granary error: a kind, the operation that failed and a message
// for people. Err, when set, is the underlying cause.
type Error struct {
	Kind Kind
	Msg  string
	Err  error
}

func (e *Error) Error() string {
	switch {
	case e.Msg != "" && e.Err != nil:
		return e.Msg + ": " + e.Err.Error()
	case e.Msg != "":
		return e.Msg
	case e.Err != nil:
		return e.Err.Error()
	}
	return kinds[e.Kind].exception
}

func (e *Error) Unwrap() error { return e.Err }

// Is reports whether target is an *Error of the same kind, so that
// errors.Is(err, errs.E(errs.FileNotFound, "")) works.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Kind == e.Kind && t.Msg == "" && t.Err == nil
}

// E builds an error of kind k with a formatted message.
func E(k Kind, format string, args ...any) *Error {
	return &Error{Kind: k, Msg: fmt.Sprintf(format, args...)}
}

// Wrap builds an error of kind k around err.
func Wrap(k Kind, err error, format string, args ...any) *Error {
	return &Error{Kind: k, Msg: fmt.Sprintf(format, args...), Err: err}
}

// KindOf returns the kind of err, Internal when err is not a Granary error.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return Internal
}

// Is reports whether err is a Granary error of kind k.
func Is(err error, k Kind) bool {
	var e *Error
	return errors.As(err, &e) && e.Kind == k
}

// RemoteException is the body of every WebHDFS and native API error.
type RemoteException struct {
	Exception     string `json:"exception" example:"FileNotFoundException"`
	JavaClassName string `json:"javaClassName" example:"java.io.FileNotFoundException"`
	Message       string `json:"message" example:"File does not exist: /foo"`
}

// RemoteExceptionBody wraps RemoteException as WebHDFS sends it.
type RemoteExceptionBody struct {
	RemoteException RemoteException `json:"RemoteException"`
}

// Remote returns the HTTP status and wire body for err.
func Remote(err error) (int, RemoteExceptionBody) {
	info, ok := kinds[KindOf(err)]
	if !ok { // never: TestEveryKindIsMapped
		info = kinds[Internal]
	}
	return info.status, RemoteExceptionBody{RemoteException{
		Exception:     info.exception,
		JavaClassName: info.javaClass,
		Message:       err.Error(),
	}}
}

// Status returns the HTTP status of kind k.
func (k Kind) Status() int { return kinds[k].status }

// Exception returns the short Java exception name of kind k.
func (k Kind) Exception() string { return kinds[k].exception }

// FromRemote rebuilds a typed error from a RemoteException, so a client can
// test errors.Is/errs.Is against kinds. Unknown names become IO errors when
// the status is 403 and Internal errors otherwise.
func FromRemote(status int, r RemoteException) *Error {
	for k, info := range kinds {
		if info.exception == r.Exception {
			return &Error{Kind: k, Msg: r.Message}
		}
	}
	if status == http.StatusForbidden {
		return &Error{Kind: IO, Msg: r.Exception + ": " + r.Message}
	}
	return &Error{Kind: Internal, Msg: r.Exception + ": " + r.Message}
}
