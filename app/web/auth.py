"""Who a request acts as (`--auth`), and the sign-in and sign-out pages.

- kubeconfig: everyone acts as the console's own credentials (its kubeconfig's user, or the pod's service
  account), shown as "<name> via kubeconfig".
- token: a user pastes a bearer token (a ServiceAccount's, or an OIDC ID token the cluster accepts) into the
  sign-in page; the console asks the cluster who that is (SelfSubjectReview) and keeps the token only in the
  encrypted session cookie (app.web.sessions). Every call to the cluster is made with that token.
- proxy: an authenticating proxy (oauth2-proxy and the like) sends the user's token with each request, as
  `Authorization: Bearer` or `X-Forwarded-Access-Token`; who it is, is asked once per token and kept a while.

Each user's calls use `Cluster.as_user(token)`: a connection without any credentials of the console's own, so
the cluster's RBAC decides what they may do.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from app import logs
from app.cluster.client import Cluster, Identity
from app.cluster.errors import ClusterError, Forbidden, NotFound, Unauthorized, Unreachable
from app.cluster.resources import SELF_SUBJECT_ACCESS_REVIEW
from app.web import forms, security
from app.web.render import render
from app.web.routing import CheckedRoute
from app.web.sessions import COOKIE, MAX_COOKIE, Sessions, cookie_header

router = APIRouter(route_class=CheckedRoute)
MODES = ("kubeconfig", "token", "proxy")
OPEN_PATHS = ("/signin", "/signout", "/livez", "/healthz", "/readyz", "/metrics")  # no sign-in needed
PROXY_HEADERS = ("Authorization", "X-Forwarded-Access-Token")
PROXY_CACHE = 1024  # tokens whose identity is kept
PROXY_SECONDS = 300.0  # how long an identity the cluster gave for a token is trusted without asking again
OWN_RETRY = 30.0  # seconds between attempts to learn the console's own identity when the cluster did not say
_TOKEN = re.compile(r"^[\x21-\x7e]+$")  # one line of visible ASCII: what bearer tokens are made of
MAX_TOKEN = 16384


@dataclass(frozen=True)
class Principal:
    """The user a request acts as, and the client that acts as them."""

    name: str
    groups: tuple[str, ...]
    via: str  # kubeconfig | token | proxy
    cluster: Cluster
    # When the session the request came with ends (time.time()), if it does not renew; None: it does not end by itself.
    # A live stream is one request that lasts: it ends then, and its reconnect goes on only with a valid session.
    until: float | None = None

    @property
    def key(self) -> str:
        """What live pages share watches, and caches their answers, by: one per user and set of groups (what RBAC
        decides by), so that no one ever sees what another identity's credentials read."""
        if self.via == "kubeconfig":
            # One identity, the console's own credentials, also before the cluster has said its name: the first
            # pages start no watches and caches of their own under a name that is about to change.
            return "kubeconfig"
        groups = hashlib.sha256("\n".join(sorted(self.groups)).encode()).hexdigest()[:16]
        return f"user:{self.name}:{groups}"


class SignInRequired(Exception):
    """Token mode, and no valid session: the sign-in page, with why."""

    def __init__(self, why: str = "") -> None:
        super().__init__(why)
        self.why = why


class ProxyCredentialsMissing(Exception):
    """Proxy mode, and the request came without a token (or with one the cluster refuses)."""

    def __init__(self, why: str) -> None:
        super().__init__(why)
        self.why = why


@dataclass
class OwnIdentity:
    """The console's own identity (kubeconfig mode), asked of the cluster once and again while it is unknown."""

    cluster: Cluster
    known: Identity | None = None
    asked: float = 0.0
    task: asyncio.Task[None] | None = None

    def name(self) -> str:
        if self.known is None and time.monotonic() - self.asked > OWN_RETRY and (self.task is None or self.task.done()):
            self.asked = time.monotonic()
            self.task = asyncio.get_running_loop().create_task(self._ask())
        return self.known.name if self.known else (self.cluster.user or "the console's kubeconfig user")

    async def confirmed(self) -> str:
        """The name, once the cluster has said it (waiting for an answer on its way): what the history and the
        Events record for a change, never the kubeconfig's own name for a user the cluster knows otherwise."""
        self.name()  # asks again when it is time to
        if self.known is None and self.task is not None and not self.task.done():
            await asyncio.shield(self.task)
        return self.name()

    async def _ask(self) -> None:
        try:
            self.known = await self.cluster.whoami()
        except ClusterError:
            pass  # an older cluster, or one that is down: the kubeconfig's user name stands in meanwhile


