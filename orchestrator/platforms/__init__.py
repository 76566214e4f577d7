"""Platform adapters: the `Platform` port for YouTube, Facebook, generic RTMP/SRT and file
destinations.

- `youtube.YouTubePlatform`, `facebook.FacebookPlatform`, `rtmp.RtmpPlatform`, `file.FilePlatform`
  (built together by `factory.make_platforms`);
- `credentials.CredentialStore` (credentials by name: env `SUMMIT_CRED_<NAME>_<FIELD>` or a secrets
  file), `settings.YouTubeSettings` / `settings.FacebookSettings` (env `SUMMIT_YOUTUBE_*`,
  `SUMMIT_FACEBOOK_*`);
- `doctor.doctor` (`summit doctor`): credentials, scopes, quota, reachability per destination.

Their stand-ins (the emulators of both APIs, nginx-rtmp, the local platforms of a rehearsal) live
in `orchestrator.standins`, which nothing here imports.

Every failure a producer must act on is an `errors.DestinationFailed` naming the destination, the
session and a reason; no token or stream key reaches a log line or an error message.
"""
