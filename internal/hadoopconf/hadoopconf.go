// Package hadoopconf reads Hadoop's configuration files — core-site.xml,
// hdfs-site.xml, any -conf FILE — and -D key=value settings, as Hadoop's
// Configuration does: later resources override earlier ones unless a key
// is final, ${var} expands from other keys and ${env.NAME} from the
// environment, and sizes and durations take Hadoop's suffixes.
package hadoopconf

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Where a value came from (a file's path otherwise).
const (
	SourceDefault     = "default"
	SourceEnv         = "env"
	SourceFlag        = "flag"
	SourceCommandLine = "command line" // -D key=value, as Hadoop names it
)

// Conf is a set of Hadoop configuration keys with their sources.
type Conf struct {
	props map[string]*prop
	// Warn, when set, is told of what Hadoop logs a warning for (a final
	// key a later resource tries to override).
	Warn func(msg string)
}

type prop struct {
	value, source string
	final         bool
}

// New returns an empty configuration.
func New() *Conf { return &Conf{props: map[string]*prop{}} }

// FilesIn returns the site files of a configuration directory that exist,
// in Hadoop's order: core-site.xml, then hdfs-site.xml.
func FilesIn(dir string) []string {
	var out []string
	for _, name := range []string{"core-site.xml", "hdfs-site.xml"} {
		p := filepath.Join(dir, name)
		if _, err := os.Stat(p); err == nil {
			out = append(out, p)
		}
	}
	return out
}

// AddFile reads a configuration file in Hadoop's format.
func (c *Conf) AddFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return c.AddXML(f, path)
}

// AddXML reads a configuration in Hadoop's format from r; name (a file's
// path) is the values' source and prefixes errors with their line:
// <configuration><property><name>…</name><value>…</value><final>true</final></property>…
// A key declared twice in one resource while final is an error; a later
// resource cannot change a final key (Hadoop ignores it, with a warning).
func (c *Conf) AddXML(r io.Reader, name string) error {
	d := xml.NewDecoder(r)
	type seen struct {
		line  int
		final bool
	}
	declared := map[string]seen{}
	var (
		path        []string // open elements
		cur         map[string]string
		curLine     int
		text        strings.Builder
		rootSeen    bool
		rootElement string
	)
	fail := func(line int, format string, args ...any) error {
		return fmt.Errorf("%s:%d: %s", name, line, fmt.Sprintf(format, args...))
	}
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		line, _ := d.InputPos()
		if err != nil {
			var se *xml.SyntaxError
			if errors.As(err, &se) {
				return fmt.Errorf("%s:%d: malformed XML: %s", name, se.Line, se.Msg)
			}
			return fmt.Errorf("%s:%d: %v", name, line, err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if len(path) == 0 {
				if rootSeen {
					return fail(line, "a second root element <%s>", t.Name.Local)
				}
				rootSeen, rootElement = true, t.Name.Local
				if rootElement != "configuration" {
					return fail(line, "the root element is <%s>, not <configuration>", rootElement)
				}
			}
			path = append(path, t.Name.Local)
			text.Reset()
			if len(path) == 2 && t.Name.Local == "property" {
				cur, curLine = map[string]string{}, line
			}
		case xml.CharData:
			text.Write(t)
		case xml.EndElement:
			if len(path) == 3 && path[1] == "property" && cur != nil {
				cur[path[2]] = strings.TrimSpace(text.String())
			}
			if len(path) == 2 && path[1] == "property" && cur != nil {
				key, ok := cur["name"]
				if !ok || key == "" {
					return fail(curLine, "a property without a <name>")
				}
				final := cur["final"] == "true"
				if prev, dup := declared[key]; dup && (prev.final || final) {
					return fail(curLine, "%s is declared again (first at line %d) and is final", key, prev.line)
				}
				declared[key] = seen{curLine, final}
				c.load(key, cur["value"], name, final)
				cur = nil
			}
			path = path[:len(path)-1]
			text.Reset()
		}
	}
	if !rootSeen {
		return fmt.Errorf("%s: no <configuration> element", name)
	}
	return nil
}

// load sets key from a resource, unless an earlier resource made it final.
func (c *Conf) load(key, value, source string, final bool) {
	if p := c.props[key]; p != nil && p.final {
		if p.value != value && c.Warn != nil {
			c.Warn(fmt.Sprintf("%s:an attempt to override final parameter: %s;  Ignoring.", source, key))
		}
		return
	}
	c.props[key] = &prop{value: value, source: source, final: final}
}

// Set sets key from source, as Hadoop's Configuration.set (-D does): it
// overrides even a final value.
func (c *Conf) Set(key, value, source string) {
	c.props[key] = &prop{value: value, source: source}
}

// Has reports whether key is set.
func (c *Conf) Has(key string) bool { return c.props[key] != nil }

// Source returns where key's value came from ("" when unset).
func (c *Conf) Source(key string) string {
	if p := c.props[key]; p != nil {
		return p.source
	}
	return ""
}

