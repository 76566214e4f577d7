"""The programme in and out: import frab/pretalx exports, personal invitations, exports for websites.

An adapter: reads and writes files (and fetches an export by URL), knows the core's schedule
model and the join links, nothing of the engine's run. `summit import|invite|export`
(`orchestrator.cli_interchange`) are its commands.
"""
