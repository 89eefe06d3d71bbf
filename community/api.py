"""REST API of the community application (FastAPI router mounted under ``/api``).

Handlers are thin: they authenticate the bearer token, call the shared
:class:`~community.service.CommunityService` and shape its records into
:mod:`community.schemas` models. Service errors become HTTP errors in
:func:`install_error_handlers`, with a ``{"detail": ..., "code": ...}`` body.
"""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Path, Query, Request, Response, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from community.errors import (
    AuthenticationFailed,
    CommunityError,
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    TokenExpired,
)
from community.records import ChannelRecord, IssuedToken, UserRecord
from community.schemas import (
    ChannelCreate,
    ChannelOut,
    CommunityCreate,
    CommunityOut,
    CommunityUpdate,
    ErrorOut,
    HealthOut,
    HistoryOut,
    LogIn,
    MemberOut,
    MessageCreate,
    MessageEdit,
    MessageOut,
    SignUp,
    TokenOut,
    UserOut,
)
from community.service import MAX_ID, CommunityService

__all__ = ["get_service", "install_error_handlers", "router"]

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


def get_service(app: FastAPI) -> CommunityService:
    """Return the service of an app made by :func:`community.app.create_app`.

    Args:
        app: The FastAPI app.

    Returns:
        Its service (the one the socket gateway should call and subscribe to).

    Raises:
        RuntimeError: The app was not made by ``create_app``.
    """
    service = getattr(app.state, "community_service", None)
    if not isinstance(service, CommunityService):
        raise RuntimeError("this app has no community service; build it with create_app()")
    return service


def _service(request: Request) -> CommunityService:
    return get_service(request.app)


_bearer = HTTPBearer(auto_error=False, description="Access token from /api/auth/login")

Service = Annotated[CommunityService, Depends(_service)]


