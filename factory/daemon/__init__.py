"""The process: start, loop and signals, HTTP server, dispatch, runner, recovery, wiring."""
