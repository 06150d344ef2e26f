"""Fake plugins registered per test."""
