"""Identity of URLs and pages: what stays the same when the same page comes back.

`canonicalize_url` is the one key for an article's URL (clean stage), the feeder's seen store and the raw
message key. It drops only known tracking parameters and the fragment, and keeps every other query
parameter, sorted: `details.aspx?NewsID=555` and `?NewsID=556` are different articles on many news sites.
Written by hand: courlan's strict mode drops every parameter it does not know, and its tracker pattern
also matches identity-carrying names (`uid`, `eid`, `*_source`).

`page_id_for` is the stable id a page gets when it enters the system (ingest, feeder, backfill): the ledger,
reconcile, replay and the raw archive key on it. Broker offsets are provenance only: a restarted local broker
starts them at 0 again.
"""

from __future__ import annotations

import hashlib
import re
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

# Parameter names (lower-cased) that only say how a reader arrived, never which page it is.
TRACKING_PARAMS = frozenset({
    "fbclid", "gclid", "gclsrc", "dclid", "msclkid", "yclid", "twclid", "ttclid", "li_fat_id", "igshid",
    "wbraid", "gbraid", "mc_cid", "mc_eid", "_ga", "_gl", "_hsenc", "_hsmi", "__hssc", "__hstc", "__hsfp",
    "hsctatracking", "mkt_tok", "oly_anon_id", "oly_enc_id", "vero_id", "vero_conv", "rb_clickid", "s_cid",
    "ncid", "ocid", "cmpid", "spm", "scm", "at_medium", "at_campaign", "xtor", "__twitter_impression",
    "ref_src", "ref_url", "amp_js_v", "amp_gsa", "usqp", "outputtype",
})
TRACKING_PREFIXES = ("utm_", "pk_", "mtm_", "matomo_", "hmb_", "ga_", "stm_")
_DEFAULT_PORTS = {"http": 80, "https": 443}
_SAFE_PATH = "/%:@!$&'()*+,;=-._~"


def is_tracking(name: str) -> bool:
    low = name.lower()
    return low in TRACKING_PARAMS or low.startswith(TRACKING_PREFIXES)


def canonicalize_url(url: str | None) -> str | None:
    """Lower-cased scheme and host, no default port, no fragment, tracking parameters dropped, the rest sorted."""
    if not url:
        return None
    url = url.strip()
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:  # an unparsable URL (bad port, bad IPv6): the raw one is still a useful key
        return url
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").rstrip(".")
    if not scheme or not host:
        return url
    try:
        host = host.encode("idna").decode("ascii")
    except UnicodeError:
        pass
    netloc = host if port is None or port == _DEFAULT_PORTS.get(scheme) else f"{host}:{port}"
    if parts.username or parts.password:
        netloc = parts.netloc.rsplit("@", 1)[0] + "@" + netloc
    path = quote(unquote(re.sub(r"/{2,}", "/", parts.path)) or "/", safe=_SAFE_PATH.replace("%", ""))
    query = sorted((k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not is_tracking(k))
    return urlunsplit((scheme, netloc, path, urlencode(query, quote_via=quote, safe="/:@!$'()*,;~"), ""))


def page_id_for(url: str | None, source: str, body: bytes | str) -> str:
    """A page's identity: its canonical URL (its source when it has none) and a digest of its bytes.
    The same page sent again gets the same id (one outcome); a changed page gets a new one."""
    data = body if isinstance(body, bytes) else body.encode("utf-8", "surrogatepass")
    key = canonicalize_url(url) if url else f"source:{source}"
    return hashlib.sha256(f"{key}\n{hashlib.sha256(data).hexdigest()}".encode()).hexdigest()[:32]


def offset_page_id(topic: str, partition: int, offset: int) -> str:
    """The id of a ledger row written before pages had ids (migration 0007), and of a raw message that
    arrived without one and could not be read: its offset, marked as such."""
    return f"offset:{topic}/{partition}/{offset}"