// Keys returns the keys set, sorted.
func (c *Conf) Keys() []string {
	out := make([]string, 0, len(c.props))
	for k := range c.props {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

var varPattern = regexp.MustCompile(`\$\{[^${}]+\}`)

// maxSubst is Hadoop's MAX_SUBST: how many expansions one value may take.
const maxSubst = 20

// Get returns key's value with ${var} expanded, as Hadoop's get: ${env.NAME}
// (${env.NAME:-default}, ${env.NAME-default}) from the environment, any
// other ${key} from this configuration; what cannot be expanded stays.
func (c *Conf) Get(key string) (string, bool, error) {
	p := c.props[key]
	if p == nil {
		return "", false, nil
	}
	v, err := c.expand(p.value)
	if err != nil {
		return "", true, fmt.Errorf("%s: %w", key, err)
	}
	return v, true, nil
}

// Value returns key's expanded value, or "" when it is unset or cannot be
// expanded.
func (c *Conf) Value(key string) string {
	v, _, err := c.Get(key)
	if err != nil {
		return ""
	}
	return v
}

func (c *Conf) expand(v string) (string, error) {
	for i := 0; i < maxSubst; i++ {
		changed := false
		v = varPattern.ReplaceAllStringFunc(v, func(m string) string {
			name := m[2 : len(m)-1]
			if env, ok := strings.CutPrefix(name, "env."); ok {
				def, hasDef := "", false
				if n, d, ok := strings.Cut(env, ":-"); ok {
					env, def, hasDef = n, d, true
				} else if n, d, ok := strings.Cut(env, "-"); ok {
					env, def, hasDef = n, d, true
				}
				if val, ok := os.LookupEnv(env); ok && (val != "" || !hasDef) {
					changed = true
					return val
				}
				if hasDef {
					changed = true
					return def
				}
				return m
			}
			if p := c.props[name]; p != nil {
				changed = true
				return p.value
			}
			return m
		})
		if !changed {
			return v, nil
		}
	}
	if varPattern.MatchString(v) {
		return "", fmt.Errorf("Variable substitution depth too large: %d %s", maxSubst, v)
	}
	return v, nil
}

// Bytes returns key as a size (Hadoop's getLongBytes: a number with an
// optional k, m, g, t, p or e suffix, binary).
func (c *Conf) Bytes(key string) (int64, bool, error) {
	v, ok, err := c.Get(key)
	if !ok || err != nil {
		return 0, ok, err
	}
	n, err := ParseBytes(v)
	if err != nil {
		return 0, true, fmt.Errorf("%s: %w", key, err)
	}
	return n, true, nil
}

// ParseBytes reads a size as Hadoop's TraditionalBinaryPrefix.string2long:
// "134217728", "128m", "1g", "512K".
func ParseBytes(s string) (int64, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, fmt.Errorf("an empty size")
	}
	mult := int64(1)
	if i := strings.IndexByte("kmgtpe", lower(s[len(s)-1])); i >= 0 {
		mult = 1 << (10 * (i + 1))
		s = s[:len(s)-1]
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not a size: a number with an optional k, m, g, t, p or e suffix", s)
	}
	if n != 0 && (n*mult)/mult != n {
		return 0, fmt.Errorf("%q overflows", s)
	}
	return n * mult, nil
}

func lower(b byte) byte {
	if b >= 'A' && b <= 'Z' {
		return b + 'a' - 'A'
	}
	return b
}

// Duration returns key as a duration (Hadoop's getTimeDuration: a number
// with an ns, us, ms, s, m, h or d suffix, or a plain number in unit, the
// key's own unit).
func (c *Conf) Duration(key string, unit time.Duration) (time.Duration, bool, error) {
	v, ok, err := c.Get(key)
	if !ok || err != nil {
		return 0, ok, err
	}
	d, err := ParseDuration(v, unit)
	if err != nil {
		return 0, true, fmt.Errorf("%s: %w", key, err)
	}
	return d, true, nil
}

var durationUnits = []struct {
	suffix string
	unit   time.Duration
}{{"ns", time.Nanosecond}, {"us", time.Microsecond}, {"ms", time.Millisecond}, {"s", time.Second}, {"m", time.Minute}, {"h", time.Hour}, {"d", 24 * time.Hour}}

// ParseDuration reads a duration as Hadoop's getTimeDuration does.
func ParseDuration(s string, unit time.Duration) (time.Duration, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	for _, u := range durationUnits {
		if n, ok := strings.CutSuffix(s, u.suffix); ok {
			if v, err := strconv.ParseInt(strings.TrimSpace(n), 10, 64); err == nil {
				return time.Duration(v) * u.unit, nil
			}
		}
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration: a number (in %v) or one with an ns, us, ms, s, m, h or d suffix", s, unit)
	}
	return time.Duration(v) * unit, nil
}

// Map returns every key with its expanded value (a value that cannot be
// expanded is left as written).
func (c *Conf) Map() map[string]string {
	out := make(map[string]string, len(c.props))
	for k, p := range c.props {
		v, err := c.expand(p.value)
		if err != nil {
			v = p.value
		}
		out[k] = v
	}
	return out
}
