"""Platform adapters: the `Platform` port for YouTube, Facebook, generic RTMP/SRT and file
destinations, the local emulators of both platform APIs, and a real RTMP server for tests.

- `youtube.YouTubePlatform`, `facebook.FacebookPlatform`, `rtmp.RtmpPlatform`, `file.FilePlatform`
  (built together by `factory.make_platforms`; `local.start_local_platforms` for a rehearsal);
- `credentials.CredentialStore` (credentials by name: env `SUMMIT_CRED_<NAME>_<FIELD>` or a secrets
  file), `settings.YouTubeSettings` / `settings.FacebookSettings` (env `SUMMIT_YOUTUBE_*`,
  `SUMMIT_FACEBOOK_*`);
- `doctor.doctor` (`summit doctor`): credentials, scopes, quota, reachability per destination;
- `emulators.youtube` / `emulators.facebook`: the APIs on loopback (`run_youtube_emulator`,
  `run_facebook_emulator` for `summit emulate`);
- `rtmp_server.RtmpServer`: nginx-rtmp on a free loopback port, with who-is-publishing.

Every failure a producer must act on is an `errors.DestinationFailed` naming the destination, the
session and a reason; no token or stream key reaches a log line or an error message.
"""
