"""REST API of the community application (FastAPI router mounted under ``/api``).

Handlers are thin: FastAPI checks the request against :mod:`community.inputs` (ids, cursors,
page sizes) and :mod:`community.schemas` (bodies), the bearer token is authenticated, and the
shared :class:`~community.services.Services` are called; their :mod:`community.records` are
the response bodies. Service errors become HTTP errors in :func:`install_error_handlers`, with a
``{"detail": ..., "code": ...}`` body.
"""

from __future__ import annotations

import json
from typing import Annotated, TypeVar

from fastapi import APIRouter, Depends, FastAPI, Query, Request, Response, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from community import inputs
from community.errors import (
    AuthenticationFailed,
    CommunityError,
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    TokenExpired,
)
from community.records import (
    ChannelView,
    CommunityRecord,
    HistoryPage,
    MemberRecord,
    MessageRecord,
    UserRecord,
)
from community.schemas import (
    ChannelCreate,
    CommunityCreate,
    CommunityUpdate,
    ErrorOut,
    HealthOut,
    LogIn,
    MessageCreate,
    MessageEdit,
    SignUp,
    TokenOut,
)
from community.services import Services

__all__ = ["app_state", "get_services", "install_error_handlers", "router"]

_T = TypeVar("_T")

_STATUS: dict[type[CommunityError], int] = {
    InvalidInput: 422,  # a literal: the constant's name changed across Starlette versions
    AuthenticationFailed: status.HTTP_401_UNAUTHORIZED,
    NotFound: status.HTTP_404_NOT_FOUND,
    Forbidden: status.HTTP_403_FORBIDDEN,
    Conflict: status.HTTP_409_CONFLICT,
}

_ERRORS: dict[int | str, dict[str, object]] = {
    code: {"model": ErrorOut} for code in (401, 403, 404, 409)
}


def app_state(app: FastAPI, name: str, kind: type[_T]) -> _T:
    """Return what :func:`community.app.create_app` keeps in ``app.state.community_<name>``.

    Args:
        app: The FastAPI app.
        name: What is kept: ``services``, ``settings`` or ``engine``.
        kind: Its type.

    Returns:
        The value.

    Raises:
        RuntimeError: The app holds no such value (it was not made by ``create_app``).
    """
    value = getattr(app.state, f"community_{name}", None)
    if not isinstance(value, kind):
        raise RuntimeError(f"this app has no community {name}; build it with create_app()")
    return value


def get_services(app: FastAPI) -> Services:
    """Return the services of an app made by :func:`community.app.create_app`.

    Args:
        app: The FastAPI app.

    Returns:
        Its services (the ones the socket gateway should call and subscribe to).

    Raises:
        RuntimeError: The app was not made by ``create_app``.
    """
    return app_state(app, "services", Services)


def _services(request: Request) -> Services:
    return get_services(request.app)


_bearer = HTTPBearer(auto_error=False, description="Access token from /api/auth/login")

AppServices = Annotated[Services, Depends(_services)]


