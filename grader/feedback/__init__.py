"""Feedback: report records, scoring, reproducers, rendering (text, Markdown, HTML, JSON) and student text made inert."""
