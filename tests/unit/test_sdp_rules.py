"""What meetkit trims from a browser's SDP and trickled candidates (media/sdp.py)."""

from __future__ import annotations

from meetkit.media.sdp import has_simulcast, keep_candidate, keep_candidates, parse_networks

LOOPBACK = parse_networks("127.0.0.0/8")
HOST = "candidate:1209198260 1 udp 2122194687 127.0.0.1 48808 typ host generation 0 ufrag P2cR"
ELSEWHERE = "candidate:2897351712 1 udp 2122063615 192.0.2.2 51251 typ host generation 0 ufrag P2cR"
MDNS = "candidate:1 1 udp 2122194687 6c1a1f0e-1b2c.local 48808 typ host"


def test_a_trickled_candidate_is_kept_by_the_same_rule_as_the_sdps() -> None:
    assert keep_candidate(HOST, LOOPBACK)
    assert not keep_candidate(ELSEWHERE, LOOPBACK)
    assert not keep_candidate(MDNS, LOOPBACK)
    assert not keep_candidate("candidate:x", LOOPBACK)  # no address at all
    assert keep_candidate(ELSEWHERE, None)  # no networks set: every candidate goes
    sdp = f"v=0\r\na={HOST}\r\na={ELSEWHERE}\r\na=end-of-candidates\r\n"
    assert keep_candidates(sdp, LOOPBACK) == f"v=0\r\na={HOST}\r\na=end-of-candidates\r\n"


def test_simulcast_is_read_from_the_offer() -> None:
    assert has_simulcast("m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=rid:h send\r\na=simulcast:send h;m;l\r\n")
    assert not has_simulcast("m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=sendonly\r\n")
