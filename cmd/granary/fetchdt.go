package main

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strings"

	"github.com/granary-fs/granary/internal/client"
	"github.com/granary-fs/granary/internal/hadooptoken"
)

const fetchdtUsage = `fetchdt retrieves delegation tokens from the NameNode

fetchdt <opts> <token file>
Options:
  --webservice <url>  Url to contact NN on (starts with http:// or https://)
  --renewer <name>    Name of the delegation token renewer
  --cancel            Cancel the delegation token
  --renew             Renew the delegation token.  Delegation token must have been fetched using the --renewer <name> option.
  --print [--verbose] Print the delegation token, when --verbose is passed, print more information about the token

Generic options: -conf FILE, -D key=value, -fs URL (as granary fs)
`

// fetchdtCmd is `granary fetchdt`, HDFS's `hdfs fetchdt`: it fetches a
// delegation token from the metadata service (authenticated with
// GRANARY_TOKEN) into a token storage file, which HADOOP_TOKEN_FILE_LOCATION
// then hands to granary fs and Hadoop's own clients; --print, --renew and
// --cancel act on the tokens of such a file.
func fetchdtCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	hc, args, err := clientConf(args, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "%v\n", err)
		return 2
	}
	fs := flag.NewFlagSet("fetchdt", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	webservice := fs.String("webservice", "", "")
	renewer := fs.String("renewer", "", "")
	cancel := fs.Bool("cancel", false, "")
	renew := fs.Bool("renew", false, "")
	printTokens := fs.Bool("print", false, "")
	verbose := fs.Bool("verbose", false, "")
	help := fs.Bool("help", false, "")
	fs.BoolVar(help, "h", false, "")
	usage := func(msg string) int {
		if msg != "" {
			fmt.Fprintln(stderr, msg)
		}
		fmt.Fprint(stderr, fetchdtUsage)
		return 1
	}
	if err := fs.Parse(args); err != nil {
		return usage("ERROR: " + err.Error())
	}
	if *help {
		fmt.Fprint(stdout, fetchdtUsage)
		return 0
	}
	if n := btoi(*cancel) + btoi(*renew) + btoi(*printTokens); n > 1 {
		return usage("ERROR: Only specify cancel, renew or print.")
	}
	if fs.NArg() != 1 || strings.HasPrefix(fs.Arg(0), "-") {
		return usage("ERROR: Must specify exactly one token file")
	}
	file := fs.Arg(0)
	switch {
	case *printTokens:
		creds, err := readTokenFile(file)
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		for _, t := range creds.Tokens {
			id, err := hadooptoken.UnmarshalDelegation(t.Token.Identifier)
			if err != nil {
				fmt.Fprintf(stderr, "%s: the %s token for %s: %v\n", file, t.Token.Kind, t.Token.Service, err)
				return 1
			}
			s := id.StringStable()
			if *verbose {
				s = id.Verbose()
			}
			fmt.Fprintf(stdout, "Token (%s) for %s\n", s, t.Token.Service)
		}
		return 0
	case *cancel, *renew:
		creds, err := readTokenFile(file)
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		for _, t := range creds.Tokens {
			base, ok := tokenServiceURL(t.Token)
			if !ok {
				continue // not a delegation token a metadata service manages
			}
			c, err := cliClient(base, hc.Value("user.name"))
			if err != nil {
				fmt.Fprintln(stderr, err)
				return 1
			}
			if *cancel {
				err = c.CancelDelegationToken(ctx, t.Token.Encode())
			} else {
				_, err = c.RenewDelegationToken(ctx, t.Token.Encode())
			}
			if err != nil {
				fmt.Fprintf(stderr, "fetchdt: %s: %v\n", t.Token.Service, err)
				return 1
			}
		}
		return 0
	}
	// Fetching: from --webservice, else the file system's metadata service.
	base := *webservice
	if base == "" {
		fsURI := cmp.Or(hc.Value("fs.defaultFS"), env("GRANARY_METADATA_URL", "http://localhost:9870"))
		bases, _, err := metadataBases(fsURI, hc.Map())
		if err != nil {
			fmt.Fprintf(stderr, "-fs %v\n", err)
			return 2
		}
		base = strings.Join(bases, ",")
	} else if !strings.HasPrefix(base, "http://") && !strings.HasPrefix(base, "https://") {
		return usage("ERROR: --webservice must start with http:// or https://")
	}
	c, err := cliClient(base, hc.Value("user.name"))
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	encoded, err := c.GetDelegationToken(ctx, *renewer)
	if err != nil {
		fmt.Fprintf(stderr, "fetchdt: %v\n", err)
		return 1
	}
	if encoded == "" {
		// Simple authentication issues no token; HDFS says so and stops.
		fmt.Fprintf(stderr, "ERROR: Failed to fetch token from %s\n", fsURIOf(base))
		return 0
	}
	tok, err := hadooptoken.Decode(encoded)
	if err != nil {
		fmt.Fprintf(stderr, "fetchdt: the token answered: %v\n", err)
		return 1
	}
	// As WebHdfsFileSystem: the kind of the scheme and the service the
	// client reached, by IP address (hadoop.security.token.service.use_ip).
	first := strings.Split(base, ",")[0]
	tok.Kind = hadooptoken.KindWebHDFS
	if strings.HasPrefix(first, "https://") {
		tok.Kind = hadooptoken.KindSWebHDFS
	}
	tok.Service = tokenService(first)
	creds := hadooptoken.Credentials{Tokens: []hadooptoken.AliasedToken{{Alias: tok.Service, Token: tok}}}
	// hdfs fetchdt writes the Writable form ("preserve legacy
	// functionality"), which every Hadoop version reads.
	if err := os.WriteFile(file, creds.MarshalStorage(hadooptoken.StorageWritable), 0o600); err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	return 0
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// cliClient is a client of the metadata service at base with the
// environment's bearer token and trust (withBearer).
func cliClient(base, user string) (*client.Client, error) {
	c := client.New(base, cmp.Or(user, currentUser()))
	return c, withBearer(c)
}

// readTokenFile reads a token storage file (either format).
func readTokenFile(file string) (hadooptoken.Credentials, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return hadooptoken.Credentials{}, err
	}
	creds, err := hadooptoken.UnmarshalStorage(b)
	if err != nil {
		return hadooptoken.Credentials{}, fmt.Errorf("Exception reading %s: %w", file, err)
	}
	return creds, nil
}

