"""Placeholder: filled by the edge-stage work (issue 3)."""
