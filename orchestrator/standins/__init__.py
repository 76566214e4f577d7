"""Stand-ins for the outside world, for rehearsals and tests only: the YouTube and Facebook API
emulators, the local nginx-rtmp launcher, the local platforms that start them together, the
rehearsal's outputs strategy that reads their recordings back, and the demo media.

The real system never imports this package (an import-linter contract says so); only the
rehearsal, the CLI's `emulate` and `rehearse`, the tests and the benchmarks do.
"""
