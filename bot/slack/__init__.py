"""The Slack front-end: `/incident`, its modals and buttons, and the incident channel."""
