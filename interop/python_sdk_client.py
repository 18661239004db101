"""Interop check: the official MCP Python SDK's OAuth client against mcp-reference-server.

Nothing in this file implements OAuth. The SDK's own `OAuthClientProvider`
does the whole flow, driven only by the server's answers:

1. the first MCP request goes out without a token and gets 401 with
   `WWW-Authenticate: Bearer resource_metadata="..."`;
2. the SDK fetches the protected resource metadata (RFC 9728) and the
   authorization server metadata (RFC 8414) it names;
3. it registers a client (RFC 7591 dynamic client registration);
4. it builds the authorization URL with PKCE S256, `state` and `resource`
   (RFC 8707) and hands it to `redirect_handler`;
5. the reference server auto-approves, so the handler just GETs that URL
   without following the redirect and keeps the `Location`; the
   `callback_handler` returns its `code`, `state` and `iss` (RFC 9207),
   which the SDK checks;
6. the SDK exchanges the code (with the verifier) for tokens and retries
   the MCP request with the bearer token;
7. then initialize, tools/list and tools/call get_weather over Streamable
   HTTP, on the session the server created.

Usage: python_sdk_client.py MCP_URL   (prints each step; exit 0 on success)
"""

from __future__ import annotations

import asyncio
import sys
from urllib.parse import parse_qs, urlsplit

import httpx2
from mcp import ClientSession
from mcp.client.auth import AuthorizationCodeResult, OAuthClientProvider, TokenStorage
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import OAuthClientInformationFull, OAuthClientMetadata, OAuthToken

# Never contacted: the server puts the code into the Location header and the
# redirect handler reads it from there.
REDIRECT_URI = "http://127.0.0.1:9/callback"


def log(step: str, detail: str = "") -> None:
    print(f"[interop] {step}{': ' + detail if detail else ''}", flush=True)


class MemoryStorage(TokenStorage):
    """Tokens and the registration, in memory for this one run."""

    def __init__(self) -> None:
        self.tokens: OAuthToken | None = None
        self.client_info: OAuthClientInformationFull | None = None

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        log("token", f"{tokens.token_type} access token, expires_in={tokens.expires_in}, "
            f"scope={tokens.scope!r}, refresh token {'issued' if tokens.refresh_token else 'absent'}")
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client_info

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        log("registered", f"client_id={client_info.client_id} "
            f"auth_method={client_info.token_endpoint_auth_method}")
        self.client_info = client_info


class AutoApprove:
    """The user agent's part: open the authorization URL, catch the redirect."""

    def __init__(self) -> None:
        self.location: str | None = None

    async def redirect_handler(self, authorization_url: str) -> None:
        query = parse_qs(urlsplit(authorization_url).query)
        log("authorize", "PKCE method={}, resource={}, scope={}".format(
            query.get("code_challenge_method", ["-"])[0],
            query.get("resource", ["-"])[0],
            query.get("scope", ["-"])[0],
        ))
        # Loopback only, no redirects followed: the 302 is the answer.
        async with httpx2.AsyncClient(follow_redirects=False, timeout=10) as http:
            resp = await http.get(authorization_url)
        if resp.status_code not in (302, 303):
            raise RuntimeError(
                f"authorization endpoint answered {resp.status_code}, expected a redirect: {resp.text}"
            )
        self.location = resp.headers["location"]
        if not self.location.startswith(REDIRECT_URI + "?"):
            raise RuntimeError(f"redirected to {self.location!r}, not to the registered redirect URI")

    async def callback_handler(self) -> AuthorizationCodeResult:
        if self.location is None:
            raise RuntimeError("callback before redirect")
        query = parse_qs(urlsplit(self.location).query)
        if "error" in query:
            raise RuntimeError(f"authorization error: {query}")
        log("callback", f"code received, iss={query.get('iss', [None])[0]}")
        return AuthorizationCodeResult(
            code=query["code"][0],
            state=query.get("state", [None])[0],
            iss=query.get("iss", [None])[0],
        )


async def run(mcp_url: str) -> None:
    user_agent = AutoApprove()
    storage = MemoryStorage()
    oauth = OAuthClientProvider(
        server_url=mcp_url,
        client_metadata=OAuthClientMetadata(
            client_name="mcp python sdk interop",
            redirect_uris=[REDIRECT_URI],
            grant_types=["authorization_code", "refresh_token"],
            response_types=["code"],
            token_endpoint_auth_method="none",
        ),
        storage=storage,
        redirect_handler=user_agent.redirect_handler,
        callback_handler=user_agent.callback_handler,
    )
    # Log every request the SDK makes, to show discovery really happened.
    async def on_request(request: httpx2.Request) -> None:
        log("http", f"{request.method} {request.url.copy_with(query=None)}")

    async def on_response(response: httpx2.Response) -> None:
        if response.status_code in (401, 403):
            log("http", f"  -> {response.status_code} WWW-Authenticate: "
                f"{response.headers.get('www-authenticate')}")
        else:
            log("http", f"  -> {response.status_code}")

    async with httpx2.AsyncClient(
        auth=oauth,
        timeout=httpx2.Timeout(30.0),
        event_hooks={"request": [on_request], "response": [on_response]},
    ) as http:
        async with streamable_http_client(mcp_url, http_client=http) as (read, write):
            async with ClientSession(read, write) as session:
                init = await session.initialize()
                log("initialize", f"protocolVersion={init.protocol_version} "
                    f"server={init.server_info.name} {init.server_info.version}")
                tools = await session.list_tools()
                names = [t.name for t in tools.tools]
                log("tools/list", ", ".join(names))
                if "get_weather" not in names:
                    raise RuntimeError(f"get_weather missing from tools/list: {names}")
                result = await session.call_tool("get_weather", {"city": "Paris"})
                if result.is_error:
                    raise RuntimeError(f"get_weather failed: {result.content}")
                log("tools/call get_weather", f"structuredContent={result.structured_content}")
                if not result.structured_content or result.structured_content.get("city") != "Paris":
                    raise RuntimeError(f"unexpected get_weather result: {result}")
    if storage.tokens is None or storage.client_info is None:
        raise RuntimeError("the flow finished without registration or tokens")
    log("OK", "discovery, DCR, PKCE, token, initialize, tools/list and tools/call all succeeded")


def report(exc: BaseException, depth: int = 0) -> None:
    """Prints a failure with its cause chain; task groups (anyio) wrap the
    real error in an ExceptionGroup, so their members are printed too."""
    pad = "  " * depth
    print(f"[interop] {pad}FAILED: {type(exc).__name__}: {exc}", file=sys.stderr)
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            report(inner, depth + 1)
    cause = exc.__cause__
    if cause is not None and depth < 8:
        report(cause, depth + 1)


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    try:
        asyncio.run(asyncio.wait_for(run(sys.argv[1]), timeout=60))
    except Exception as exc:
        report(exc)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
