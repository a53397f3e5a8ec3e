"""Delivery of public updates to customer channels: the worker, its senders and their limits."""