@dataclass
class ProxyIdentities:
    """Who each token a proxy sent is, as the cluster said, for a few minutes (tokens are kept hashed)."""

    known: OrderedDict[str, tuple[Identity, float]] = field(default_factory=OrderedDict)

    async def identify(self, cluster: Cluster, token: str) -> Identity:
        digest = hashlib.sha256(token.encode()).hexdigest()
        hit = self.known.get(digest)
        if hit is not None and hit[1] > time.monotonic():
            self.known.move_to_end(digest)
            return hit[0]
        identity = await who(cluster.as_user(token))
        self.known[digest] = (identity, time.monotonic() + PROXY_SECONDS)
        while len(self.known) > PROXY_CACHE:
            self.known.popitem(last=False)
        return identity


async def who(cluster: Cluster) -> Identity:
    """Who a user's credentials are (401 Unauthorized when the cluster does not accept them). A cluster that does
    not serve SelfSubjectReview (or not to them) is asked an access review instead, only to check the token; the
    user then goes by a name made from the token, so that no two users ever share one."""
    try:
        return await cluster.whoami()
    except (NotFound, Forbidden):
        pass
    try:
        await cluster.can_i("create", SELF_SUBJECT_ACCESS_REVIEW)
    except Forbidden:
        pass  # authenticated, only not allowed to ask
    return Identity(f"token user {hashlib.sha256(cluster.bearer.encode()).hexdigest()[:8]}")


def proxy_token(request: Request) -> str:
    authorization = request.headers.get("authorization", "")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return request.headers.get("x-forwarded-access-token", "").strip()


def secure(request: Request) -> bool:
    """Whether the browser reached the console over HTTPS (directly, or through a proxy that says so)."""
    return request.url.scheme == "https" or request.headers.get("x-forwarded-proto", "").lower() == "https"


async def principal(request: Request) -> Principal:
    """Who this request acts as (raises SignInRequired or ProxyCredentialsMissing when it cannot act at all)."""
    state = request.app.state
    mode = state.settings.auth
    own: Cluster = state.cluster
    if mode == "kubeconfig":
        # While the console is still asking the cluster who it is (at start, and every OWN_RETRY while the cluster
        # has not said), a request waits for that answer rather than show or log the kubeconfig's own user name.
        return Principal(await state.own_identity.confirmed(), (), "kubeconfig", own)
    if mode == "proxy":
        token = proxy_token(request)
        if not token:
            raise ProxyCredentialsMissing("The request reached the console without a token: it must come through the "
                                          "authenticating proxy, which sends Authorization: Bearer or "
                                          "X-Forwarded-Access-Token.")
        if len(token) > MAX_TOKEN or not _TOKEN.match(token):
            # Not sent on: aiohttp refuses control characters in a header, and no cluster takes such a token.
            raise ProxyCredentialsMissing("The token the proxy sent is not one a cluster takes (one line of visible "
                                          f"ASCII, at most {MAX_TOKEN} characters): check the authenticating "
                                          "proxy's settings, then sign in again through it.")
        try:
            identity = await state.proxy_identities.identify(own, token)
        except Unauthorized:
            raise ProxyCredentialsMissing("The cluster does not accept the token the proxy sent (401 Unauthorized): "
                                          "sign in again through the proxy.") from None
        return Principal(identity.name, identity.groups, "proxy", own.as_user(token, identity.name))
    sessions: Sessions = state.sessions
    cookie = request.cookies.get(COOKIE, "")
    session = sessions.open(cookie)
    if session is None:
        raise SignInRequired("Your session ended or could not be read (it expired or was changed): sign in again."
                             if cookie else "")
    sealed_at = session.sealed_at
    if session.stale:  # renewed on use: the idle period starts again
        request.state.session_cookie = cookie_header(sessions.seal(session.token, session.user, session.groups),
                                                     secure(request))
        sealed_at = time.time()
    return Principal(session.user, session.groups, "token", own.as_user(session.token, session.user),
                     sessions.ends(sealed_at))


async def authenticate(request: Request) -> None:
    """The app-wide dependency: find who the request acts as, for the handlers and the log lines."""
    if request.scope["path"] in OPEN_PATHS:  # request.url.path, without building the whole URL on every request
        return
    found = await principal(request)
    request.state.principal = found
    logs.bind(user=found.name)


