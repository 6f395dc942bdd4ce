"""``moodcheck sandbox``: the bot tried in a browser, a patient's phone beside the care team's
group.

The production-built bot (``bot.app.build``) runs against the fake Bot API (``bot.sandbox``)
on SQLite; a small aiohttp page shows the chats live (server-sent events) and drives the
simulated people, the bot's clock (time travel) and scripted scenarios. Nothing reaches
Telegram and the page listens on 127.0.0.1 only.
"""
