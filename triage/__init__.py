"""Triage: the officers' side of the front door.

The queue service, officer console and REST API, duty alerts, replies to referrers, the
out-of-hours handover and the manager's figures. triage/ reads and writes storage/ and talks
back to people only through the channel-neutral outbox; it never imports a channel.
"""