async def _current_user(
    services: AppServices,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> UserRecord:
    if credentials is None:
        raise AuthenticationFailed("missing bearer token")
    return await services.accounts.authenticate(credentials.credentials)


CurrentUser = Annotated[UserRecord, Depends(_current_user)]
Id = inputs.Id
Limit = Annotated[
    inputs.PageSize | None,
    Query(description="Page size; the maximum is a server setting (Limits)"),
]


router = APIRouter(responses=_ERRORS)


def _token_out(services: Services, user: UserRecord) -> TokenOut:
    token = services.accounts.issue_token(user.id)
    return TokenOut(access_token=token.token, expires_at=token.expires_at, user=user)


@router.get("/health", tags=["meta"])
async def health() -> HealthOut:
    """Liveness check (no authentication, no database)."""
    return HealthOut(status="ok")


# ---------------------------------------------------------------------- auth


@router.post("/auth/signup", status_code=status.HTTP_201_CREATED, tags=["auth"])
async def sign_up(form: SignUp, services: AppServices) -> TokenOut:
    """Create an account and return an access token for it."""
    user = await services.accounts.sign_up(form.username, form.password, form.display_name)
    return _token_out(services, user)


@router.post("/auth/login", tags=["auth"])
async def log_in(form: LogIn, services: AppServices) -> TokenOut:
    """Exchange a username and password for an access token."""
    return _token_out(services, await services.accounts.log_in(form.username, form.password))


@router.get("/me", tags=["auth"])
async def me(user: CurrentUser) -> UserRecord:
    """The user the token belongs to."""
    return user


# ---------------------------------------------------------------------- communities


@router.get("/communities", tags=["communities"])
async def my_communities(user: CurrentUser, services: AppServices) -> list[CommunityRecord]:
    """The communities the user is a member of."""
    return await services.communities.of_user(user.id)


@router.get("/communities/all", tags=["communities"])
async def all_communities(
    user: CurrentUser,
    services: AppServices,
    after: Annotated[
        inputs.Cursor | None, Query(description="Cursor: last id of the previous page")
    ] = None,
    limit: Limit = None,
) -> list[CommunityRecord]:
    """Every community, oldest first, to find one to join."""
    return await services.communities.listing(after=after, limit=limit)


@router.post("/communities", status_code=status.HTTP_201_CREATED, tags=["communities"])
async def create_community(
    form: CommunityCreate, user: CurrentUser, services: AppServices
) -> CommunityRecord:
    """Create a community (with a #general channel); the creator owns it."""
    return await services.communities.create(user.id, form.name, form.description)


@router.get("/communities/{community_id}", tags=["communities"])
async def get_community(
    community_id: Id, user: CurrentUser, services: AppServices
) -> CommunityRecord:
    """One community."""
    return await services.communities.get(community_id)


@router.patch("/communities/{community_id}", tags=["communities"])
async def update_community(
    community_id: Id, form: CommunityUpdate, user: CurrentUser, services: AppServices
) -> CommunityRecord:
    """Rename a community or change its description (owner only)."""
    return await services.communities.update(
        user.id, community_id, name=form.name, description=form.description
    )


@router.post("/communities/{community_id}/join", tags=["communities"])
async def join_community(
    community_id: Id, user: CurrentUser, services: AppServices
) -> MemberRecord:
    """Become a member of a community."""
    return await services.members.join(user.id, community_id)


@router.post(
    "/communities/{community_id}/leave",
    status_code=status.HTTP_204_NO_CONTENT,
    tags=["communities"],
)
async def leave_community(community_id: Id, user: CurrentUser, services: AppServices) -> Response:
    """Leave a community and all its channels (the owner cannot)."""
    await services.members.leave(user.id, community_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/communities/{community_id}/members", tags=["communities"])
async def community_members(
    community_id: Id,
    user: CurrentUser,
    services: AppServices,
    after: Annotated[
        inputs.Cursor | None, Query(description="Cursor: last user_id of the previous page")
    ] = None,
    limit: Limit = None,
) -> list[MemberRecord]:
    """The members of a community (members only), by user id."""
    return await services.members.listing(user.id, community_id, after=after, limit=limit)


@router.delete(
    "/communities/{community_id}/members/{user_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    tags=["communities"],
)
async def remove_member(
    community_id: Id, user_id: Id, user: CurrentUser, services: AppServices
) -> Response:
    """Remove a member (owner only; removing oneself is leaving)."""
    await services.members.remove(community_id, user_id, actor_id=user.id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# ---------------------------------------------------------------------- channels


@router.get("/communities/{community_id}/channels", tags=["channels"])
async def community_channels(
    community_id: Id, user: CurrentUser, services: AppServices
) -> list[ChannelView]:
    """The channels of a community (members only), with whether the user joined each."""
    return await services.channels.of_community(user.id, community_id)


@router.post(
    "/communities/{community_id}/channels",
    status_code=status.HTTP_201_CREATED,
    tags=["channels"],
)
async def create_channel(
    community_id: Id, form: ChannelCreate, user: CurrentUser, services: AppServices
) -> ChannelView:
    """Create a channel (community members only); the creator joins it."""
    channel = await services.channels.create(user.id, community_id, form.name, form.topic)
    return ChannelView.of(channel, joined=True)


@router.get("/channels/{channel_id}", tags=["channels"])
async def get_channel(channel_id: Id, user: CurrentUser, services: AppServices) -> ChannelView:
    """One channel (community members only)."""
    channel = await services.channels.get(user.id, channel_id)
    return ChannelView.of(channel, joined=await services.channels.is_member(user.id, channel_id))


@router.post("/channels/{channel_id}/join", tags=["channels"])
async def join_channel(channel_id: Id, user: CurrentUser, services: AppServices) -> ChannelView:
    """Join a channel of a community one is a member of."""
    return ChannelView.of(await services.channels.join(user.id, channel_id), joined=True)


@router.post(
    "/channels/{channel_id}/leave", status_code=status.HTTP_204_NO_CONTENT, tags=["channels"]
)
async def leave_channel(channel_id: Id, user: CurrentUser, services: AppServices) -> Response:
    """Leave a channel."""
    await services.channels.leave(user.id, channel_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# ---------------------------------------------------------------------- messages


@router.get("/channels/{channel_id}/messages", tags=["messages"])
async def message_history(
    channel_id: Id,
    user: CurrentUser,
    services: AppServices,
    before: Annotated[
        inputs.Cursor | None,
        Query(description="Cursor: only messages with a smaller id (next_before)"),
    ] = None,
    limit: Limit = None,
) -> HistoryPage:
    """A channel's messages, newest first (channel members only)."""
    return await services.messages.history(user.id, channel_id, before=before, limit=limit)


@router.post(
    "/channels/{channel_id}/messages",
    status_code=status.HTTP_201_CREATED,
    tags=["messages"],
    responses={200: {"model": MessageRecord, "description": "Retry: the message already stored"}},
)
async def post_message(
    channel_id: Id,
    form: MessageCreate,
    user: CurrentUser,
    services: AppServices,
    response: Response,
) -> MessageRecord:
    """Post a message (channel members only); idempotent on ``client_id``."""
    posted = await services.messages.post(user.id, channel_id, form.body, form.client_id)
    if not posted.created:
        response.status_code = status.HTTP_200_OK
    return posted.message


@router.get("/messages/{message_id}", tags=["messages"])
async def get_message(message_id: Id, user: CurrentUser, services: AppServices) -> MessageRecord:
    """One message (channel members only)."""
    return await services.messages.get(user.id, message_id)


@router.patch("/messages/{message_id}", tags=["messages"])
async def edit_message(
    message_id: Id, form: MessageEdit, user: CurrentUser, services: AppServices
) -> MessageRecord:
    """Edit one's own message."""
    return await services.messages.edit(user.id, message_id, form.body)


@router.delete("/messages/{message_id}", status_code=status.HTTP_204_NO_CONTENT, tags=["messages"])
async def delete_message(message_id: Id, user: CurrentUser, services: AppServices) -> Response:
    """Delete one's own message."""
    await services.messages.delete(user.id, message_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# ---------------------------------------------------------------------- errors


def install_error_handlers(app: FastAPI) -> None:
    """Turn service errors into JSON HTTP errors.

    ``InvalidInput`` → 422, ``AuthenticationFailed``/``TokenExpired`` → 401 (with a
    ``WWW-Authenticate: Bearer`` header), ``NotFound`` → 404, ``Forbidden`` → 403,
    ``Conflict`` → 409.

    Args:
        app: The app to install them on.
    """

    async def handle(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, CommunityError)  # registered for CommunityError only
        code = next(
            (value for kind, value in _STATUS.items() if isinstance(exc, kind)),
            status.HTTP_400_BAD_REQUEST,
        )
        headers: dict[str, str] = {}
        if isinstance(exc, AuthenticationFailed):
            reason = "token expired" if isinstance(exc, TokenExpired) else "invalid token"
            headers["WWW-Authenticate"] = (
                f'Bearer error="invalid_token", error_description="{reason}"'
            )
        return _AsciiJSONResponse(
            {"detail": exc.message, "code": exc.code}, status_code=code, headers=headers
        )

    async def handle_validation(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)  # registered for it only
        # FastAPI's default handler echoes the offending input back: that can be a password,
        # and a lone surrogate in it made the response itself fail (a 500). Send where and
        # what, not the value, and escape everything outside ASCII.
        errors = [
            {"type": str(e.get("type")), "loc": list(e.get("loc", ())), "msg": str(e.get("msg"))}
            for e in exc.errors()
        ]
        return _AsciiJSONResponse({"detail": errors, "code": "invalid_input"}, status_code=422)

    app.add_exception_handler(CommunityError, handle)
    app.add_exception_handler(RequestValidationError, handle_validation)


class _AsciiJSONResponse(JSONResponse):
    """JSON with every non-ASCII character escaped, so that any str (even one holding a lone
    surrogate taken from a request) can be encoded."""

    def render(self, content: object) -> bytes:
        return json.dumps(content, ensure_ascii=True, separators=(",", ":")).encode("ascii")
