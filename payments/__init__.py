"""Paid coaching sessions on Stripe (docs/payments.md): settings, the Stripe client, and the
steps that pair a Stripe call with the tables. Only the functions that talk to Stripe import
the modules that load `stripe`; `payments.settings` is standard library only.
"""
