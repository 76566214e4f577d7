"""The small SDP edits: which sections want media back, loopback-only candidates, the start bitrate
hint on each video codec of an answer."""

from __future__ import annotations

from orchestrator.participants.service import _loopback_candidates_only, _start_bitrate, _wants_receive

OFFER = (
    "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=sendrecv\r\n"
    "a=candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host\r\n"
    "a=candidate:2 1 udp 2122260223 192.0.2.2 50001 typ host\r\n"
    "m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=sendonly\r\na=rtpmap:96 VP8/90000\r\n"
)


def test_wants_receive_reads_each_sections_direction() -> None:
    assert _wants_receive(OFFER, "audio") is True
    assert _wants_receive(OFFER, "video") is False
    assert _wants_receive("v=0\r\n", "video") is False


def test_only_loopback_candidates_are_kept() -> None:
    out = _loopback_candidates_only(OFFER)
    assert "127.0.0.1 50000" in out and "192.0.2.2" not in out and "a=rtpmap:96 VP8/90000" in out


def test_start_bitrate_goes_on_video_codecs_only() -> None:
    answer = (
        "v=0\r\nm=audio 9 X 111\r\na=rtpmap:111 opus/48000/2\r\na=fmtp:111 minptime=10\r\n"
        "m=video 9 X 96 97 98\r\na=rtpmap:96 VP8/90000\r\na=rtpmap:97 rtx/90000\r\na=fmtp:97 apt=96\r\n"
        "a=rtpmap:98 H264/90000\r\na=fmtp:98 packetization-mode=1\r\n"
    )
    out = _start_bitrate(answer).split("\r\n")
    assert "a=fmtp:96 x-google-start-bitrate=1500" in out
    assert "a=fmtp:98 packetization-mode=1;x-google-start-bitrate=1500" in out
    assert "a=fmtp:111 minptime=10" in out and "a=fmtp:97 apt=96" in out