async def _current_user(
    service: Service,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> UserRecord:
    if credentials is None:
        raise AuthenticationFailed("missing bearer token")
    return await service.authenticate_token(credentials.credentials)


CurrentUser = Annotated[UserRecord, Depends(_current_user)]
Id = Annotated[int, Path(ge=1, le=MAX_ID)]
Limit = Annotated[
    int | None,
    Query(ge=1, description="Page size; the maximum is a server setting (Limits)"),
]


router = APIRouter(responses=_ERRORS)


def _token_out(user: UserRecord, token: IssuedToken) -> TokenOut:
    return TokenOut(
        access_token=token.token,
        expires_at=token.expires_at,
        user=UserOut.model_validate(user),
    )


def _channel_out(channel: ChannelRecord, joined: bool) -> ChannelOut:
    return ChannelOut(
        id=channel.id,
        community_id=channel.community_id,
        name=channel.name,
        topic=channel.topic,
        created_by=channel.created_by,
        created_at=channel.created_at,
        joined=joined,
    )


@router.get("/health", tags=["meta"])
async def health() -> HealthOut:
    """Liveness check (no authentication, no database)."""
    return HealthOut(status="ok")


# ---------------------------------------------------------------------- auth


@router.post("/auth/signup", status_code=status.HTTP_201_CREATED, tags=["auth"])
async def sign_up(form: SignUp, service: Service) -> TokenOut:
    """Create an account and return an access token for it."""
    user = await service.sign_up(form.username, form.password, form.display_name)
    return _token_out(user, service.issue_token(user.id))


@router.post("/auth/login", tags=["auth"])
async def log_in(form: LogIn, service: Service) -> TokenOut:
    """Exchange a username and password for an access token."""
    user = await service.log_in(form.username, form.password)
    return _token_out(user, service.issue_token(user.id))


@router.get("/me", tags=["auth"])
async def me(user: CurrentUser) -> UserOut:
    """The user the token belongs to."""
    return UserOut.model_validate(user)


# ---------------------------------------------------------------------- communities


@router.get("/communities", tags=["communities"])
async def my_communities(user: CurrentUser, service: Service) -> list[CommunityOut]:
    """The communities the user is a member of."""
    found = await service.list_user_communities(user.id)
    return [CommunityOut.model_validate(c) for c in found]


@router.get("/communities/all", tags=["communities"])
async def all_communities(
    user: CurrentUser,
    service: Service,
    after: Annotated[int | None, Query(description="Cursor: last id of the previous page")] = None,
    limit: Limit = None,
) -> list[CommunityOut]:
    """Every community, oldest first, to find one to join."""
    found = await service.list_communities(after=after, limit=limit)
    return [CommunityOut.model_validate(c) for c in found]


@router.post("/communities", status_code=status.HTTP_201_CREATED, tags=["communities"])
async def create_community(
    form: CommunityCreate, user: CurrentUser, service: Service
) -> CommunityOut:
    """Create a community (with a #general channel); the creator owns it."""
    community = await service.create_community(user.id, form.name, form.description)
    return CommunityOut.model_validate(community)


@router.get("/communities/{community_id}", tags=["communities"])
async def get_community(community_id: Id, user: CurrentUser, service: Service) -> CommunityOut:
    """One community."""
    return CommunityOut.model_validate(await service.get_community(community_id))


@router.patch("/communities/{community_id}", tags=["communities"])
async def update_community(
    community_id: Id, form: CommunityUpdate, user: CurrentUser, service: Service
) -> CommunityOut:
    """Rename a community or change its description (owner only)."""
    community = await service.update_community(
        user.id, community_id, name=form.name, description=form.description
    )
    return CommunityOut.model_validate(community)


@router.post("/communities/{community_id}/join", tags=["communities"])
async def join_community(community_id: Id, user: CurrentUser, service: Service) -> MemberOut:
    """Become a member of a community."""
    return MemberOut.model_validate(await service.join_community(user.id, community_id))


@router.post(
    "/communities/{community_id}/leave",
    status_code=status.HTTP_204_NO_CONTENT,
    tags=["communities"],
)
async def leave_community(community_id: Id, user: CurrentUser, service: Service) -> Response:
    """Leave a community and all its channels (the owner cannot)."""
    await service.leave_community(user.id, community_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/communities/{community_id}/members", tags=["communities"])
async def community_members(
    community_id: Id,
    user: CurrentUser,
    service: Service,
    after: Annotated[int | None, Query(description="Cursor: last user_id of the previous page")] = (
        None
    ),
    limit: Limit = None,
) -> list[MemberOut]:
    """The members of a community (members only), by user id."""
    members = await service.list_members(user.id, community_id, after=after, limit=limit)
    return [MemberOut.model_validate(m) for m in members]


@router.delete(
    "/communities/{community_id}/members/{user_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    tags=["communities"],
)
async def remove_member(
    community_id: Id, user_id: Id, user: CurrentUser, service: Service
) -> Response:
    """Remove a member (owner only; removing oneself is leaving)."""
    await service.remove_member(community_id, user_id, actor_id=user.id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# ---------------------------------------------------------------------- channels


@router.get("/communities/{community_id}/channels", tags=["channels"])
async def community_channels(
    community_id: Id, user: CurrentUser, service: Service
) -> list[ChannelOut]:
    """The channels of a community (members only), with whether the user joined each."""
    channels = await service.list_community_channels(user.id, community_id)
    joined = {c.id for c in await service.list_user_channels(user.id, community_id)}
    return [_channel_out(c, c.id in joined) for c in channels]


@router.post(
    "/communities/{community_id}/channels",
    status_code=status.HTTP_201_CREATED,
    tags=["channels"],
)
async def create_channel(
    community_id: Id, form: ChannelCreate, user: CurrentUser, service: Service
) -> ChannelOut:
    """Create a channel (community members only); the creator joins it."""
    channel = await service.create_channel(user.id, community_id, form.name, form.topic)
    return _channel_out(channel, True)


@router.get("/channels/{channel_id}", tags=["channels"])
async def get_channel(channel_id: Id, user: CurrentUser, service: Service) -> ChannelOut:
    """One channel (community members only)."""
    channel = await service.get_channel(user.id, channel_id)
    return _channel_out(channel, await service.is_channel_member(user.id, channel_id))


@router.post("/channels/{channel_id}/join", tags=["channels"])
async def join_channel(channel_id: Id, user: CurrentUser, service: Service) -> ChannelOut:
    """Join a channel of a community one is a member of."""
    return _channel_out(await service.join_channel(user.id, channel_id), True)


@router.post(
    "/channels/{channel_id}/leave", status_code=status.HTTP_204_NO_CONTENT, tags=["channels"]
)
async def leave_channel(channel_id: Id, user: CurrentUser, service: Service) -> Response:
    """Leave a channel."""
    await service.leave_channel(user.id, channel_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# ---------------------------------------------------------------------- messages


@router.get("/channels/{channel_id}/messages", tags=["messages"])
async def message_history(
    channel_id: Id,
    user: CurrentUser,
    service: Service,
    before: Annotated[
        int | None, Query(description="Cursor: only messages with a smaller id (next_before)")
    ] = None,
    limit: Limit = None,
) -> HistoryOut:
    """A channel's messages, newest first (channel members only)."""
    page = await service.message_history(user.id, channel_id, before=before, limit=limit)
    return HistoryOut(
        messages=[MessageOut.model_validate(m) for m in page.messages],
        next_before=page.next_before,
    )


@router.post(
    "/channels/{channel_id}/messages",
    status_code=status.HTTP_201_CREATED,
    tags=["messages"],
    responses={200: {"model": MessageOut, "description": "Retry: the message already stored"}},
)
async def post_message(
    channel_id: Id, form: MessageCreate, user: CurrentUser, service: Service, response: Response
) -> MessageOut:
    """Post a message (channel members only); idempotent on ``client_id``."""
    posted = await service.create_message(user.id, channel_id, form.body, form.client_id)
    if not posted.created:
        response.status_code = status.HTTP_200_OK
    return MessageOut.model_validate(posted.message)


@router.get("/messages/{message_id}", tags=["messages"])
async def get_message(message_id: Id, user: CurrentUser, service: Service) -> MessageOut:
    """One message (channel members only)."""
    return MessageOut.model_validate(await service.get_message(user.id, message_id))


@router.patch("/messages/{message_id}", tags=["messages"])
async def edit_message(
    message_id: Id, form: MessageEdit, user: CurrentUser, service: Service
) -> MessageOut:
    """Edit one's own message."""
    return MessageOut.model_validate(await service.edit_message(user.id, message_id, form.body))


@router.delete("/messages/{message_id}", status_code=status.HTTP_204_NO_CONTENT, tags=["messages"])
async def delete_message(message_id: Id, user: CurrentUser, service: Service) -> Response:
    """Delete one's own message."""
    await service.delete_message(user.id, message_id)
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
