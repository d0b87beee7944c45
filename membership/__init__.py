"""Membership of the club (contract v3, "Membership"): the club's shop says who holds an active
subscription. settings.py (standard library only) tells whether this stage has a shop and what a
free player may book; shop.py is the shop's client (requests, and its key from Secrets Manager);
check.py pairs a shop call with the users table. Only createUser (where there is a shop) and
getUserAccess import shop.py and check.py.
"""
