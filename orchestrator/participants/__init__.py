"""Participants: speakers and interpreters joining live by their personal links over WebRTC
(aiortc), served on the dashboard's web server. See `service` (who is connected, booths' duty),
`http` (the routes: join pages, signalling, WHIP) and `book` (links and their revocation)."""
