"""Fixtures for the sandbox server's own tests: a fake clock, a started server, a client."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from bot.sandbox.server import FakeBotApi
from tests.sandbox.support import Api, FakeClock


@pytest.fixture(name="clock")
def fx_clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(name="server")
async def fx_server(clock: FakeClock) -> AsyncIterator[FakeBotApi]:
    # The spec comes from the environment, so CI runs these against the real spec file.
    server = FakeBotApi(clock=clock)
    await server.start()
    yield server
    await server.stop()


@pytest.fixture(name="api")
async def fx_api(server: FakeBotApi) -> AsyncIterator[Api]:
    async with aiohttp.ClientSession() as session:
        yield Api(session, server)
