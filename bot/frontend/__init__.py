"""The front-end core every chat front-end shares: who asks, running commands, refusals as data."""