// tokenService is the service of a token for the metadata service at base:
// its IP address and port, as Hadoop's SecurityUtil.buildTokenService.
func tokenService(base string) string {
	u, err := url.Parse(base)
	if err != nil {
		return base
	}
	host, port := u.Hostname(), u.Port()
	if port == "" {
		port = map[bool]string{true: "9871", false: "9870"}[u.Scheme == "https"]
	}
	if net.ParseIP(host) == nil {
		if ips, err := net.LookupIP(host); err == nil && len(ips) > 0 {
			host = ips[0].String()
			for _, ip := range ips {
				if ip.To4() != nil {
					host = ip.String()
					break
				}
			}
		}
	}
	return net.JoinHostPort(host, port)
}

// tokenServiceURL is the metadata service a delegation token was issued
// for (its kind gives the scheme), or false for another kind of token.
func tokenServiceURL(t hadooptoken.Token) (string, bool) {
	if strings.HasPrefix(t.Service, "ha-") {
		return "", false // a logical nameservice: no address to reach
	}
	switch {
	case !hadooptoken.IsDelegation(t.Kind) || t.Service == "":
		return "", false
	case t.Kind == hadooptoken.KindSWebHDFS:
		return "https://" + t.Service, true
	}
	return "http://" + t.Service, true
}

// fsURIOf is how HDFS names the file system of a metadata URL in messages
// (webhdfs://host:port).
func fsURIOf(base string) string {
	first := strings.Split(base, ",")[0]
	if rest, ok := strings.CutPrefix(first, "https://"); ok {
		return "swebhdfs://" + rest
	}
	return "webhdfs://" + strings.TrimPrefix(first, "http://")
}

// delegationFromFile is the token of a token storage file
// (HADOOP_TOKEN_FILE_LOCATION) for the metadata services at bases (or
// the HA nameservice logical), as Hadoop's client selects one: a
// delegation token whose service is one of theirs. "" when none is.
func delegationFromFile(file string, bases []string, logical string) (string, error) {
	creds, err := readTokenFile(file)
	if err != nil {
		return "", err
	}
	want := map[string]bool{}
	for _, b := range bases {
		want[tokenService(b)] = true
		if u, err := url.Parse(b); err == nil {
			want[u.Host] = true
		}
	}
	if logical != "" {
		for _, p := range []string{"ha-hdfs:", "ha-webhdfs:", "ha-swebhdfs:"} {
			want[p+logical] = true
		}
	}
	for _, t := range creds.Tokens {
		if hadooptoken.IsDelegation(t.Token.Kind) && want[t.Token.Service] {
			return t.Token.Encode(), nil
		}
	}
	return "", nil
}
