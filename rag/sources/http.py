"""HTTP for URL sources: GET with retries on 429, 5xx, timeouts and connection errors,
honouring Retry-After."""

from __future__ import annotations

import email.utils
import http.client
import time
import urllib.error
import urllib.request
from datetime import datetime, timezone
from functools import partial

USER_AGENT = "paperbot"


class FetchError(Exception):
    """A URL could not be fetched (after any retries)."""


_RETRY_STATUSES = frozenset({429}) | frozenset(range(500, 600))


def _retry_after_seconds(value: str | None) -> float | None:
    """Retry-After as seconds: either a number of seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())


def fetch_url(url: str, timeout_s: float = 30, retries: int = 4, backoff_s: float = 1.0, max_wait_s: float = 60) -> bytes:
    """GET `url` and return the body.

    Retries (up to `retries` times after the first try) on 429, 5xx, timeouts and
    connection errors, waiting `backoff_s * 2**attempt` or the server's Retry-After,
    never more than `max_wait_s`. Any other HTTP error fails at once: asking again
    will not turn a 404 into a 200. Raises FetchError naming the URL and the cause.
    """
    # urllib would also open file:// and ftp:// URLs; a "URL" source must be web only.
    if not is_url(url):
        raise FetchError(f"cannot fetch {url}: only http:// and https:// URLs are supported")
    try:
        request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    except ValueError as exc:
        raise FetchError(f"cannot fetch {url}: invalid URL ({exc})") from exc
    attempt = 0
    while True:
        retry_after: float | None = None
        cause: Exception
        try:
            with urllib.request.urlopen(request, timeout=timeout_s) as response:
                return response.read()
        except urllib.error.HTTPError as exc:
            exc.close()  # release the connection; the error body is not needed
            problem = f"HTTP {exc.code} {exc.reason}".rstrip()
            if exc.code not in _RETRY_STATUSES:
                raise FetchError(f"cannot fetch {url}: {problem}") from exc
            retry_after = _retry_after_seconds(exc.headers.get("Retry-After") if exc.headers else None)
            cause = exc
        except urllib.error.URLError as exc:  # connection refused, DNS failure, timeout while connecting
            reason = exc.reason
            problem = f"{type(reason).__name__}: {reason}" if isinstance(reason, Exception) else str(reason)
            if not isinstance(reason, OSError):  # "no host given", a bad port: retrying cannot help
                raise FetchError(f"cannot fetch {url}: {problem}") from exc
            cause = exc
        except (ValueError, http.client.InvalidURL) as exc:  # e.g. a non-numeric port: retrying cannot help
            raise FetchError(f"cannot fetch {url}: invalid URL ({exc})") from exc
        except (TimeoutError, ConnectionError, http.client.HTTPException, OSError) as exc:  # timeout / reset while reading
            problem = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            cause = exc
        if attempt >= retries:
            tries = f" after {attempt + 1} attempts" if attempt else ""
            raise FetchError(f"cannot fetch {url}: {problem}{tries}") from cause
        wait = retry_after if retry_after is not None else backoff_s * 2**attempt
        time.sleep(min(max(wait, 0.0), max_wait_s))
        attempt += 1


# Interactive and scheduled fetches should fail in seconds, not after fetch_url's
# default minute of retries, when there is no network.
quick_fetch = partial(fetch_url, timeout_s=20, retries=1, backoff_s=1.0)


def is_url(location: str) -> bool:
    return location.lower().startswith(("http://", "https://"))
