"""Benchmarks of ftl-harness; each prints a Markdown table recorded in BENCHMARKS.md."""
