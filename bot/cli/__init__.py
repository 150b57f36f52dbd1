"""The `paperbot` command line: `main` parses the arguments, each command lives in its own
module (`register(subparsers, common)` adds its parser and sets `func(args, settings)`),
`console` and `views` print to the terminal."""
