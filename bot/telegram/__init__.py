"""The Telegram front-end: engineers and managers command Herald from an ops group or in private."""
