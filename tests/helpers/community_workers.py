"""The community app on ``plexio.run(..., workers=N)``, for the cluster tests of the gateway.

``python -m tests.helpers.community_workers DATABASE_URL REDIS_URL WORKERS`` serves the app
(the test settings: known secret, cheap password hashing; no demo data) with N uvicorn
workers sharing the Redis adapter, and prints ``{"port": N}`` once every worker listens.
The database must be migrated already (the caller does it once).
"""

from __future__ import annotations

import json
import sys

from community.app import create_app
from community.settings import Settings

import plexio
from community.gateway import GatewayOptions, create_gateway_app
from tests.community.helpers import TEST_PASSWORD_COST, TEST_SECRET


def settings(database_url: str) -> Settings:
    """The settings of the tests' community app on ``database_url``."""
    return Settings(database_url=database_url, secret=TEST_SECRET, password_cost=TEST_PASSWORD_COST)


def main() -> None:
    database_url, redis_url, workers = sys.argv[1], sys.argv[2], int(sys.argv[3])
    api = create_app(settings(database_url))
    app = create_gateway_app(api, GatewayOptions(redis_url=redis_url))

    def ready(port: int) -> None:
        print(json.dumps({"port": port}), flush=True)

    plexio.run(app, port=0, server="uvicorn", workers=workers, ready=ready, log_level="warning")


if __name__ == "__main__":
    main()
