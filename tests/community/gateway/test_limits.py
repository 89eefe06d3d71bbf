"""Per-socket limits: request bucket and typing interval, with their settings."""

from __future__ import annotations

import httpx
from community.app import create_app, get_services
from community.settings import Settings

from community.gateway import GatewayOptions, create_gateway_app, get_gateway
from tests.community.gateway.helpers import Clients, Live, make_user
from tests.helpers.servers import running_uvicorn


async def test_requests_beyond_the_burst_are_rate_limited(gateway_settings: Settings) -> None:
    api = create_app(gateway_settings)
    # A burst of 3 and a refill so slow that no token comes back during the test.
    options = GatewayOptions(request_burst=3, request_rate=1e-6, typing_interval=3600.0)
    app = create_gateway_app(api, options)
    async with running_uvicorn(app, lifespan="on") as server:
        services = get_services(api)
        async with httpx.AsyncClient(base_url=server.http_url) as http:
            live = Live(server.http_url, services, get_gateway(api), http)
            clients = Clients(live)
            try:
                alice = await make_user(services, "limited")
                community = await services.communities.create(alice.id, "Limited")
                general = (await services.channels.of_community(alice.id, community.id))[0]
                tab1 = await clients.community(alice, community.id)
                tab2 = await clients.community(alice, community.id)
                chan = {"channel_id": general.id}
                for number in range(3):
                    await tab1.ok("message:send", {**chan, "body": f"m{number}"})
                refused = await tab1.request("message:send", {**chan, "body": "one too many"})
                assert refused["error"]["code"] == "rate_limited"
                refused = await tab1.request("presence:get", {})
                assert refused["error"]["code"] == "rate_limited"
                # The bucket belongs to the socket: another tab still has its own.
                await tab2.ok("message:send", {**chan, "body": "from tab 2"})
                page = await services.messages.history(alice.id, general.id)
                assert [m.body for m in page.messages] == ["from tab 2", "m2", "m1", "m0"]

                assert (await tab2.request("typing", chan))["ok"] is True
                refused = await tab2.request("typing", chan)
                assert refused["error"]["code"] == "rate_limited"
                # The socket is still connected and answers.
                await tab1.sync()
                assert tab1.disconnects == []
            finally:
                await clients.close()
