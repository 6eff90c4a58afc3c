"""The docs checker: every command the docs show is run, and what it prints is compared with what
the docs say it prints (`blocks` reads them, `session` runs them, `compare` judges the output,
`coverage` accounts for the commands in ```sh blocks)."""