def safe_next(target: str) -> str:
    """Where to go after signing in: a path of this console, never another site."""
    if not target.startswith("/") or target.startswith("//") or "\\" in target or len(target) > 2048:
        return "/"
    return target


def sign_in_url(request: Request, why: str = "") -> str:
    """The sign-in page, back here after it; `why` travels with the console's signature, as the page shows only a
    reason the console gave (a link from elsewhere could otherwise put its own words above the token field)."""
    query = {"next": request.url.path + (f"?{request.url.query}" if request.url.query else "")}
    if why:
        query["why"] = why
        query["sig"] = _why_signature(request, why)
    return "/signin?" + urlencode(query, quote_via=quote)


def _why_signature(request: Request, why: str) -> str:
    return security.signature(request.app.state.settings.secret_key, "signin-why", why)


@dataclass
class SignInPage:
    next: str
    message: str = ""  # why the sign-in page is shown, or what went wrong
    signed_out: bool = False


@router.get("/signin")
async def sign_in_form(request: Request, next: str = "/", why: str = "", out: str = "",  # noqa: A002
                       sig: str = "") -> Response:
    if request.app.state.settings.auth != "token":
        return RedirectResponse("/", status_code=303)
    vouched = bool(why) and security.same(sig, _why_signature(request, why))
    return render(request, "signin.html", SignInPage(safe_next(next), why[:300] if vouched else "", out == "1"))


def _token_problem(token: str) -> str:
    if not token:
        return "Paste a token: the output of kubectl create token NAME, or an ID token your cluster accepts."
    if len(token) > MAX_TOKEN:
        return f"This is {len(token)} characters long; a token is at most {MAX_TOKEN}. Paste the token alone."
    if not _TOKEN.match(token):
        return ("A token is one line of letters, digits and punctuation, without spaces: paste the token alone, "
                "without 'Bearer' or quotes.")
    return ""


@router.post("/signin")
async def sign_in(request: Request) -> Response:
    state = request.app.state
    if state.settings.auth != "token":
        return RedirectResponse("/", status_code=303)
    form = await forms.posted(request)
    raw_token, raw_next = form.get("token", ""), form.get("next", "/")
    token = raw_token.strip() if isinstance(raw_token, str) else ""
    page = SignInPage(safe_next(raw_next if isinstance(raw_next, str) else "/"))
    page.message = _token_problem(token)
    if page.message:
        return render(request, "signin.html", page, status=422)
    try:
        identity = await who(state.cluster.as_user(token))
    except Unauthorized:
        page.message = ("The cluster did not accept this token (401 Unauthorized). Check that it was copied whole "
                        "and has not expired, then paste it again.")
        return render(request, "signin.html", page, status=401)
    except Unreachable as error:
        page.message = f"{error.message}. Try again once the cluster answers; paste the token again."
        return render(request, "signin.html", page, status=503)
    except ClusterError as error:
        page.message = f"The cluster could not check this token: {error.message}"
        return render(request, "signin.html", page, status=502)
    sealed = state.sessions.seal(token, identity.name, identity.groups)
    if len(sealed) > MAX_COOKIE:
        page.message = (f"This token is too long to keep in a browser cookie ({len(sealed)} bytes once encrypted, "
                        f"at most {MAX_COOKIE}). Use a shorter token, or run the console with --auth proxy.")
        return render(request, "signin.html", page, status=422)
    response = RedirectResponse(page.next, status_code=303)
    response.headers.append("set-cookie", cookie_header(sealed, secure(request)))
    return response


@router.post("/signout")
async def sign_out(request: Request) -> Response:
    """Forget the session (token mode); in proxy mode, on to the proxy's own sign-out. Either way the live streams
    this browser holds open end here: they were let in before, and would go on sending to a signed-out browser."""
    settings = request.app.state.settings
    request.app.state.live.sign_out(request.cookies.get(security.COOKIE, "")[:64])
    if settings.auth == "proxy" and settings.sign_out_url:
        return RedirectResponse(settings.sign_out_url, status_code=303)
    response = RedirectResponse("/signin?out=1" if settings.auth == "token" else "/", status_code=303)
    response.headers.append("set-cookie", cookie_header("", secure(request), max_age=0))
    return response
