"""Shared Python helpers: parameter validation and numerics used by several areas."""
