"""A theme's short URL is the first segment of its meeting links, so none may be a path meetkit
itself answers (issue 10, finding 12): every top-level segment of the app's routes, prefixes and
aliases is reserved, whatever the case."""

from __future__ import annotations

import pytest

from meetkit.api.guard import ALIASES
from meetkit.app import API_ROUTERS
from meetkit.domain.links import API_PREFIX
from meetkit.domain.themes import RESERVED_SHORT_COMPANY_URLS, short_company_url_problem
from meetkit.web import pages


def _first_segments() -> set[str]:
    paths = [API_PREFIX, pages.STATIC_PREFIX, *ALIASES]
    paths += [getattr(route, "path", "") for route in pages.router.routes]
    paths += [API_PREFIX + getattr(route, "path", "") for router in API_ROUTERS for route in router.routes]
    segments = {p.strip("/").split("/", 1)[0] for p in paths}
    return {s for s in segments if s and not s.startswith("{")}  # parameters: the meeting pages themselves


def test_every_path_of_meetkits_own_is_reserved() -> None:
    segments = _first_segments()
    assert {"v1", "meetings", "beta", "_meetkit", "embed.js"} <= segments
    assert segments <= RESERVED_SHORT_COMPANY_URLS


@pytest.mark.parametrize("word", sorted(RESERVED_SHORT_COMPANY_URLS))
def test_reserved_in_any_case(word: str) -> None:
    for variant in (word, word.upper(), word.capitalize()):
        problem = short_company_url_problem(variant)
        assert problem is not None


@pytest.mark.parametrize("short", ["acme", "Acme-Corp", "my_meetings", "v1-labs", "~team", "123a"])
def test_ordinary_short_urls_pass(short: str) -> None:
    assert short_company_url_problem(short) is None


@pytest.mark.parametrize("short", ["", "123", "a b", "a/b", "a.b", "é"])
def test_malformed_short_urls_fail(short: str) -> None:
    assert short_company_url_problem(short) is not None
