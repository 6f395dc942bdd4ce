"""The transport side: Telegram's HTTP both ways (polling, the webhook, the aiohttp backend),
update processing, the delivery worker and its rate limits, worker slots, and what the bot
does while the database is down. Services never import it: they queue, this sends."""
