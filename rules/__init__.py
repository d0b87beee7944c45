"""The pure rules: booking windows and notice, a coach's daily limit, cohorts, membership, the
refund window, time zones and recurrence. Values in, decisions out (or a domain error from
rules/errors.py): no boto3, no tables, no clock, no I/O, so each is unit-tested without moto
(tests/unit). Layers point one way: handlers -> database -> rules (payments/ and membership/
-> rules too); nothing here imports them."""
