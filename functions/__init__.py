"""Thin function handlers: parse the trigger, call common/, shape the reply."""
