"""Failure search: regions (boxes in the named space), and strategies under one ask/tell
interface sharing one evaluator and one query budget."""
