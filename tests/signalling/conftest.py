"""The signalling tier: the meeting socket protocol against real servers (media off), on both databases."""
