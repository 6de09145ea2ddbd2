"""TURN credentials (domain/turn.py) and the coturn configuration meetkit generates (media/turn_config.py).

The known vector was computed apart from meetkit:
``printf 1700000000:alice | openssl dgst -sha1 -hmac north -binary | base64``."""

from __future__ import annotations

import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import ValidationError

from meetkit.config import Settings
from meetkit.domain.turn import TurnCredentials, credential, turn_urls, username
from meetkit.media.turn import TurnSupervisor, turn_credentials
from meetkit.media.turn_config import ALL_PEERS, DENIED_PEERS, TurnConfig, ipv4_of_interface


def test_known_vector() -> None:
    expires = datetime.fromtimestamp(1700000000, UTC)
    assert username("alice", expires) == "1700000000:alice"
    assert credential(b"north", "1700000000:alice") == "Cd/49soE35ICqcJF/bCTn8Z4OyE="


def test_a_set_names_the_participant_and_expires_after_the_ttl() -> None:
    turn = TurnCredentials(urls=turn_urls("turn.example.com", 3478), secret=b"north", ttl=600)
    now = datetime(2026, 1, 1, 12, 0, 0, 500_000, tzinfo=UTC)
    found = turn.issue("p-1", now)
    (server,) = found.servers
    assert found.expires_at == datetime(2026, 1, 1, 12, 10, tzinfo=UTC)
    assert server.username == f"{int(found.expires_at.timestamp())}:p-1"
    assert server.credential == credential(b"north", server.username)
    assert server.urls == ("turn:turn.example.com:3478?transport=udp", "turn:turn.example.com:3478?transport=tcp")
    assert turn.refresh_delay() == 450


def test_urls_with_tls_and_ipv6() -> None:
    assert turn_urls("::1", 3478, 5349) == ("turn:[::1]:3478?transport=udp", "turn:[::1]:3478?transport=tcp",
                                           "turns:[::1]:5349?transport=tcp")


def test_off_unless_configured_and_external_needs_its_secret(tmp_path: Path) -> None:
    assert Settings(data_dir=tmp_path).resolved_turn_mode == "off"
    assert turn_credentials(Settings(data_dir=tmp_path)) is None
    with pytest.raises(ValidationError):
        Settings(data_dir=tmp_path, turn_urls="turn:t.example.com:3478")
    s = Settings(data_dir=tmp_path, turn_urls="turn:t.example.com:3478, turns:t.example.com:5349?transport=tcp",
                 turn_secret="s3cret")
    turn = turn_credentials(s)
    assert s.resolved_turn_mode == "external" and turn is not None
    assert turn.urls == ("turn:t.example.com:3478", "turns:t.example.com:5349?transport=tcp")
    assert turn.secret == b"s3cret"
    with pytest.raises(ValidationError):
        Settings(data_dir=tmp_path, turn_mode="managed", turn_tls_cert=tmp_path / "c.pem")


def test_managed_config_is_private_and_allows_only_janus_as_a_peer(tmp_path: Path) -> None:
    s = Settings(data_dir=tmp_path, turn_mode="managed", public_url="https://meet.example.com",
                 turn_relay_ips="10.0.0.5", media_ice_interface="eth0,10.0.0.5", turn_allowed_peer_ips="10.0.1.9")
    config = TurnConfig(s)
    config.write()
    text = config.main_file.read_text()
    lines = text.splitlines()
    secret = config.secret
    assert len(secret) >= 32 and TurnConfig(s).secret == secret  # generated once
    for path in (config.main_file, config.folder / "static_auth_secret"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(config.folder.stat().st_mode) == 0o700
    assert {"use-auth-secret", f"static-auth-secret={secret}", "realm=meet.example.com", "no-cli", "no-tls",
            "no-multicast-peers", "no-tcp-relay", "relay-ip=10.0.0.5", "listening-port=3478"} <= set(lines)
    assert "allow-loopback-peers" not in lines
    assert lines.count("allowed-peer-ip=10.0.0.5") == 1 and "allowed-peer-ip=10.0.1.9" in lines
    # Janus's address is known: every other peer is denied (allowed-peer-ip lines win in coturn).
    assert [x for x in lines if x.startswith("denied-peer-ip=")] == [f"denied-peer-ip={x}" for x in ALL_PEERS]
    assert {"user-quota=12", "total-quota=1200", "max-bps=500000"} <= set(lines)
    assert f"log-file={config.folder / 'turnserver.log'}" in lines
    assert config.urls() == ("turn:meet.example.com:3478?transport=udp", "turn:meet.example.com:3478?transport=tcp")
    # The secret is in the 0600 file only, never on the command line.
    assert secret not in " ".join(TurnSupervisor(s).process.argv)


def test_tls_when_a_certificate_is_given(tmp_path: Path) -> None:
    s = Settings(data_dir=tmp_path, turn_mode="managed", turn_host="turn.example.com", turn_tls_port=443,
                 turn_tls_cert=tmp_path / "c.pem", turn_tls_key=tmp_path / "k.pem", turn_allow_loopback_peers=True)
    config = TurnConfig(s)
    lines = config.text().splitlines()
    assert "tls-listening-port=443" in lines and f"cert={tmp_path / 'c.pem'}" in lines and "no-tls" not in lines
    assert "allow-loopback-peers" in lines
    assert config.urls()[-1] == "turns:turn.example.com:443?transport=tcp"


def test_without_janus_addresses_private_peers_are_denied(tmp_path: Path) -> None:
    s = Settings(data_dir=tmp_path, turn_mode="managed", public_url="https://meet.example.com",
                 media_ice_interface="no-such-interface0", _env_file=None)  # type: ignore[call-arg]
    lines = TurnConfig(s).text().splitlines()
    assert not [x for x in lines if x.startswith("allowed-peer-ip=")]
    assert [x for x in lines if x.startswith("denied-peer-ip=")] == [f"denied-peer-ip={x}" for x in DENIED_PEERS]


def test_an_interface_name_gives_its_ipv4_addresses() -> None:
    shown = """[{"ifindex": 2, "ifname": "eth0", "addr_info": [
        {"family": "inet", "local": "10.0.0.5", "prefixlen": 24},
        {"family": "inet6", "local": "fe80::1", "prefixlen": 64},
        {"family": "inet", "local": "10.0.0.6", "prefixlen": 24}]},
      {"ifindex": 3, "ifname": "eth1", "addr_info": [{"family": "inet", "local": "192.168.1.2"}]}]"""
    assert ipv4_of_interface(shown, "eth0") == ["10.0.0.5", "10.0.0.6"]
    assert ipv4_of_interface(shown, "wlan0") == [] and ipv4_of_interface("not json", "eth0") == []
