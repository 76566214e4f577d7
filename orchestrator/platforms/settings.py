"""Settings of the platform adapters (pydantic-settings; construct explicitly in tests).

Environment: `SUMMIT_YOUTUBE_<FIELD>` and `SUMMIT_FACEBOOK_<FIELD>`, e.g. `SUMMIT_YOUTUBE_API_BASE`
and `SUMMIT_YOUTUBE_TOKEN_URL` to point the YouTube adapter at the emulator, or
`SUMMIT_FACEBOOK_GRAPH_BASE`. Durations are seconds of wall time.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from orchestrator.platforms.retry import Backoff
from orchestrator.platforms.youtube_quota import DEFAULT_DAILY_QUOTA


class _HttpSettings(BaseSettings):
    request_timeout_s: float = Field(default=20.0, gt=0)
    retries: int = Field(default=4, ge=0, description="retries after a 429/5xx/connection error")
    backoff_initial_s: float = Field(default=1.0, ge=0)
    backoff_max_s: float = Field(default=30.0, ge=0)

    @property
    def backoff(self) -> Backoff:
        return Backoff(self.backoff_initial_s, self.backoff_max_s, self.retries)


class YouTubeSettings(_HttpSettings):
    model_config = SettingsConfigDict(env_prefix="SUMMIT_YOUTUBE_", extra="ignore")

    api_base: str = Field(default="https://youtube.googleapis.com", description="root URL; paths add /youtube/v3/…")
    token_url: str = "https://oauth2.googleapis.com/token"
    daily_quota: int = Field(default=DEFAULT_DAILY_QUOTA, gt=0, description="units per day of the Google Cloud project")
    quota_warning_at: float = Field(default=0.8, gt=0, le=1, description="warn once this share of the quota is spent")
    stream_per_session: bool = Field(
        default=False, description="a new stream (key) per session instead of one per destination"
    )
    resolution: Literal["240p", "360p", "480p", "720p", "1080p", "1440p", "2160p", "variable"] = "720p"
    frame_rate: Literal["30fps", "60fps", "variable"] = "30fps"
    monitor_stream: bool = Field(default=False, description="enable the monitor stream: go live through 'testing'")
    poll_interval_s: float = Field(default=5.0, gt=0)
    stream_active_timeout_s: float = Field(default=120.0, gt=0, description="wait this long for media before giving up")
    healthy_timeout_s: float = Field(
        default=15.0, ge=0, description="then this long for health good/ok before going live anyway"
    )
    transition_timeout_s: float = Field(default=60.0, gt=0)
    token_refresh_margin_s: float = Field(
        default=300.0, ge=0, description="refresh an access token this long before it expires"
    )
    health_cache_s: float = Field(default=10.0, ge=0, description="reuse a health reading this long (each costs quota)")


class FacebookSettings(_HttpSettings):
    model_config = SettingsConfigDict(env_prefix="SUMMIT_FACEBOOK_", extra="ignore")

    graph_base: str = "https://graph.facebook.com"
    api_version: str = Field(default="v26.0", pattern=r"^v\d+\.\d+$")
    enable_backup_ingest: bool = True
    schedule: bool = Field(
        default=True, description="create scheduled (announced) live videos when the start is 10 min–7 days ahead"
    )
    poll_interval_s: float = Field(default=2.0, gt=0)
    media_timeout_s: float = Field(default=120.0, gt=0, description="wait this long for media before going live")
    live_timeout_s: float = Field(default=60.0, gt=0, description="wait this long for LIVE after asking for it")
    max_live_hours: float = Field(default=8.0, gt=0, description="Facebook ends a broadcast after 8 hours")
    url_expiry_margin_s: float = Field(
        default=3600.0, ge=0, description="replace an unused stream URL this long before its 24 h expiry"
    )
