package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// errHelp: -h asked for a command's usage, which was printed: exit 0.
var errHelp = errors.New("help shown")

// flags is a command's flag set: -h (or --help) prints its usage and flags
// on stdout and exits 0; a mistake is a usage error (exit 2) that shows
// them.
type flags struct {
	*flag.FlagSet
	usage  string
	stdout io.Writer
}

// newFlags makes the flag set of the command name, whose usage line is
// usage ("sesq health [--json] [HOST:PORT]").
func newFlags(name, usage string, stdout io.Writer) *flags {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return &flags{FlagSet: fs, usage: usage, stdout: stdout}
}

// parse parses args, allowing at most maxArgs arguments after the flags.
func (f *flags) parse(args []string, maxArgs int) error {
	err := f.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		fmt.Fprint(f.stdout, f.help())
		return errHelp
	case err != nil:
		return &usageError{fmt.Sprintf("%s: %v\n%s", f.Name(), err, strings.TrimRight(f.help(), "\n"))}
	case f.NArg() > maxArgs:
		return &usageError{fmt.Sprintf("%s: unexpected argument %q\n%s", f.Name(), f.Arg(maxArgs), strings.TrimRight(f.help(), "\n"))}
	}
	return nil
}

func (f *flags) help() string {
	var b strings.Builder
	b.WriteString("usage: " + f.usage + "\n")
	f.SetOutput(&b)
	f.PrintDefaults()
	f.SetOutput(io.Discard)
	return b.String()
}

// printJSON writes v as indented JSON: what --json prints.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// writeJSONLine writes v as one line of JSON (JSON Lines).
func writeJSONLine(w io.Writer, v any) error {
	return json.NewEncoder(w).Encode(v)
}
