"""Club tournaments: the Discord bot's Lichess and Chess.com tournaments, and the bot's MongoDB."""
